using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace WeakToStrong.Tokenization;

/// <summary>
/// SentencePiece-style BPE read from <c>tokenizer.json</c> (Llama-2, Mistral, Zephyr): what AutoTokenizer runs when that
/// file exists. Words are marked with "▁" either by a normalizer (legacy files: Prepend("▁") + Replace(" ", "▁"), applied
/// to every piece of text between added tokens) or by a Metaspace pre-tokenizer (prepend_scheme "always", or "first":
/// only at the very start of the text); characters without a piece fall back to &lt;0xNN&gt; byte pieces (byte_fallback).
/// The merges come from the file and run on <see cref="BpeTokenizer"/>; the steps around it (added tokens with their
/// flags, normalizer, Metaspace, byte fallback, the decoder chain) are written here, since Microsoft.ML.Tokenizers'
/// LlamaTokenizer reads only tokenizer.model and puts the dummy prefix only at the start of the text.
/// </summary>
internal sealed class SentencePieceBpeBackend : TokenizerBackend
{
    readonly AddedVocabulary _addedVocabulary;
    readonly Func<string, string>? _normalize;
    readonly Metaspace? _metaspace;
    readonly BpeTokenizer _bpe;
    readonly Dictionary<string, int> _modelVocabulary;
    readonly Dictionary<string, int> _vocabulary;
    readonly Dictionary<int, string> _tokenOfId = [];
    readonly int[]? _byteIds;
    readonly int? _unknownId;
    readonly bool _fuseUnknown, _ignoreMerges;
    readonly TokenDecoder _decoder;
    readonly (IReadOnlyList<string>, IReadOnlyList<string>)? _template;

    /// <summary>HF's Metaspace pre-tokenizer: spaces become <see cref="Replacement"/>, which is prepended per <see cref="PrependScheme"/>; with <see cref="Split"/> every "▁" starts a new word.</summary>
    sealed record Metaspace(char Replacement, string PrependScheme, bool Split);

    public override TokenizerKind Kind => TokenizerKind.SentencePiece;
    public override IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;
    public override IReadOnlyList<AddedToken> AddedTokens => _addedVocabulary.Tokens;
    public override (IReadOnlyList<string> Prefix, IReadOnlyList<string> Suffix)? SingleSequenceTemplate => _template;

    SentencePieceBpeBackend(Dictionary<string, int> modelVocabulary, List<string> merges, IReadOnlyList<AddedToken> addedTokens,
        Func<string, string>? normalize, Metaspace? metaspace, bool byteFallback, string? unknownToken, bool fuseUnknown, bool ignoreMerges,
        TokenDecoder decoder, (IReadOnlyList<string>, IReadOnlyList<string>)? template, string path)
    {
        _modelVocabulary = modelVocabulary;
        _normalize = normalize;
        _metaspace = metaspace;
        _fuseUnknown = fuseUnknown;
        _ignoreMerges = ignoreMerges;
        _decoder = decoder;
        _template = template;
        _addedVocabulary = new AddedVocabulary(addedTokens, normalize);
        _vocabulary = new Dictionary<string, int>(modelVocabulary);
        foreach (var added in addedTokens) _vocabulary[added.Content] = added.Id;
        foreach (var (token, id) in _vocabulary) _tokenOfId.TryAdd(id, token);
        foreach (var added in addedTokens) _tokenOfId[added.Id] = added.Content;
        if (unknownToken is not null)
            _unknownId = modelVocabulary.TryGetValue(unknownToken, out int unk) ? unk
                : throw new InvalidInputException($"{path}: model.unk_token \"{unknownToken}\" is not in model.vocab");
        if (byteFallback)
        {
            var byteIds = new int[256];
            bool complete = true;
            for (int b = 0; b < 256 && complete; b++) complete = modelVocabulary.TryGetValue($"<0x{b:X2}>", out byteIds[b]);
            // HF falls back to bytes only when all the byte pieces exist; otherwise to the unknown token.
            _byteIds = complete ? byteIds : null;
        }
        _bpe = BpeTokenizer.Create(new BpeOptions(modelVocabulary) { Merges = merges, ByteLevel = false });
    }

