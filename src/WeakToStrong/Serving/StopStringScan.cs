using WeakToStrong.Tokenization;

namespace WeakToStrong.Serving;

/// <summary>
/// Whether a growing output holds a stop string yet, decided as on its whole decoded text but without decoding all of it
/// at every token (which made a row's stop checks quadratic in its length). A stop string that is new at this token
/// ends in the text the token added, or in the few characters before it that decoding may rewrite (clean-up spaces
/// such as " ." → "."). So each check decodes only a window of the latest tokens: long enough to hold the longest stop
/// string, the new token's text and a margin at the window's start, where decoding a window alone may differ from
/// the whole text (a stripped leading space, a character split across tokens, a clean-up pattern cut in two). A stop
/// string found there is confirmed on the whole text, so the answer is always the whole text's.
/// </summary>
public sealed class StopStringScan(HfTokenizer tokenizer, IReadOnlyList<string> stops)
{
    /// <summary>Characters at a window's start that may differ from the whole text's: more than any of the effects above.</summary>
    const int StartMargin = 8;
    const int FirstWindowTokens = 8;
    readonly int longestStop = stops.Count == 0 ? 0 : stops.Max(s => s.Length);

    /// <summary>Whole-text decodes made to confirm what a window found.</summary>
    public int Confirmations { get; private set; }

    /// <summary>Tokens decoded by all checks so far: linear in the output's length, where decoding the whole text at every token was quadratic.</summary>
    public long TokensDecoded { get; private set; }

    /// <summary>True once the text of <paramref name="tokens"/> holds a stop string (checked after every token added).</summary>
    public bool Stopped(IReadOnlyList<int> tokens)
    {
        if (stops.Count == 0 || tokens.Count == 0) return false;
        for (int count = Math.Min(FirstWindowTokens, tokens.Count); ; count = Math.Min(2 * count, tokens.Count))
        {
            string window = Decode(tokens, tokens.Count - count, count);
            if (count == tokens.Count) return Index(window, stops) is not null;
            // Where in the window a new stop string may start: before the new token's text, by the longest stop string and the margin.
            int added = Math.Max(0, window.Length - Decode(tokens, tokens.Count - count, count - 1).Length);
            int from = window.Length - added - longestStop - StartMargin;
            if (from >= StartMargin) return Index(window, stops, from) is not null && Confirm(tokens);
        }
    }

    bool Confirm(IReadOnlyList<int> tokens)
    {
        Confirmations++;
        TokensDecoded += tokens.Count;
        return Index(tokenizer.Decode(tokens, skipSpecialTokens: true), stops) is not null;
    }

    string Decode(IReadOnlyList<int> tokens, int start, int count)
    {
        TokensDecoded += count;
        return tokenizer.Decode(Enumerable.Range(start, count).Select(i => tokens[i]), skipSpecialTokens: true);
    }

    /// <summary>Where the earliest stop string starts in <paramref name="text"/> (at or after <paramref name="from"/>), or null: where a finished output is cut.</summary>
    public static int? Index(string text, IReadOnlyList<string> stops, int from = 0)
    {
        int? first = null;
        foreach (string stop in stops)
            if (text.IndexOf(stop, from, StringComparison.Ordinal) is int at and >= 0 && (first is null || at < first)) first = at;
        return first;
    }
}
