using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace WeakToStrong.Tokenization;

/// <summary>
/// A pre-tokenizer split regex (HF Split with behavior "Isolated": every match is a word, and so is any text between
/// matches) that sees characters outside the BMP as HF's Oniguruma regexes do. .NET matches UTF-16 code units, so an
/// emoji or a letter such as "𝔘" (two surrogates) matches neither \p{L} nor a single-character class. The regex
/// therefore runs on a shadow copy of the text where each such character is one BMP stand-in of the same Unicode
/// category (so \p{L}, \p{N}, \p{So}… classify it alike), and the matches are mapped back to the real text.
/// </summary>
internal sealed class SplitRegex
{
    readonly Regex _regex;

    public SplitRegex(string pattern) =>
        _regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public string Pattern => _regex.ToString();

    /// <summary>(offset, length) of each word of <paramref name="text"/>, in order, covering all of it.</summary>
    public List<(int Offset, int Length)> Split(string text)
    {
        var words = new List<(int, int)>();
        if (text.Length == 0) return words;
        var (shadow, originalIndex) = Shadow(text);
        int covered = 0;
        for (var match = _regex.Match(shadow); match.Success; match = match.NextMatch())
        {
            if (match.Length == 0) continue;
            int start = originalIndex[match.Index], end = originalIndex[match.Index + match.Length];
            if (covered < start) words.Add((covered, start - covered));
            words.Add((start, end - start));
            covered = end;
        }
        if (covered < text.Length) words.Add((covered, text.Length - covered));
        return words;
    }

    /// <summary>The text with each surrogate pair replaced by its category's stand-in, and for each shadow index (and its end) the index in the text.</summary>
    static (string Shadow, int[] OriginalIndex) Shadow(string text)
    {
        if (!text.Any(char.IsSurrogate)) return (text, Enumerable.Range(0, text.Length + 1).ToArray());
        var shadow = new StringBuilder(text.Length);
        var originalIndex = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            originalIndex.Add(i);
            if (char.IsSurrogatePair(text, i))
            {
                shadow.Append(StandIn[(int)CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))]);
                i++;
            }
            else shadow.Append(text[i]);
        }
        originalIndex.Add(text.Length);
        return (shadow.ToString(), [.. originalIndex]);
    }

    /// <summary>
    /// For each Unicode category, a BMP character of that category that no split pattern names literally: above ASCII,
    /// and neither it nor its case partners are ASCII (patterns spell contractions such as "'s" with ASCII letters,
    /// case-insensitively).
    /// </summary>
    static readonly char[] StandIn = BuildStandIns();

    static char[] BuildStandIns()
    {
        var standIn = new char[Enum.GetValues<UnicodeCategory>().Length];
        for (int c = 0x80; c <= 0xFFFF; c++)
        {
            char ch = (char)c;
            if (char.IsSurrogate(ch) || char.ToUpperInvariant(ch) < 0x80 || char.ToLowerInvariant(ch) < 0x80) continue;
            int category = (int)CharUnicodeInfo.GetUnicodeCategory(ch);
            if (standIn[category] == '\0') standIn[category] = ch;
        }
        return standIn;
    }
}
