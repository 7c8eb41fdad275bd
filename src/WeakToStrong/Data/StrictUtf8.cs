using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace WeakToStrong.Data;

/// <summary>
/// UTF-8 decoding that refuses malformed input instead of replacing it with U+FFFD, as .NET's
/// <see cref="Encoding.UTF8"/> (and so Parquet.Net and <see cref="File.ReadLines(string)"/>) would: a dataset whose
/// bytes are not UTF-8 was damaged somewhere, and a silently replaced character would change the prompt.
/// </summary>
public static class StrictUtf8
{
    /// <summary>Index of the first byte of the first malformed sequence, or -1 when <paramref name="bytes"/> is valid UTF-8.</summary>
    public static int FirstInvalidByte(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes)) return -1;
        char[] scratch = ArrayPool<char>.Shared.Rent(bytes.Length);
        try
        {
            var status = Utf8.ToUtf16(bytes, scratch, out int bytesRead, out _, replaceInvalidSequences: false, isFinalBlock: true);
            return status == OperationStatus.Done ? -1 : bytesRead;
        }
        finally { ArrayPool<char>.Shared.Return(scratch); }
    }

    /// <summary>Decodes <paramref name="bytes"/>; <paramref name="where"/> names the value in the error (file, column, row).</summary>
    public static string Decode(ReadOnlySpan<byte> bytes, Func<string> where)
    {
        int bad = FirstInvalidByte(bytes);
        if (bad >= 0)
            throw new InvalidInputException($"{where()}: invalid UTF-8 at byte {bad} of the value (0x{bytes[bad]:X2}); expected UTF-8 text");
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// The 1-based line and column of byte <paramref name="offset"/> in a text file; lines end at '\n', the column
    /// counts Unicode scalar values (the bytes before <paramref name="offset"/> must be valid UTF-8).
    /// </summary>
    public static (int Line, int Column) LineColumn(ReadOnlySpan<byte> text, int offset)
    {
        var before = text[..offset];
        int line = 1 + before.Count((byte)'\n');
        var lineStart = before[(before.LastIndexOf((byte)'\n') + 1)..];
        int column = 1;
        foreach (byte b in lineStart)
            if ((b & 0xC0) != 0x80) column++;  // count lead bytes only: one per scalar value
        return (line, column);
    }

    /// <summary>
    /// The text of a UTF-8 file (a byte-order mark dropped), refusing malformed bytes at their line and column where
    /// <see cref="File.ReadAllText(string)"/> would turn them into U+FFFD. Every text file a user gives is read through here.
    /// </summary>
    public static string ReadAllText(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        RequireValidFile(path, bytes);
        int bom = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        return Encoding.UTF8.GetString(bytes, bom, bytes.Length - bom);
    }

    /// <summary>
    /// Refuses a text file that is not UTF-8, naming the line and column of the first malformed byte.
    /// </summary>
    public static void RequireValidFile(string path, ReadOnlySpan<byte> bytes)
    {
        int bad = FirstInvalidByte(bytes);
        if (bad < 0) return;
        var (line, column) = LineColumn(bytes, bad);
        throw new InvalidInputException($"{path}:{line}:{column}: invalid UTF-8 (byte 0x{bytes[bad]:X2}); expected a UTF-8 text file");
    }
}
