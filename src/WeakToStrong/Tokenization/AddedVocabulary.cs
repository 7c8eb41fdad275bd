using System.Text.Json;
using System.Text.RegularExpressions;

namespace WeakToStrong.Tokenization;

/// <summary>
/// A token added on top of the model's vocabulary (HF <c>added_tokens</c>), matched whole before the model runs. The flags
/// are HF's AddedToken fields: <see cref="LeftStrip"/> / <see cref="RightStrip"/> let the match swallow the whitespace
/// before / after it, <see cref="SingleWord"/> refuses matches inside a word, and <see cref="Normalized"/> tokens are
/// looked for in the normalized text (as the normalizer spells them) instead of the raw text.
/// </summary>
internal sealed record AddedToken(int Id, string Content, bool Special,
    bool LeftStrip = false, bool RightStrip = false, bool SingleWord = false, bool Normalized = false)
{
    /// <summary>An entry of tokenizer.json's <c>added_tokens</c> or of tokenizer_config.json's <c>added_tokens_decoder</c>. HF's default for a missing "normalized" is "not special".</summary>
    public static AddedToken Read(JsonElement entry, int id, string content, string path)
    {
        bool special = entry.Bool("special", path) ?? false;
        return new AddedToken(id, content, special,
            LeftStrip: entry.Bool("lstrip", path) ?? false,
            RightStrip: entry.Bool("rstrip", path) ?? false,
            SingleWord: entry.Bool("single_word", path) ?? false,
            Normalized: entry.Bool("normalized", path) ?? !special);
    }
}

/// <summary>A piece of the input: either text for the model (with its offset in the string it was cut from) or an added token's id.</summary>
internal readonly record struct TextSegment(string Text, int Offset, int? AddedTokenId)
{
    public bool IsAddedToken => AddedTokenId is not null;
}

/// <summary>
/// Finds added tokens in text the way HF tokenizers' AddedVocabulary does: leftmost-longest matches, scanned left to
/// right without overlaps, with the lstrip / rstrip / single_word rules. Raw-text tokens and normalized-text tokens are
/// two separate sets (<see cref="SplitRaw"/> runs before the normalizer, <see cref="SplitNormalized"/> after it on
/// each remaining piece). Written here because Microsoft.ML.Tokenizers' special-token splitting has no such flags.
/// </summary>
internal sealed partial class AddedVocabulary
{
    readonly Dictionary<char, AddedToken[]> _rawByFirstChar;
    readonly Dictionary<char, (string Pattern, AddedToken Token)[]> _normalizedByFirstChar;

    public IReadOnlyList<AddedToken> Tokens { get; }

    /// <param name="normalize">The tokenizer's normalizer, used to spell normalized tokens as they appear after normalization (HF does the same).</param>
    public AddedVocabulary(IReadOnlyList<AddedToken> tokens, Func<string, string>? normalize = null)
    {
        Tokens = tokens;
        _rawByFirstChar = tokens.Where(t => !t.Normalized && t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _normalizedByFirstChar = tokens.Where(t => t.Normalized && t.Content.Length > 0)
            .Select(t => (Pattern: normalize?.Invoke(t.Content) ?? t.Content, Token: t))
            .Where(p => p.Pattern.Length > 0)
            .GroupBy(p => p.Pattern[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Pattern.Length).ToArray());
    }

    public bool HasNormalizedTokens => _normalizedByFirstChar.Count > 0;

    /// <summary>Cuts raw text at the tokens that are matched before normalization (normalized = false).</summary>
    public List<TextSegment> SplitRaw(string text, int offset = 0) =>
        Split(text, offset, at => _rawByFirstChar.TryGetValue(text[at], out var candidates)
            ? candidates.Select(t => (t.Content, t)).FirstOrDefault(c => string.CompareOrdinal(text, at, c.Content, 0, c.Content.Length) == 0)
            : default);

    /// <summary>Cuts normalized text at the tokens that are matched after normalization (normalized = true).</summary>
    public List<TextSegment> SplitNormalized(string text, int offset) =>
        Split(text, offset, at => _normalizedByFirstChar.TryGetValue(text[at], out var candidates)
            ? candidates.FirstOrDefault(c => string.CompareOrdinal(text, at, c.Pattern, 0, c.Pattern.Length) == 0)
            : default);

    static List<TextSegment> Split(string text, int offset, Func<int, (string? Pattern, AddedToken? Token)> longestMatchAt)
    {
        var segments = new List<TextSegment>();
        int textStart = 0;
        for (int at = 0; at < text.Length;)
        {
            var (pattern, token) = longestMatchAt(at);
            if (pattern is null || token is null) { at++; continue; }
            int start = at, stop = at + pattern.Length;
            at = stop;
            if (token.SingleWord && (start > 0 && WordCharacter().IsMatch(text[start - 1].ToString())
                                     || stop < text.Length && WordCharacter().IsMatch(text[stop].ToString())))
                continue;
            if (token.LeftStrip)
                while (start > textStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (token.RightStrip)
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
            if (textStart < start) segments.Add(new TextSegment(text[textStart..start], offset + textStart, null));
            segments.Add(new TextSegment(text[start..stop], offset + start, token.Id));
            textStart = at = stop;
        }
        if (textStart < text.Length || segments.Count == 0) segments.Add(new TextSegment(text[textStart..], offset + textStart, null));
        return segments;
    }

    [GeneratedRegex(@"^\w$")]
    private static partial Regex WordCharacter();
}
