using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace WeakToStrong.Tokenization;

/// <summary>
/// Byte-level BPE (GPT-2, Llama-3, Qwen2) on <see cref="BpeTokenizer"/> with <c>ByteLevel = true</c>. Read from
/// <c>tokenizer.json</c> or from GPT-2's <c>vocab.json</c> + <c>merges.txt</c>.
/// </summary>
internal sealed class ByteLevelBpeBackend : TokenizerBackend
{
    public const string TokenizerJsonFile = "tokenizer.json";
    public const string VocabJsonFile = "vocab.json";
    public const string MergesFile = "merges.txt";

    /// <summary>The split regex of GPT-2's ByteLevel pre-tokenizer (HF tokenizers, use_regex = true).</summary>
    public const string Gpt2SplitPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    readonly BpeTokenizer _bpe;
    readonly SplitRegex? _split;
    readonly AddedVocabulary _addedVocabulary;
    readonly Dictionary<string, int> _vocabulary;
    readonly Dictionary<int, string> _tokenOfId;
    readonly Dictionary<int, string> _addedContentOfId;
    readonly NormalizationForm? _normalization;
    readonly bool _addPrefixSpace;
    /// <summary>True when the regex is a Split step ahead of ByteLevel, whose add_prefix_space then applies to each word of the split.</summary>
    readonly bool _splitBeforeByteLevel;
    readonly bool _ignoreMerges;
    readonly (IReadOnlyList<string>, IReadOnlyList<string>)? _template;
    readonly bool _useGpt2SpecialTokenDefaults;

    public override TokenizerKind Kind => TokenizerKind.ByteLevelBpe;
    public override IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;
    public override IReadOnlyList<AddedToken> AddedTokens => _addedVocabulary.Tokens;
    public override (IReadOnlyList<string> Prefix, IReadOnlyList<string> Suffix)? SingleSequenceTemplate => _template;

    ByteLevelBpeBackend(Dictionary<string, int> modelVocabulary, IReadOnlyList<string> merges, IReadOnlyList<AddedToken> addedTokens,
        string? splitPattern, NormalizationForm? normalization, bool addPrefixSpace, bool ignoreMerges, bool splitBeforeByteLevel,
        (IReadOnlyList<string>, IReadOnlyList<string>)? template, bool useGpt2SpecialTokenDefaults)
    {
        _useGpt2SpecialTokenDefaults = useGpt2SpecialTokenDefaults;
        _normalization = normalization;
        _addedVocabulary = new AddedVocabulary(addedTokens, normalization is { } form ? text => text.Normalize(form) : null);
        _addPrefixSpace = addPrefixSpace;
        _splitBeforeByteLevel = splitBeforeByteLevel;
        _ignoreMerges = ignoreMerges;
        _template = template;
        _vocabulary = new Dictionary<string, int>(modelVocabulary);
        foreach (var added in addedTokens) _vocabulary[added.Content] = added.Id;
        _tokenOfId = [];
        foreach (var (token, id) in _vocabulary) _tokenOfId[id] = token;
        _addedContentOfId = addedTokens.ToDictionary(t => t.Id, t => t.Content);

        // Without a regex (ByteLevel with use_regex = false) the text between added tokens is one word.
        _split = splitPattern is null ? null : new SplitRegex(splitPattern);
        _bpe = BpeTokenizer.Create(new BpeOptions(modelVocabulary) { Merges = merges, ByteLevel = true });
    }

