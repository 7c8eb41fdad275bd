using WeakToStrong.Cli.Commands;

namespace WeakToStrong.Tests.Cli;

/// <summary>The plain-line progress a log file gets: a line per stage start and end, one every 10 s at most between, no escape codes.</summary>
public class ProgressDisplayTests
{
    [Fact]
    public void PlainLinesSayStartProgressAtMostEveryTenSecondsAndEndWithRateAndTimeLeft()
    {
        var now = TimeSpan.Zero;
        var output = new StringWriter();
        IProgressReport progress = new ProgressDisplay.PlainLines(output, () => now);

        progress.Message("sentiment: training a tokenizer");
        using (var stage = progress.StageStarted("sentiment: pretraining base-small", 100, "steps"))
            for (int step = 1; step <= 100; step++)
            {
                now += TimeSpan.FromSeconds(0.5); // 2 steps/s: 50 s in all
                stage.Advanced(step);
            }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("sentiment: training a tokenizer", lines[0]);
        Assert.Equal("sentiment: pretraining base-small: started, 100 steps", lines[1]);
        // Every 10 s: at 10, 20, 30 and 40 s, not at the last step (the end line says it).
        Assert.Equal([
            "sentiment: pretraining base-small: 20/100 steps (20%), 2.0 steps/s, 0:10 elapsed, about 0:40 left",
            "sentiment: pretraining base-small: 40/100 steps (40%), 2.0 steps/s, 0:20 elapsed, about 0:30 left",
            "sentiment: pretraining base-small: 60/100 steps (60%), 2.0 steps/s, 0:30 elapsed, about 0:20 left",
            "sentiment: pretraining base-small: 80/100 steps (80%), 2.0 steps/s, 0:40 elapsed, about 0:10 left"], lines[2..6]);
        Assert.Equal("sentiment: pretraining base-small: 100/100 steps in 50.0 s, 2.0 steps/s", lines[6]);
        Assert.Equal(7, lines.Length);
        Assert.DoesNotContain('\u001b', output.ToString());
    }

    [Fact]
    public void AResumedStageCountsItsRateFromWhatItDoesItself()
    {
        var now = TimeSpan.Zero;
        var output = new StringWriter();
        IProgressReport progress = new ProgressDisplay.PlainLines(output, () => now);

        using (var stage = progress.StageStarted("[3/14] base-small CBS seed 0", 100, "prompts", done: 60))
        {
            now += TimeSpan.FromSeconds(20);
            stage.Advanced(100);
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["[3/14] base-small CBS seed 0: started, 60/100 prompts already done", "[3/14] base-small CBS seed 0: 100/100 prompts in 20.0 s, 2.0 prompts/s"], lines);
    }

    [Fact]
    public void StagesSideBySideEachKeepTheirOwnCountsAndClocks()
    {
        var now = TimeSpan.Zero;
        var output = new StringWriter();
        IProgressReport progress = new ProgressDisplay.PlainLines(output, () => now);

        var large = progress.StageStarted("sentiment: pretraining base-large", 100, "steps");
        now += TimeSpan.FromSeconds(4);
        using (var gold = progress.StageStarted("sentiment: training gold", 10, "steps"))
        {
            now += TimeSpan.FromSeconds(6);
            large.Advanced(30);
            gold.Advanced(10);
        }
        now += TimeSpan.FromSeconds(10);
        large.Advanced(100);
        large.Dispose();

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([
            "sentiment: pretraining base-large: started, 100 steps",
            "sentiment: training gold: started, 10 steps",
            "sentiment: pretraining base-large: 30/100 steps (30%), 3.0 steps/s, 0:10 elapsed, about 0:23 left",
            "sentiment: training gold: 10/10 steps in 6.0 s, 1.7 steps/s",
            "sentiment: pretraining base-large: 100/100 steps in 20.0 s, 5.0 steps/s"], lines);
    }
}