    public override IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        foreach (var raw in _addedVocabulary.SplitRaw(text))
        {
            if (raw.AddedTokenId is { } rawId) { ids.Add(rawId); continue; }
            string normalized = _normalize?.Invoke(raw.Text) ?? raw.Text;
            var pieces = _addedVocabulary.HasNormalizedTokens ? _addedVocabulary.SplitNormalized(normalized, raw.Offset) : [new TextSegment(normalized, raw.Offset, null)];
            foreach (var piece in pieces)
            {
                if (piece.AddedTokenId is { } normalizedId) ids.Add(normalizedId);
                else foreach (string word in PreTokenize(piece)) EncodeWord(word, ids);
            }
        }
        return ids;
    }

    IEnumerable<string> PreTokenize(TextSegment piece)
    {
        if (piece.Text.Length == 0) yield break;
        if (_metaspace is not { } metaspace) { yield return piece.Text; yield break; }
        string text = piece.Text.Replace(' ', metaspace.Replacement);
        bool prepend = metaspace.PrependScheme switch
        {
            "always" => true,
            "first" => piece.Offset == 0, // only the piece that starts the original text
            _ => false,
        };
        if (prepend && text[0] != metaspace.Replacement) text = metaspace.Replacement + text;
        if (!metaspace.Split) { yield return text; yield break; }
        int start = 0;
        for (int i = 1; i < text.Length; i++)
            if (text[i] == metaspace.Replacement) { yield return text[start..i]; start = i; }
        yield return text[start..];
    }

    /// <summary>
    /// One word through HF's BPE model: every character that is a piece starts as that piece, the others as their
    /// UTF-8 byte pieces (or the unknown token). Byte and unknown pieces take part in no merge, so the runs of known
    /// characters between them are merged on their own by <see cref="BpeTokenizer"/>.
    /// </summary>
    void EncodeWord(string word, List<int> ids)
    {
        if (_ignoreMerges && _modelVocabulary.TryGetValue(word, out int wholeWord)) { ids.Add(wholeWord); return; }
        int runStart = 0, at = 0;
        bool lastWasUnknown = false;
        while (at < word.Length)
        {
            int length = char.IsSurrogatePair(word, at) ? 2 : 1;
            string character = word.Substring(at, length);
            if (_modelVocabulary.ContainsKey(character)) { at += length; continue; }
            if (runStart < at) { MergeRun(word[runStart..at], ids); lastWasUnknown = false; }
            if (_byteIds is { } byteIds)
            {
                foreach (byte b in Encoding.UTF8.GetBytes(character)) ids.Add(byteIds[b]);
                lastWasUnknown = false;
            }
            else if (_unknownId is { } unk)
            {
                if (!(_fuseUnknown && lastWasUnknown)) ids.Add(unk);
                lastWasUnknown = true;
            }
            at += length;
            runStart = at;
        }
        if (runStart < word.Length) MergeRun(word[runStart..], ids);
    }

    void MergeRun(string run, List<int> ids)
    {
        bool oneCharacter = run.Length == 1 || run.Length == 2 && char.IsSurrogatePair(run, 0);
        if (oneCharacter || _ignoreMerges && _modelVocabulary.ContainsKey(run)) { ids.Add(_modelVocabulary[run]); return; }
        ids.AddRange(_bpe.EncodeToIds(run, considerPreTokenization: false, considerNormalization: false));
    }

    public override string Decode(IReadOnlyList<int> ids) => _decoder.DecodeText(Tokens(ids));

    public override byte[] DecodeToBytes(IReadOnlyList<int> ids) => _decoder.DecodeBytes(Tokens(ids));

    /// <summary>Ids outside the vocabulary are skipped, as HF's decode does.</summary>
    IEnumerable<string> Tokens(IReadOnlyList<int> ids) => ids.Where(_tokenOfId.ContainsKey).Select(id => _tokenOfId[id]);

    /// <summary>True when tokenizer.json is a BPE model without a ByteLevel step: SentencePiece-style, read by this backend.</summary>
    public static bool IsSentencePieceStyleBpe(JsonElement tokenizerJson) =>
        tokenizerJson.Property("model")?.Property("type")?.GetString() == "BPE" && !ByteLevelBpeBackend.IsByteLevelBpe(tokenizerJson);

    public static SentencePieceBpeBackend FromTokenizerJson(JsonElement root, string path)
    {
        var model = root.Property("model") ?? throw new InvalidInputException($"{path}: missing \"model\"");
        var vocabulary = ByteLevelBpeBackend.ReadVocabulary(model.Property("vocab") ?? throw new InvalidInputException($"{path}: model has no \"vocab\""), path + " model.vocab");
        var merges = ByteLevelBpeBackend.ReadMerges(model.Property("merges"), path);
        foreach (string unsupported in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.String(unsupported, path) is { Length: > 0 } value)
                throw new InvalidInputException($"{path}: model.{unsupported} = \"{value}\" is not supported");
        if (model.Property("dropout") is { ValueKind: JsonValueKind.Number } dropout && dropout.GetDouble() != 0)
            throw new InvalidInputException($"{path}: model.dropout = {dropout} is not supported (encoding would be random)");

        var normalize = ReadNormalizer(root.Property("normalizer"), path);
        return new SentencePieceBpeBackend(vocabulary, merges, ByteLevelBpeBackend.ReadAddedTokens(root, path), normalize,
            ReadMetaspace(root.Property("pre_tokenizer"), path),
            byteFallback: model.Bool("byte_fallback", path) ?? false, unknownToken: model.String("unk_token", path),
            fuseUnknown: model.Bool("fuse_unk", path) ?? false, ignoreMerges: model.Bool("ignore_merges", path) ?? false,
            TokenDecoder.Read(root.Property("decoder"), path), ByteLevelBpeBackend.ReadTemplate(root.Property("post_processor"), path), path);
    }

    /// <summary>HF normalizers that SentencePiece-style files use: Prepend, Replace (of a literal string), the Unicode normal forms, and Sequences of them.</summary>
    static Func<string, string>? ReadNormalizer(JsonElement? normalizer, string path)
    {
        if (normalizer is not { } n) return null;
        string? type = n.String("type", path);
        switch (type)
        {
            case "Sequence":
                var steps = (n.Property("normalizers") ?? throw new InvalidInputException($"{path}: normalizer Sequence has no \"normalizers\""))
                    .EnumerateArray().Select(step => ReadNormalizer(step, path)).OfType<Func<string, string>>().ToList();
                return steps.Count == 0 ? null : text => steps.Aggregate(text, (current, step) => step(current));
            case "Prepend":
                string prefix = n.String("prepend", path) ?? throw new InvalidInputException($"{path}: normalizer Prepend has no \"prepend\"");
                return text => text.Length == 0 ? text : prefix + text;
            case "Replace":
                string pattern = n.Property("pattern")?.String("String", path)
                    ?? throw new InvalidInputException($"{path}: normalizer Replace needs a {{\"String\": ...}} pattern");
                string content = n.String("content", path) ?? "";
                return text => text.Replace(pattern, content, StringComparison.Ordinal);
            case "NFC": return text => text.Normalize(NormalizationForm.FormC);
            case "NFD": return text => text.Normalize(NormalizationForm.FormD);
            case "NFKC": return text => text.Normalize(NormalizationForm.FormKC);
            case "NFKD": return text => text.Normalize(NormalizationForm.FormKD);
            default:
                throw new InvalidInputException($"{path}: normalizer \"{type}\" is not supported for SentencePiece-style BPE (expected Prepend, Replace, NFC, NFD, NFKC, NFKD or a Sequence of them)");
        }
    }

    static Metaspace? ReadMetaspace(JsonElement? preTokenizer, string path)
    {
        if (preTokenizer is not { } p) return null;
        string? type = p.String("type", path);
        if (type == "Sequence" && p.Property("pretokenizers") is { ValueKind: JsonValueKind.Array } list)
            return list.GetArrayLength() switch
            {
                0 => null,
                1 => ReadMetaspace(list[0], path),
                _ => throw new InvalidInputException($"{path}: pre_tokenizer Sequence of {list.GetArrayLength()} steps is not supported for SentencePiece-style BPE (expected one Metaspace)"),
            };
        if (type != "Metaspace")
            throw new InvalidInputException($"{path}: pre_tokenizer \"{type}\" is not supported for SentencePiece-style BPE (expected Metaspace or none)");
        string replacement = p.String("replacement", path) ?? "▁";
        if (replacement.Length != 1) throw new InvalidInputException($"{path}: Metaspace replacement \"{replacement}\" should be one character");
        // Files written before prepend_scheme existed say add_prefix_space, which meant "always".
        string scheme = p.String("prepend_scheme", path) ?? (p.Bool("add_prefix_space", path) == false ? "never" : "always");
        if (scheme is not ("always" or "first" or "never"))
            throw new InvalidInputException($"{path}: Metaspace prepend_scheme \"{scheme}\" should be always, first or never");
        return new Metaspace(replacement[0], scheme, p.Bool("split", path) ?? true);
    }
}
