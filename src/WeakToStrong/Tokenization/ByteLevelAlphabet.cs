namespace WeakToStrong.Tokenization;

/// <summary>
/// GPT-2's reversible map between the 256 byte values and printable characters, so that byte-level BPE
/// vocabularies contain no whitespace or control characters. Printable Latin-1 bytes map to themselves;
/// the remaining bytes map, in increasing order, to U+0100 onwards.
/// </summary>
internal static class ByteLevelAlphabet
{
    static readonly char[] CharOfByte = BuildCharOfByte();
    static readonly Dictionary<char, byte> ByteOfChar = Enumerable.Range(0, 256).ToDictionary(b => CharOfByte[b], b => (byte)b);

    static char[] BuildCharOfByte()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The character that stands for byte <paramref name="b"/> in vocabulary tokens.</summary>
    public static char CharOf(byte b) => CharOfByte[b];

    /// <summary>
    /// The 256 bytes in GPT-2's vocabulary order (ids 0..255 of its vocab.json): by their characters' code points,
    /// so the printable bytes come first ("!" is id 0) and the remapped ones after.
    /// </summary>
    public static byte[] BytesInVocabularyOrder() => Enumerable.Range(0, 256).Select(b => (byte)b).OrderBy(b => CharOfByte[b]).ToArray();

    /// <summary>The vocabulary spelling of a piece of text: its UTF-8 bytes, each as its mapped character.</summary>
    public static string Encode(string text) => string.Concat(System.Text.Encoding.UTF8.GetBytes(text).Select(b => CharOfByte[b]));

    /// <summary>Appends the bytes a vocabulary token stands for; false if it has a character outside the alphabet.</summary>
    public static bool TryAppendBytes(string token, List<byte> output)
    {
        int start = output.Count;
        foreach (char c in token)
        {
            if (!ByteOfChar.TryGetValue(c, out byte b)) { output.RemoveRange(start, output.Count - start); return false; }
            output.Add(b);
        }
        return true;
    }
}
