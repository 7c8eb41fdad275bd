using System.Text;

namespace WeakToStrong;

/// <summary>
/// An exclusive, advisory lock held while one process writes a set of files (a run directory, one shard's files).
/// It is an OS byte-range lock on a lock file kept open for the writer's life, so the OS drops it when the process
/// dies: a lock file left by a killed process blocks nothing. The file holds the holder's process id, which a
/// refused writer names. (The byte-range lock, not FileShare.None, so that the refused writer can still read the id.)
/// </summary>
public sealed class WriterLock : IDisposable
{
    /// <summary>Lock files are named .wts-*.lock; they are not part of a directory's content.</summary>
    public static bool IsLockFile(string name) => name.StartsWith(".wts-", StringComparison.Ordinal) && name.EndsWith(".lock", StringComparison.Ordinal);

    // POSIX record locks belong to the process, so a second holder inside this process must be refused here.
    static readonly HashSet<string> HeldHere = new(StringComparer.Ordinal);
    // A range far beyond the pid text: on Windows a locked range cannot be read, and the pid must stay readable.
    const long LockedOffset = 1L << 40;

    readonly FileStream stream;
    public string Path { get; }

    WriterLock(string path, FileStream stream) => (Path, this.stream) = (path, stream);

    /// <summary>Takes the lock at <paramref name="path"/> (creating the file) or refuses at once, naming the holder.</summary>
    /// <param name="what">what the lock guards, for the message (e.g. "run directory results/x")</param>
    public static WriterLock Acquire(string path, string what)
    {
        string full = System.IO.Path.GetFullPath(path);
        lock (HeldHere)
        {
            if (!HeldHere.Add(full))
                throw new InvalidInputException($"{what} is being written by this process (pid {Environment.ProcessId}); wait for it to finish");
        }
        FileStream? stream = null;
        try
        {
            try
            {
                // macOS has no FileStream.Lock: there the whole file is locked (flock), and a refused writer cannot read the pid.
                stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, OperatingSystem.IsMacOS() ? FileShare.None : FileShare.ReadWrite | FileShare.Delete);
                if (!OperatingSystem.IsMacOS()) stream.Lock(LockedOffset, 1);
            }
            catch (IOException)
            {
                throw new InvalidInputException($"{what} is being written by another process ({Holder(full)}); wait for it to finish " +
                    "or stop it (a lock left by a process that died blocks nothing)");
            }
            stream.SetLength(0);
            stream.Write(Encoding.UTF8.GetBytes($"{Environment.ProcessId}\n"));
            stream.Flush(flushToDisk: true);
            return new WriterLock(full, stream);
        }
        catch
        {
            stream?.Dispose();
            lock (HeldHere) HeldHere.Remove(full);
            throw;
        }
    }

    static string Holder(string path)
    {
        try
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var buffer = new byte[32];
            string text = Encoding.UTF8.GetString(buffer, 0, reader.Read(buffer)).Trim();
            return int.TryParse(text, out int pid) ? $"pid {pid}" : "pid unknown";
        }
        catch (IOException)
        {
            return "pid unknown";
        }
    }

    public void Dispose()
    {
        // The file stays: deleting it would let a writer that opened it just before lock a name no one else sees.
        stream.Dispose();
        lock (HeldHere) HeldHere.Remove(Path);
    }
}
