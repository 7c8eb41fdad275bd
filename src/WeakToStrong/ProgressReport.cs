namespace WeakToStrong;

/// <summary>
/// What long work (a zoo build, a run) reports as it goes: messages, and stages one after another (a model trained,
/// a dataset generated, an evaluation, a cell of a run) counted in units (steps, documents, prompts). The library
/// only reports; the CLI draws progress bars on a terminal and plain lines in a log.
/// </summary>
public interface IProgressReport
{
    void Message(string text);

    /// <summary>A stage of <paramref name="total"/> <paramref name="unit"/> begins, <paramref name="done"/> of them already done (a resumed run).</summary>
    void StageStarted(string name, long total, string unit, long done = 0);

    /// <summary>The current stage has done <paramref name="done"/> units in all: never fewer than it said before, never more than its total.</summary>
    void StageAdvanced(long done);

    void StageFinished();
}

public static class ProgressReport
{
    /// <summary>Reports nothing (tests, library callers that do not show progress).</summary>
    public static readonly IProgressReport Silent = new SilentReport();

    /// <summary>Runs <paramref name="body"/> as a stage of <paramref name="total"/> units; it reports units done through the callback it is given.</summary>
    public static T Stage<T>(this IProgressReport progress, string name, long total, string unit, Func<Action<long>, T> body)
    {
        progress.StageStarted(name, total, unit);
        var result = body(progress.StageAdvanced);
        progress.StageFinished();
        return result;
    }

    sealed class SilentReport : IProgressReport
    {
        public void Message(string text) { }
        public void StageStarted(string name, long total, string unit, long done = 0) { }
        public void StageAdvanced(long done) { }
        public void StageFinished() { }
    }
}
