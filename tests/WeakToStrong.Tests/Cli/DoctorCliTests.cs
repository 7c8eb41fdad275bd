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
        foreach (string check in new[] { "system", "threads", "device", "forward", "parity", "cbs", "memory" })
            Assert.Contains(lines, l => l.StartsWith($"ok    {check}: ", StringComparison.Ordinal));
        Assert.Contains($"dtype {dtype}", run.Stdout);
        Assert.DoesNotContain("FAIL", run.Stdout);
        Assert.Equal("all checks passed", lines[^1]);
    }

    /// <summary>
    /// wts shortens OpenMP's spinning between ops (NativeThreads) in the native environment libgomp reads, unless the user
    /// chose a spin count or a wait policy; `wts doctor` says which is in force. An empty variable counts as unset.
    /// </summary>
    [Theory]
    [InlineData("", "", "GOMP_SPINCOUNT=10000 (wts's default)")]
    [InlineData("250", "", "GOMP_SPINCOUNT=250 (from the environment)")]
    [InlineData("", "PASSIVE", "OMP_WAIT_POLICY=PASSIVE (from the environment)")]
    public void DoctorSaysHowOpenMpWaits(string spinCount, string waitPolicy, string expected)
    {
        var run = Wts.RunWith(new Dictionary<string, string> { ["GOMP_SPINCOUNT"] = spinCount, ["OMP_WAIT_POLICY"] = waitPolicy }, "doctor");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains($"torch threads; between ops, OpenMP: {expected}\n", run.Stdout);
    }
}
