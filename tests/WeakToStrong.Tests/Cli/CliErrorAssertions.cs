using WeakToStrong;
using System.Security.Cryptography;

namespace WeakToStrong.Tests.Cli;

/// <summary>
/// What every refused command line must show (issue 13): the documented exit code, exactly one line on stderr
/// starting "wts: error: ", no stack trace, and every file that was there before unchanged (no .tmp left behind).
/// Shared by the bad-input tables of every part of the CLI.
/// </summary>
internal static class CliErrorAssertions
{
    /// <summary>The exit codes README.md documents.</summary>
    public const int BadInput = 2, Environment = 3, Bug = 70;

    /// <summary>
    /// SHA-256 of every file under <paramref name="directory"/> (recursively), keyed by relative path; a symbolic
    /// link counts as its target's name (a link to /dev/full must not be read). Writer lock files are left out: a
    /// writer that takes the lock and then refuses writes its pid there.
    /// </summary>
    public static Dictionary<string, string> Snapshot(string directory)
    {
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(directory)) return hashes;
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            if (WriterLock.IsLockFile(Path.GetFileName(file))) continue;
            if (new FileInfo(file).LinkTarget is string target)
            {
                hashes[Path.GetRelativePath(directory, file)] = "link to " + target;
                continue;
            }
            using var stream = File.OpenRead(file);
            hashes[Path.GetRelativePath(directory, file)] = Convert.ToHexString(SHA256.HashData(stream));
        }
        return hashes;
    }

    /// <summary>
    /// Exit code as expected, one "wts: error: " line on stderr and no stack trace. A refusal before any work
    /// prints only that line; with <paramref name="afterProgress"/> (a fault met mid-work) progress lines may come
    /// before it, but it is still the only error line and the last.
    /// </summary>
    public static void AssertOneErrorLine(Wts.Result run, int exitCode, bool afterProgress = false)
    {
        string context = $"exit {run.ExitCode}, stderr:\n{run.Stderr}";
        Assert.True(run.ExitCode == exitCode, $"expected exit code {exitCode}; {context}");
        var lines = run.Stderr.TrimEnd('\n').Split('\n');
        Assert.True(afterProgress || lines.Length == 1, $"expected exactly one line on stderr; {context}");
        Assert.True(lines.Count(l => l.StartsWith("wts: error: ", StringComparison.Ordinal)) == 1, $"expected exactly one error line; {context}");
        Assert.True(lines[^1].StartsWith("wts: error: ", StringComparison.Ordinal), $"expected \"wts: error: \" last; {context}");
        Assert.True(lines[^1].Length > "wts: error: ".Length + 10, $"expected a message saying what was wrong; {context}");
        Assert.DoesNotContain("   at ", run.Stderr);
        if (exitCode != Bug) Assert.DoesNotContain("Exception", run.Stderr);
    }

    /// <summary>Every file of <paramref name="before"/> is still there with the same content, and no temporary file (.tmp, a model's .saving-…) appeared.</summary>
    public static void AssertUnchanged(Dictionary<string, string> before, string directory)
    {
        var after = Snapshot(directory);
        foreach (var (file, hash) in before)
        {
            Assert.True(after.TryGetValue(file, out var now), $"{file} was removed");
            Assert.True(now == hash, $"{file} was changed");
        }
        var leftovers = after.Keys.Where(f => !before.ContainsKey(f) && (f.Contains(".tmp", StringComparison.Ordinal) || f.Contains(".saving-", StringComparison.Ordinal))).ToList();
        Assert.True(leftovers.Count == 0, $"temporary files left behind: {string.Join(", ", leftovers)}");
    }

    /// <summary>
    /// Runs wts with <paramref name="args"/> and asserts it is refused with <paramref name="exitCode"/> in one line,
    /// leaving every file under <paramref name="directory"/> as it was. Returns the run for further checks on the message.
    /// </summary>
    public static Wts.Result AssertRefused(string directory, int exitCode, params string[] args) =>
        AssertRefused(directory, exitCode, null, false, args);

    /// <param name="afterProgress">the fault is met mid-work: progress lines may precede the error line</param>
    public static Wts.Result AssertRefused(string directory, int exitCode, IReadOnlyDictionary<string, string>? environment, bool afterProgress, params string[] args)
    {
        var before = Snapshot(directory);
        var run = Wts.RunWith(environment, args);
        AssertOneErrorLine(run, exitCode, afterProgress);
        AssertUnchanged(before, directory);
        return run;
    }

    /// <summary>
    /// A folder in which no file can be created: a temporary folder made read-only, or, for root (who may write
    /// anywhere the mode bits say not to), /sys, where the kernel refuses new files to everyone.
    /// </summary>
    public static string ReadOnlyFolder(string parent)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("read-only folders are made with Unix modes");
        if (System.Environment.UserName == "root") return "/sys";
        string folder = Path.Combine(parent, "read-only");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        return folder;
    }
}
