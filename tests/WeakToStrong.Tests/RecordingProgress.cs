namespace WeakToStrong.Tests;

/// <summary>An <see cref="IProgressReport"/> that keeps what it hears, and checks that it is well formed.</summary>
internal sealed class RecordingProgress : IProgressReport
{
    public sealed record StageRecord(string Name, long Total, string Unit, long StartDone)
    {
        public List<long> Done { get; } = [];
        public bool Finished { get; set; }
    }

    public List<StageRecord> Stages { get; } = [];
    public List<string> Messages { get; } = [];
    StageRecord? current;

    public void Message(string text) => Messages.Add(text);

    public void StageStarted(string name, long total, string unit, long done = 0)
    {
        Assert.Null(current); // stages do not nest
        Stages.Add(current = new StageRecord(name, total, unit, done));
    }

    public void StageAdvanced(long done)
    {
        Assert.NotNull(current);
        current.Done.Add(done);
    }

    public void StageFinished()
    {
        Assert.NotNull(current);
        current.Finished = true;
        current = null;
    }

    /// <summary>Every stage finished, its counts rising from where it started to its total and never past it.</summary>
    public void AssertMonotoneAndComplete()
    {
        Assert.Null(current);
        Assert.NotEmpty(Stages);
        Assert.All(Stages, stage =>
        {
            Assert.True(stage.Finished, stage.Name);
            Assert.True(stage.Total > 0, stage.Name);
            long previous = stage.StartDone;
            foreach (long done in stage.Done)
            {
                Assert.True(done >= previous && done <= stage.Total, $"{stage.Name}: {done} after {previous} of {stage.Total}");
                previous = done;
            }
            Assert.Equal(stage.Total, previous);
        });
    }
}
