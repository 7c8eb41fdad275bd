namespace WeakToStrong.Tests.Cli;

public class DoctorCliTests
{
    /// <summary>`wts doctor` runs every check on the CPU in each dtype: ok lines, exit code 0.</summary>
    [Theory]
    [InlineData("float32")]
    [InlineData("bfloat16")]
    [InlineData("float16")]
    public void DoctorPassesOnTheCpu(string dtype)
    {
        var run = Wts.Run("doctor", "--device", "cpu", "--dtype", dtype);

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var lines = run.Stdout.TrimEnd('\n').Split('\n');
        foreach (string check in new[] { "system", "device", "forward", "parity", "cbs", "memory" })
            Assert.Contains(lines, l => l.StartsWith($"ok    {check}: ", StringComparison.Ordinal));
        Assert.Contains($"dtype {dtype}", run.Stdout);
        Assert.DoesNotContain("FAIL", run.Stdout);
        Assert.Equal("all checks passed", lines[^1]);
    }
}
