using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace WeakToStrong.Cli.Commands;

/// <summary>
/// Draws an <see cref="IProgressReport"/> on stderr: on a terminal, Spectre.Console's live progress (a bar for each running
/// stage with its rate and time left; each finished stage becomes a line above them); anywhere else (a log file, a pipe, CI)
/// plain lines without escape codes: one when a stage starts, one at most every <see cref="PlainLines.Interval"/> while it
/// runs, one when it finishes, each with its rate and time left.
/// </summary>
internal static class ProgressDisplay
{
    static readonly IAnsiConsole Error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>Live bars need a terminal that understands them; a redirected stderr, TERM=dumb or CI gets plain lines.</summary>
    static bool Live => !Console.IsErrorRedirected && Error.Profile.Capabilities is { Interactive: true, Ansi: true };

    public static T Run<T>(Func<IProgressReport, T> body)
    {
        if (!Live) return body(new PlainLines(Console.Error));
        T result = default!;
        Error.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RateColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context => result = body(new Bars(context)));
        return result;
    }

    /// <summary>The stage's units per second (its unit is the task's tag), as Spectre measures it over the last samples.</summary>
    sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double speed ? $"{Rate(speed)} {task.Tag}/s" : "", Style.Plain);
    }

    sealed class Bars(ProgressContext context) : IProgressReport
    {
        readonly Func<TimeSpan> clock = StartClock();
        readonly Lock writing = new();

        public void Message(string text)
        {
            lock (writing) Error.WriteLine(text, Style.Plain);
        }

        public IProgressStage StageStarted(string name, long total, string unit, long done = 0)
        {
            var task = context.AddTask(Markup.Escape(name), new ProgressTaskSettings { AutoStart = false, MaxValue = Math.Max(1, total) });
            task.Tag = unit;
            task.Value = done;
            task.StartTask();
            return new Bar(this, task, new Stage(name, total, unit, done, clock));
        }

        void Finish(ProgressTask task, Stage stage)
        {
            context.RemoveTask(task);
            Message(stage.Finished());
        }

        sealed class Bar(Bars bars, ProgressTask task, Stage stage) : IProgressStage
        {
            bool finished;

            public void Advanced(long done)
            {
                stage.Advance(done);
                task.Value = done;
            }

            public void Dispose()
            {
                if (finished) return;
                finished = true;
                task.StopTask();
                bars.Finish(task, stage);
            }
        }
    }

    /// <summary>Lines for logs: a stage's start, its progress every <see cref="Interval"/> at most, and its end.</summary>
    internal sealed class PlainLines(TextWriter output, Func<TimeSpan>? clock = null) : IProgressReport
    {
        public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
        readonly Func<TimeSpan> now = clock ?? StartClock();
        readonly Lock writing = new();

        public void Message(string text)
        {
            lock (writing) output.WriteLine(text);
        }

        public IProgressStage StageStarted(string name, long total, string unit, long done = 0)
        {
            var stage = new Stage(name, total, unit, done, now);
            Message(stage.Started());
            return new Lines(this, stage);
        }

        sealed class Lines(PlainLines plain, Stage stage) : IProgressStage
        {
            TimeSpan lastLine = plain.now();
            bool finished;

            public void Advanced(long done)
            {
                stage.Advance(done);
                if (plain.now() - lastLine < Interval || done >= stage.Total) return;
                lastLine = plain.now();
                plain.Message(stage.Running());
            }

            public void Dispose()
            {
                if (finished) return;
                finished = true;
                plain.Message(stage.Finished());
            }
        }
    }

    /// <summary>One stage's counts and clock, and the words for it.</summary>
    sealed class Stage(string name, long total, string unit, long alreadyDone, Func<TimeSpan> now)
    {
        readonly TimeSpan started = now();
        readonly long startDone = alreadyDone;
        long done = alreadyDone;

        public long Total => total;

        public void Advance(long count) => done = count;

        TimeSpan Elapsed => now() - started;

        /// <summary>Units per second since the stage started (units already done when it started do not count).</summary>
        double? Speed => Elapsed.TotalSeconds > 0 && done > startDone ? (done - startDone) / Elapsed.TotalSeconds : null;

        public string Started() => startDone > 0 ? $"{name}: started, {startDone}/{total} {unit} already done" : $"{name}: started, {total} {unit}";

        public string Running() => FormattableString.Invariant(
            $"{name}: {done}/{total} {unit} ({100.0 * done / Math.Max(1, total):F0}%), {Rate(Speed)} {unit}/s, {Duration(Elapsed)} elapsed, about {Duration(Speed is double s ? TimeSpan.FromSeconds((total - done) / s) : null)} left");

        public string Finished() => FormattableString.Invariant(
            $"{name}: {done}/{total} {unit} in {Elapsed.TotalSeconds:F1} s, {Rate(Speed)} {unit}/s");
    }

    static Func<TimeSpan> StartClock()
    {
        var watch = Stopwatch.StartNew();
        return () => watch.Elapsed;
    }

    static string Rate(double? perSecond) => perSecond switch
    {
        null => "?",
        >= 100 => perSecond.Value.ToString("F0", CultureInfo.InvariantCulture),
        >= 1 => perSecond.Value.ToString("F1", CultureInfo.InvariantCulture),
        _ => perSecond.Value.ToString("F2", CultureInfo.InvariantCulture),
    };

    static string Duration(TimeSpan? span) => span switch
    {
        null => "?",
        { TotalHours: >= 1 } s => s.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture),
        var s => s.Value.ToString(@"m\:ss", CultureInfo.InvariantCulture),
    };
}
