using System.Globalization;
using System.Text;

namespace WeakToStrong.Tokenization.Jinja;

/// <summary>
/// Python's <c>str</c> operations as templates call them (<c>.strip()</c>, <c>.split()</c>, <c>.title()</c>, …).
/// Whitespace is Python's (<c>str.isspace</c>, which unlike .NET includes U+001C–U+001F). Case mapping uses .NET's
/// invariant simple mapping, so Python's one-to-many mappings ("ß".upper() == "SS") are not reproduced.
/// </summary>
internal static class PythonText
{
    public static bool IsWhitespace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    static bool IsStripped(char c, string? chars) => chars is null ? IsWhitespace(c) : chars.Contains(c);

    public static string Strip(string s, string? chars = null) => LStrip(RStrip(s, chars), chars);

    public static string LStrip(string s, string? chars = null)
    {
        int start = 0;
        while (start < s.Length && IsStripped(s[start], chars)) start++;
        return s[start..];
    }

    public static string RStrip(string s, string? chars = null)
    {
        int end = s.Length;
        while (end > 0 && IsStripped(s[end - 1], chars)) end--;
        return s[..end];
    }

    /// <summary><c>str.split(sep=None, maxsplit=-1)</c>: without a separator, runs of whitespace split and ends are dropped.</summary>
    public static List<object?> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsWhitespace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..]); // the rest keeps its trailing whitespace, as in Python
                    break;
                }
                int start = i;
                while (i < s.Length && !IsWhitespace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (separator.Length == 0) throw new JinjaRuntimeError("empty separator");
        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    /// <summary><c>str.rsplit(sep, maxsplit)</c>.</summary>
    public static List<object?> RSplit(string s, string? separator, long maxSplit)
    {
        if (maxSplit < 0) return Split(s, separator, maxSplit);
        if (separator is null)
        {
            // From the right: whitespace runs split, the rest keeps its leading whitespace ("  a b  c ".rsplit(None, 1) == ["  a b", "c"]).
            var words = new List<object?>();
            int i = s.Length;
            while (true)
            {
                while (i > 0 && IsWhitespace(s[i - 1])) i--;
                if (i == 0) break;
                if (words.Count == maxSplit)
                {
                    words.Insert(0, s[..i]);
                    break;
                }
                int wordEnd = i;
                while (i > 0 && !IsWhitespace(s[i - 1])) i--;
                words.Insert(0, s[i..wordEnd]);
            }
            return words;
        }
        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < maxSplit)
        {
            int at = end == 0 ? -1 : s.LastIndexOf(separator, end - 1, StringComparison.Ordinal);
            if (at < 0 || at + separator.Length > end) break;
            parts.Insert(0, s[(at + separator.Length)..end]);
            end = at;
        }
        parts.Insert(0, s[..end]);
        return parts;
    }

    /// <summary><c>str.splitlines()</c>: Python's line boundaries, ends dropped.</summary>
    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            lines.Add(s[start..i]);
            if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    static bool IsCased(char c) => char.IsUpper(c) || char.IsLower(c) || char.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;

    /// <summary><c>str.title()</c>: a letter after a cased letter is lowered, any other is capitalised ("they're" → "They'Re").</summary>
    public static string PythonTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            sb.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = IsCased(c);
        }
        return sb.ToString();
    }

    /// <summary>Jinja's <c>title</c> filter: words start after whitespace, '-', or an opening bracket; the rest is lowered.</summary>
    public static string JinjaTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool separator = IsWhitespace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(separator ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = separator;
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static string Upper(string s) => s.ToUpperInvariant();

    public static string Lower(string s) => s.ToLowerInvariant();

    /// <summary><c>str.replace(old, new, count=-1)</c>; an empty <paramref name="old"/> inserts between characters, as Python does.</summary>
    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count == 0) return s;
        if (old.Length == 0)
        {
            var chars = PythonValues.Characters(s);
            var sb = new StringBuilder();
            long done = 0;
            for (int i = 0; i <= chars.Count; i++)
            {
                if (count < 0 || done < count) { sb.Append(replacement); done++; }
                if (i < chars.Count) sb.Append(chars[i]);
            }
            return sb.ToString();
        }
        if (count < 0) return s.Replace(old, replacement, StringComparison.Ordinal);
        var result = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            result.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return result.Append(s, from, s.Length - from).ToString();
    }
}
