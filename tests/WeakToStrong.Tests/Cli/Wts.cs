using System.Diagnostics;

namespace WeakToStrong.Tests.Cli;

/// <summary>Runs the built `wts` command (copied beside the tests) as a user would: a separate process, real exit code.</summary>
internal static class Wts
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunWith(null, args);

    /// <summary>Runs wts with its standard output sent to <paramref name="stdout"/> (e.g. /dev/full) through /bin/sh.</summary>
    public static Result RunWithStdoutTo(string stdout, params string[] args) =>
        RunWith(null, ["-c", "exec \"$0\" \"$@\" > \"$WTS_TEST_STDOUT\"", Host, Dll, .. args], shell: true, stdoutPath: stdout);

    /// <param name="environment">variables set for this run only (WTS_VERBOSE, ...); null for none</param>
    public static Result RunWith(IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        RunWith(environment, [Dll, .. args], shell: false, stdoutPath: null);

    internal static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    internal static string Dll
    {
        get
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "wts.dll");
            if (!File.Exists(dll)) throw new InvalidOperationException($"{dll} is missing; the test project must reference the CLI project");
            return dll;
        }
    }

    static Result RunWith(IReadOnlyDictionary<string, string>? environment, string[] args, bool shell, string? stdoutPath)
    {
        var start = new ProcessStartInfo(shell ? "/bin/sh" : Host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryPaths.Root,
        };
        // Model fingerprints' hash cache: the tests' own, not the user's ~/.cache/weak-to-strong.
        start.Environment["WTS_CACHE_DIR"] = Path.Combine(Path.GetTempPath(), "wts-tests-cache");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        if (stdoutPath is not null) start.Environment["WTS_TEST_STDOUT"] = stdoutPath;
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new Result(process.ExitCode, output, stderr.Result);
    }
}
