namespace WeakToStrong;

/// <summary>
/// The rules every command that writes follows: an output directory that holds files we did not write is refused
/// unless the user passes <see cref="ForceFlag"/>, and even then no file that exists is ever replaced.
/// </summary>
public static class OutputPaths
{
    /// <summary>The flag that lets a command write beside files that are not its own (never over them).</summary>
    public const string ForceFlag = "--force-into-nonempty";

    /// <summary>The entries of a directory (names only), without our lock files; empty when it does not exist.</summary>
    public static IReadOnlyList<string> Entries(string directory) =>
        Directory.Exists(directory)
            ? Directory.EnumerateFileSystemEntries(directory).Select(p => Path.GetFileName(p)).Where(n => !WriterLock.IsLockFile(n)).Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>Refuses a path that is a file where a directory is expected.</summary>
    public static void RequireDirectoryOrAbsent(string directory, string flag)
    {
        if (File.Exists(directory)) throw new InvalidInputException($"{flag} {directory}: is a file; expected a directory (nothing was written)");
    }

    /// <summary>
    /// Refuses a non-empty directory holding entries that are not <paramref name="ours"/> unless <paramref name="force"/>;
    /// and refuses, always, when a file or directory this command would write (<paramref name="targets"/>, names inside it) exists.
    /// </summary>
    public static void RequireWritable(string directory, string flag, bool force, Func<string, bool> ours, IEnumerable<string> targets, string whatToDo)
    {
        RequireDirectoryOrAbsent(directory, flag);
        var foreign = Entries(directory).Where(n => !ours(n)).ToArray();
        if (foreign.Length > 0 && !force)
            throw new InvalidInputException($"{flag} {directory}: not empty and not written by wts (holds {Describe(foreign)}); {whatToDo}, " +
                $"or pass {ForceFlag} to write beside those files (none is ever replaced)");
        foreach (string name in targets)
            if (Path.Exists(Path.Combine(directory, name)))
                throw new InvalidInputException($"{flag} {directory}: {name} exists and would be replaced; {whatToDo} (nothing was written)");
    }

    static string Describe(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(3)) + (names.Count > 3 ? $" and {names.Count - 3} more" : "");
}
