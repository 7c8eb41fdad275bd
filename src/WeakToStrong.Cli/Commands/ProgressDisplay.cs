using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace WeakToStrong.Cli.Commands;

/// <summary>
/// Draws an <see cref="IProgressReport"/> on stderr: on a terminal, Spectre.Console's live progress (the current stage's bar
/// with its rate and time left; each finished stage becomes a line above it); anywhere else (a log file, a pipe, CI)
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
        ProgressTask? current;
        Stage? stage;

        public void Message(string text) => Error.WriteLine(text, Style.Plain);

        public void StageStarted(string name, long total, string unit, long done = 0)
        {
            stage = new Stage(name, total, unit, done, clock);
            current = context.AddTask(Markup.Escape(name), new ProgressTaskSettings { AutoStart = false, MaxValue = Math.Max(1, total) });
            current.Tag = unit;
            current.Value = done;
            current.StartTask();
        }

        public void StageAdvanced(long done)
        {
            stage?.Advance(done);
            if (current is not null) current.Value = done;
        }

        public void StageFinished()
        {
            if (current is null || stage is null) return;
            current.StopTask();
            context.RemoveTask(current);
            Error.WriteLine(stage.Finished(), Style.Plain);
            (current, stage) = (null, null);
        }
    }

    /// <summary>Lines for logs: a stage's start, its progress every <see cref="Interval"/> at most, and its end.</summary>
    internal sealed class PlainLines(TextWriter output, Func<TimeSpan>? clock = null) : IProgressReport
    {
        public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
        readonly Func<TimeSpan> now = clock ?? StartClock();
        Stage? stage;
        TimeSpan lastLine;

        public void Message(string text) => output.WriteLine(text);

        public void StageStarted(string name, long total, string unit, long done = 0)
        {
            stage = new Stage(name, total, unit, done, now);
            lastLine = now();
            output.WriteLine(stage.Started());
        }

        public void StageAdvanced(long done)
        {
            if (stage is null) return;
            stage.Advance(done);
            if (now() - lastLine < Interval || done >= stage.Total) return;
            lastLine = now();
            output.WriteLine(stage.Running());
        }

        public void StageFinished()
        {
            if (stage is null) return;
            output.WriteLine(stage.Finished());
            stage = null;
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