    /// <summary>
    /// HF's order: added tokens are cut out of the raw text (those marked normalized out of the normalized text), then each
    /// remaining piece is normalized, gets the prefix space (add_prefix_space), is split by the regex, and each word goes
    /// through BPE on the byte-level alphabet.
    /// </summary>
    public override IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        foreach (var raw in _addedVocabulary.SplitRaw(text))
        {
            if (raw.AddedTokenId is { } rawId) { ids.Add(rawId); continue; }
            string normalized = _normalization is { } form ? raw.Text.Normalize(form) : raw.Text;
            var pieces = _addedVocabulary.HasNormalizedTokens ? _addedVocabulary.SplitNormalized(normalized, raw.Offset) : [new TextSegment(normalized, raw.Offset, null)];
            foreach (var piece in pieces)
            {
                if (piece.AddedTokenId is { } normalizedId) { ids.Add(normalizedId); continue; }
                string segment = piece.Text;
                if (segment.Length == 0) continue;
                if (_addPrefixSpace && !_splitBeforeByteLevel && segment[0] != ' ') segment = " " + segment;
                if (_split is null) { EncodeWord(segment, ids); continue; }
                foreach (var (offset, length) in _split.Split(segment))
                {
                    string word = segment.Substring(offset, length);
                    EncodeWord(_addPrefixSpace && _splitBeforeByteLevel && word[0] != ' ' ? " " + word : word, ids);
                }
            }
        }
        return ids;
    }

    void EncodeWord(string word, List<int> ids)
    {
        // HF ignore_merges (Llama-3): a word that is itself in the vocabulary becomes that one token, even when the
        // merges would split it differently. BpeTokenizer has no such switch, so such words are looked up here.
        if (_ignoreMerges && _vocabulary.TryGetValue(ByteLevelAlphabet.Encode(word), out int wholeWordId) && !_addedContentOfId.ContainsKey(wholeWordId))
            ids.Add(wholeWordId);
        else ids.AddRange(_bpe.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false));
    }

    /// <summary>Ids outside the vocabulary are skipped, as HF's decode does (models often pad their embedding matrix past the tokenizer).</summary>
    public override byte[] DecodeToBytes(IReadOnlyList<int> ids)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (_addedContentOfId.TryGetValue(id, out string? content)) bytes.AddRange(Encoding.UTF8.GetBytes(content));
            else if (_tokenOfId.TryGetValue(id, out string? token) && !ByteLevelAlphabet.TryAppendBytes(token, bytes))
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return [.. bytes];
    }

    /// <summary>GPT-2's files: vocab.json (token to id) and merges.txt (one "a b" pair per line after a "#version" header).</summary>
    public static ByteLevelBpeBackend FromVocabAndMerges(string directory, TokenizerSettings settings)
    {
        string vocabPath = Path.Combine(directory, VocabJsonFile);
        var vocabulary = ReadVocabulary(JsonFiles.ReadObject(vocabPath), vocabPath);
        string mergesPath = Path.Combine(directory, MergesFile);
        var merges = new List<string>();
        foreach (var (line, index) in Data.StrictUtf8.ReadAllText(mergesPath).Split('\n').Select((l, i) => (l.TrimEnd('\r'), i)))
        {
            if (line.Length == 0 || index == 0 && line.StartsWith("#version", StringComparison.Ordinal)) continue;
            if (line.Split(' ').Length != 2)
                throw new InvalidInputException($"{mergesPath}: line {index + 1} should be two tokens separated by one space, found \"{line}\"");
            merges.Add(line);
        }

        // GPT2Tokenizer makes its special tokens (and any added ones) atomic, so "<|endoftext|>" in text is one token.
        var added = new List<AddedToken>(settings.AddedTokens);
        foreach (var token in settings.SpecialTokens.Values.Concat(settings.AdditionalSpecialTokens))
            if (!added.Any(a => a.Content == token.Content) && vocabulary.TryGetValue(token.Content, out int id))
                added.Add(new AddedToken(id, token.Content, Special: true));
        if (!settings.HasConfig && vocabulary.TryGetValue(Gpt2EndOfText, out int endOfText) && !added.Any(a => a.Content == Gpt2EndOfText))
            added.Add(new AddedToken(endOfText, Gpt2EndOfText, Special: true));
        return new ByteLevelBpeBackend(vocabulary, merges, added, Gpt2SplitPattern, normalization: null, addPrefixSpace: false, ignoreMerges: false, splitBeforeByteLevel: false, template: null,
            useGpt2SpecialTokenDefaults: !settings.HasConfig);
    }

    const string Gpt2EndOfText = "<|endoftext|>";

    /// <summary>GPT2Tokenizer's defaults for vocab.json + merges.txt without tokenizer_config.json: bos, eos and unk are all &lt;|endoftext|&gt;.</summary>
    public override IReadOnlyDictionary<string, string> DefaultSpecialTokens =>
        _useGpt2SpecialTokenDefaults && _vocabulary.ContainsKey(Gpt2EndOfText)
            ? new Dictionary<string, string> { ["bos_token"] = Gpt2EndOfText, ["eos_token"] = Gpt2EndOfText, ["unk_token"] = Gpt2EndOfText }
            : new Dictionary<string, string>();

    /// <summary>True when tokenizer.json describes byte-level BPE: a BPE model with a ByteLevel pre-tokenizer.</summary>
    public static bool IsByteLevelBpe(JsonElement tokenizerJson) =>
        tokenizerJson.Property("model")?.Property("type")?.GetString() == "BPE"
        && tokenizerJson.Property("pre_tokenizer") is { } pre && FindByType(pre, "ByteLevel").Any();

    public static ByteLevelBpeBackend FromTokenizerJson(JsonElement root, string path)
    {
        var model = root.Property("model") ?? throw new InvalidInputException($"{path}: missing \"model\"");
        var vocabulary = ReadVocabulary(model.Property("vocab") ?? throw new InvalidInputException($"{path}: model has no \"vocab\""), path + " model.vocab");
        var merges = ReadMerges(model.Property("merges"), path);
        foreach (string unsupported in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.String(unsupported, path) is { Length: > 0 } value)
                throw new InvalidInputException($"{path}: model.{unsupported} = \"{value}\" is not supported for byte-level BPE");

        var added = ReadAddedTokens(root, path);

        var preTokenizer = root.Property("pre_tokenizer")!.Value;
        var byteLevel = FindByType(preTokenizer, "ByteLevel").First();
        bool addPrefixSpace = byteLevel.Bool("add_prefix_space", path) ?? false;
        var splits = FindByType(preTokenizer, "Split").ToList();
        if (splits.Count > 1) throw new InvalidInputException($"{path}: pre_tokenizer has {splits.Count} Split steps; one is supported");
        string? pattern = splits.Count == 1 ? SplitPattern(splits[0], path) : byteLevel.Bool("use_regex", path) ?? true ? Gpt2SplitPattern : null;
        foreach (var step in Steps(preTokenizer))
            if (step.String("type", path) is { } type && type is not ("ByteLevel" or "Split"))
                throw new InvalidInputException($"{path}: pre_tokenizer step \"{type}\" is not supported (expected ByteLevel and at most one Split)");

        return new ByteLevelBpeBackend(vocabulary, merges, added, pattern, ReadNormalization(root.Property("normalizer"), path),
            addPrefixSpace, model.Bool("ignore_merges", path) ?? false, splitBeforeByteLevel: splits.Count == 1, ReadTemplate(root.Property("post_processor"), path),
            useGpt2SpecialTokenDefaults: false);
    }

    /// <summary>tokenizer.json's "added_tokens", with their lstrip / rstrip / single_word / normalized flags.</summary>
    internal static List<AddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        var added = new List<AddedToken>();
        if (root.Property("added_tokens") is not { } addedTokens) return added;
        if (addedTokens.ValueKind != JsonValueKind.Array) throw new InvalidInputException($"{path}: \"added_tokens\" should be a list");
        foreach (var token in addedTokens.EnumerateArray())
        {
            int id = (token.Property("id") ?? throw new InvalidInputException($"{path}: an added_tokens entry has no \"id\"")).ToInt("added_tokens id", path);
            string content = token.String("content", path) ?? throw new InvalidInputException($"{path}: added token {id} has no \"content\"");
            added.Add(AddedToken.Read(token, id, content, path));
        }
        return added;
    }

    internal static Dictionary<string, int> ReadVocabulary(JsonElement vocab, string where)
    {
        if (vocab.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{where}: expected an object from token to id, found {vocab.ValueKind}");
        var vocabulary = new Dictionary<string, int>();
        foreach (var entry in vocab.EnumerateObject()) vocabulary[entry.Name] = entry.Value.ToInt($"the id of token \"{entry.Name}\"", where);
        return vocabulary;
    }

    /// <summary>Merges as "a b" strings (older tokenizer.json) or [a, b] pairs (tokenizers ≥ 0.20).</summary>
    internal static List<string> ReadMerges(JsonElement? merges, string path)
    {
        if (merges is not { ValueKind: JsonValueKind.Array } list) throw new InvalidInputException($"{path}: model.merges should be a list");
        var result = new List<string>();
        foreach (var merge in list.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String && merge.GetString()!.Split(' ') is [var left, var right]) result.Add($"{left} {right}");
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String))
                result.Add($"{merge[0].GetString()} {merge[1].GetString()}");
            else throw new InvalidInputException($"{path}: model.merges entry {merge} should be \"a b\" or [\"a\", \"b\"]");
        }
        return result;
    }

    static string SplitPattern(JsonElement split, string path)
    {
        if (split.String("behavior", path) is { } behavior && behavior != "Isolated")
            throw new InvalidInputException($"{path}: Split behavior \"{behavior}\" is not supported (expected Isolated)");
        if (split.Bool("invert", path) == true) throw new InvalidInputException($"{path}: Split with invert = true is not supported");
        var pattern = split.Property("pattern") ?? throw new InvalidInputException($"{path}: Split has no \"pattern\"");
        if (pattern.String("Regex", path) is { } regex) return regex;
        if (pattern.String("String", path) is { } literal) return Regex.Escape(literal);
        throw new InvalidInputException($"{path}: Split pattern should be {{\"Regex\": ...}} or {{\"String\": ...}}");
    }

    static NormalizationForm? ReadNormalization(JsonElement? normalizer, string path)
    {
        if (normalizer is null) return null;
        string? type = normalizer.Value.String("type", path);
        return type switch
        {
            "NFC" => NormalizationForm.FormC,
            "NFD" => NormalizationForm.FormD,
            "NFKC" => NormalizationForm.FormKC,
            "NFKD" => NormalizationForm.FormKD,
            "Sequence" when normalizer.Value.Property("normalizers") is { ValueKind: JsonValueKind.Array } list && list.GetArrayLength() == 0 => null,
            "Sequence" when normalizer.Value.Property("normalizers") is { ValueKind: JsonValueKind.Array } list && list.GetArrayLength() == 1 => ReadNormalization(list[0], path),
            _ => throw new InvalidInputException($"{path}: normalizer \"{type}\" is not supported for byte-level BPE (expected none, NFC, NFD, NFKC or NFKD)"),
        };
    }

    /// <summary>The special tokens a TemplateProcessing post-processor puts before and after "$A" (e.g. Llama-3's &lt;|begin_of_text|&gt;).</summary>
    internal static (IReadOnlyList<string>, IReadOnlyList<string>)? ReadTemplate(JsonElement? postProcessor, string path)
    {
        if (postProcessor is null) return null;
        var template = FindByType(postProcessor.Value, "TemplateProcessing").FirstOrDefault();
        if (template.ValueKind != JsonValueKind.Object || template.Property("single") is not { ValueKind: JsonValueKind.Array } single) return null;
        var prefix = new List<string>();
        var suffix = new List<string>();
        bool seenSequence = false;
        foreach (var piece in single.EnumerateArray())
        {
            if (piece.Property("Sequence") is not null) { seenSequence = true; continue; }
            string token = piece.Property("SpecialToken")?.String("id", path)
                ?? throw new InvalidInputException($"{path}: post_processor.single entry {piece} should be a Sequence or a SpecialToken");
            (seenSequence ? suffix : prefix).Add(token);
        }
        return (prefix, suffix);
    }

    /// <summary>The element itself and, for a "Sequence", its steps (pretokenizers / processors).</summary>
    static IEnumerable<JsonElement> Steps(JsonElement element)
    {
        if (element.Property("type")?.GetString() == "Sequence")
        {
            foreach (string key in new[] { "pretokenizers", "processors" })
                if (element.Property(key) is { ValueKind: JsonValueKind.Array } steps)
                    foreach (var step in steps.EnumerateArray()) foreach (var inner in Steps(step)) yield return inner;
        }
        else yield return element;
    }

    static IEnumerable<JsonElement> FindByType(JsonElement element, string type) =>
        Steps(element).Where(step => step.Property("type") is { ValueKind: JsonValueKind.String } t && t.GetString() == type);
}
