using Commands = WeakToStrong.Cli.Commands;

namespace WeakToStrong.Tests.Cli;

/// <summary>Cli.Report, the one place an exception becomes a line and an exit code, for the exceptions no command line provokes on purpose.</summary>
public class ErrorReportTests
{
    static (int Code, string Text) Report(Exception e)
    {
        var error = new StringWriter();
        int code = Commands.Cli.Report(e, error);
        return (code, error.ToString());
    }

    [Fact]
    public void AnUnexpectedExceptionIsABugThatSaysHowToGetItsTrace()
    {
        var (code, text) = Report(new NullReferenceException("Object reference not set to an instance of an object.\nsecond line"));

        Assert.Equal(70, code);
        Assert.Equal("wts: error: this is a bug in wts: System.NullReferenceException: Object reference not set to an instance of an object. " +
            "(run again with --verbose or WTS_VERBOSE=1 for the stack trace, and report it)\n", text);
    }

    [Fact]
    public void EnvironmentFailuresAreExitCode3InOneLine()
    {
        Assert.Equal((3, "wts: error: I/O failure: No space left on device : '/x'\n"), Report(new IOException("No space left on device : '/x'")));
        Assert.Equal((3, "wts: error: permission denied: Access to the path '/x' is denied.\n"), Report(new UnauthorizedAccessException("Access to the path '/x' is denied.")));
        Assert.Equal((3, "wts: error: --out: cannot write /x\n"), Report(new EnvironmentFailureException("--out: cannot write /x")));
        Assert.Equal((3, "wts: error: out of memory: CUDA out of memory. Tried to allocate 2 GiB\n"),
            Report(new System.Runtime.InteropServices.ExternalException("CUDA out of memory. Tried to allocate 2 GiB\nException raised from malloc at c10/cuda/CUDACachingAllocator.cpp")));
    }

    [Fact]
    public void BadInputIsExitCode2AndWrappersAreSeenThrough()
    {
        Assert.Equal((2, "wts: error: --n must be ≥ 1\n"), Report(new InvalidInputException("--n must be ≥ 1")));
        Assert.Equal((2, "wts: error: --n must be ≥ 1\n"), Report(new AggregateException(new InvalidInputException("--n must be ≥ 1"))));
    }
}
