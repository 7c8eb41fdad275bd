using System.Diagnostics;

namespace WeakToStrong.Tests.Cli;

/// <summary>Runs the built `wts` command (copied beside the tests) as a user would: a separate process, real exit code.</summary>
internal static class Wts
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "wts.dll");
        if (!File.Exists(dll)) throw new InvalidOperationException($"{dll} is missing; the test project must reference the CLI project");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryPaths.Root,
        };
        // Model fingerprints' hash cache: the tests' own, not the user's ~/.cache/weak-to-strong.
        start.Environment["WTS_CACHE_DIR"] = Path.Combine(Path.GetTempPath(), "wts-tests-cache");
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"wts {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new Result(process.ExitCode, stdout, stderr.Result);
    }
}
