namespace WeakToStrong;

/// <summary>
/// What long work (a zoo build, a run) reports as it goes: messages, and stages (a model trained, a dataset generated,
/// an evaluation, a cell of a run) counted in units (steps, documents, prompts). Stages may run side by side (the zoo
/// trains several models at once), so implementations are safe to call from several threads. The library only
/// reports; the CLI draws progress bars on a terminal and plain lines in a log.
/// </summary>
public interface IProgressReport
{
    void Message(string text);

    /// <summary>A stage of <paramref name="total"/> <paramref name="unit"/> begins, <paramref name="done"/> of them already done (a resumed run); disposing it ends it.</summary>
    IProgressStage StageStarted(string name, long total, string unit, long done = 0);
}

/// <summary>One running stage: its count, and (disposed) its end.</summary>
public interface IProgressStage : IDisposable
{
    /// <summary>The stage has done <paramref name="done"/> units in all: never fewer than it said before, never more than its total.</summary>
    void Advanced(long done);
}

public static class ProgressReport
{
    /// <summary>Reports nothing (tests, library callers that do not show progress).</summary>
    public static readonly IProgressReport Silent = new SilentReport();

    /// <summary>Runs <paramref name="body"/> as a stage of <paramref name="total"/> units; it reports units done through the callback it is given.</summary>
    public static T Stage<T>(this IProgressReport progress, string name, long total, string unit, Func<Action<long>, T> body)
    {
        using var stage = progress.StageStarted(name, total, unit);
        return body(stage.Advanced);
    }

    sealed class SilentReport : IProgressReport, IProgressStage
    {
        public void Message(string text) { }
        public IProgressStage StageStarted(string name, long total, string unit, long done = 0) => this;
        public void Advanced(long done) { }
        public void Dispose() { }
    }
}
