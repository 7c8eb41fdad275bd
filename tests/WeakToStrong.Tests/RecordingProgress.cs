namespace WeakToStrong.Tests;

/// <summary>An <see cref="IProgressReport"/> that keeps what it hears (from any thread), and checks that it is well formed.</summary>
internal sealed class RecordingProgress : IProgressReport
{
    public sealed record StageRecord(string Name, long Total, string Unit, long StartDone) : IProgressStage
    {
        public List<long> Done { get; } = [];
        public bool Finished { get; private set; }

        public void Advanced(long done)
        {
            Assert.False(Finished, Name);
            Done.Add(done);
        }

        public void Dispose() => Finished = true;
    }

    readonly Lock recording = new();
    public List<StageRecord> Stages { get; } = [];
    public List<string> Messages { get; } = [];

    public void Message(string text)
    {
        lock (recording) Messages.Add(text);
    }

    public IProgressStage StageStarted(string name, long total, string unit, long done = 0)
    {
        var stage = new StageRecord(name, total, unit, done);
        lock (recording) Stages.Add(stage);
        return stage;
    }

    /// <summary>Every stage finished, its counts rising from where it started to its total and never past it.</summary>
    public void AssertMonotoneAndComplete()
    {
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
