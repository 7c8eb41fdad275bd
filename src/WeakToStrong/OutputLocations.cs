using System.Runtime.InteropServices;
using System.Text;

namespace WeakToStrong;

/// <summary>
/// Where commands write: checked before any long work starts (so a training run does not discover at its end that
/// it cannot save), and written so that a failure leaves no temporary file behind.
/// </summary>
public static class OutputLocations
{
    /// <summary>A folder that will be created or written into: refused now if it never could be.</summary>
    /// <exception cref="InvalidInputException"><paramref name="path"/> or one of its parents is a file.</exception>
    /// <exception cref="EnvironmentFailureException">No file can be created where the folder is or would be.</exception>
    public static void CheckFolder(string path, string flag)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new InvalidInputException($"{flag}: {path} is a file; expected a folder");
        CheckWritable(NearestExistingFolder(full, flag, path), flag, path);
    }

    /// <summary>A file that will be written: refused now if its folder cannot be created or written.</summary>
    public static void CheckFile(string path, string flag)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new InvalidInputException($"{flag}: {path} is a folder; expected a file");
        string folder = Path.GetDirectoryName(full) ?? throw new InvalidInputException($"{flag}: {path} is not a file path");
        CheckWritable(NearestExistingFolder(folder, flag, path), flag, path);
    }

    static string NearestExistingFolder(string full, string flag, string path)
    {
        for (string? folder = full; folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if (Directory.Exists(folder)) return folder;
            if (File.Exists(folder)) throw new InvalidInputException($"{flag}: {path} cannot be created: {folder} is a file, not a folder");
        }
        throw new InvalidInputException($"{flag}: {path} has no existing parent folder");
    }

    /// <summary>Creates (and at once deletes) a file in <paramref name="folder"/>: mode bits alone do not say what root or a read-only mount allows.</summary>
    static void CheckWritable(string folder, string flag, string path)
    {
        string probe = Path.Combine(folder, $".wts-write-check-{Environment.ProcessId}");
        try
        {
            using (new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e is UnauthorizedAccessException ? "permission denied" : e.Message;
            throw new EnvironmentFailureException($"{flag}: cannot write {path}: no file can be created in {folder} ({reason})", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="content"/> to a temporary file beside <paramref name="path"/> and renames it into
    /// place, so readers never see half a file; the temporary file is removed when anything fails. A device or pipe
    /// (/dev/null, /dev/full) is written in place: renaming over it would replace the device with a file.
    /// </summary>
    /// <param name="overwrite">false: fail rather than replace a file that appeared meanwhile</param>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> content, bool overwrite = true)
    {
        if (IsSpecialFile(path))
        {
            using var device = new FileStream(path, FileMode.Open, FileAccess.Write);
            device.Write(content);
            return;
        }
        string temporary = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite);
        }
        catch
        {
            try { File.Delete(temporary); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
    }

    public static void WriteAtomically(string path, string text, bool overwrite = true) =>
        WriteAtomically(path, new UTF8Encoding(false).GetBytes(text), overwrite);

    /// <summary>An existing file that is not a regular file (a character device, a pipe, a socket), read with statx(2).</summary>
    public static bool IsSpecialFile(string path)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(path)) return false;
        Span<byte> buffer = stackalloc byte[256]; // struct statx is 256 bytes; stx_mode is the u16 at offset 28 on every architecture
        const int AtFdCwd = -100, StatxType = 1, TypeMask = 0xF000, RegularFile = 0x8000;
        if (Statx(AtFdCwd, path, 0, StatxType, ref MemoryMarshal.GetReference(buffer)) != 0) return false;
        return (BitConverter.ToUInt16(buffer[28..30]) & TypeMask) != RegularFile;
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    static extern int Statx(int directoryFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, ref byte buffer);
}
