namespace WeakToStrong.Tokenization;

/// <summary>
/// A Hugging Face tokenizer loaded from a model directory, encoding and decoding as HF's fast tokenizers
/// (tokenizer.json through the <c>tokenizers</c> library) do, with HF's conventions for special tokens. This class reads
/// the HF files and applies the special-token policy; the backends run the format's steps, on Microsoft.ML.Tokenizers'
/// BPE / SentencePiece / WordPiece models where those fit:
/// <list type="bullet">
/// <item><c>tokenizer.json</c> with a byte-level BPE model (GPT-2, Llama-3, Qwen2), or with a SentencePiece-style BPE
/// model (Llama-2, Mistral, Zephyr: "▁"-marked words from a Prepend/Replace normalizer or a Metaspace pre-tokenizer,
/// byte fallback), else</item>
/// <item><c>tokenizer.model</c>: SentencePiece BPE (Llama-2, Mistral), encoded as transformers' conversion of it to a
/// fast tokenizer would be (the dummy prefix after added tokens per tokenizer_config.json's <c>legacy</c>), else</item>
/// <item><c>vocab.json</c> + <c>merges.txt</c>: GPT-2 byte-level BPE, else</item>
/// <item><c>vocab.txt</c>: BERT WordPiece.</item>
/// </list>
/// Added tokens in the text (e.g. "&lt;/s&gt;", "&lt;|eot_id|&gt;") are matched whole before anything else, honouring
/// their lstrip / rstrip / single_word / normalized flags. Special tokens come from <c>tokenizer_config.json</c>, then
/// <c>special_tokens_map.json</c>, then the format's own defaults; <c>generation_config.json</c> adds end-of-sequence ids.
/// Bad or missing files raise <see cref="InvalidInputException"/> naming the file.
/// <para>Conformance: the real Mistral-7B (legacy and Metaspace forms) and Meta-Llama-3-8B-Instruct tokenizers give
/// exactly transformers.js's ids and decoded text on every golden text (tests/fixtures/tokenizers/README.md).</para>
/// <para>Known differences from HF: split regexes and single_word use .NET's Unicode tables and \s / \w, which may
/// classify a character differently from HF's Oniguruma / Rust regex where the Unicode versions differ (characters outside
/// the BMP are handled; see <see cref="SplitRegex"/>); the tokenizer.model path merges by SentencePiece piece scores,
/// not by the merges list transformers would generate from them (the same order for real models, not checked here on a
/// real file); decode cleans up tokenization spaces only when tokenizer_config.json sets clean_up_tokenization_spaces,
/// and <see cref="DecodeToBytes"/> never does; WordPiece also recognises lowercased special tokens ("[sep]") when
/// lowercasing; unsupported normalizers, pre-tokenizers and decoders are refused rather than approximated.</para>
/// </summary>
public sealed class HfTokenizer
{
    readonly TokenizerBackend _backend;
    readonly Dictionary<int, string> _tokenOfId = [];
    readonly HashSet<int> _specialIds = [];
    readonly int[] _framePrefix, _frameSuffix;
    readonly bool _cleanUpTokenizationSpaces;

    public string ModelDirectory { get; }
    public TokenizerKind Kind => _backend.Kind;
    /// <summary>Number of distinct ids, added tokens included (HF's len(tokenizer)).</summary>
    public int VocabSize => _tokenOfId.Count;
    public IReadOnlyDictionary<string, int> Vocabulary => _backend.Vocabulary;
    public int? BosTokenId { get; }
    public int? EosTokenId { get; }
    public int? PadTokenId { get; }
    public int? UnkTokenId { get; }
    /// <summary>Every id that ends generation: the tokenizer's eos, then generation_config.json's eos_token_id (an int or a list).</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>The file the vocabulary was read from (tokenizer.json, tokenizer.model, vocab.json or vocab.txt).</summary>
    public string VocabularyFile { get; }

    /// <summary>The highest id the tokenizer can produce, added tokens included (-1 for an empty vocabulary).</summary>
    public int MaxId { get; }

    HfTokenizer(string directory, TokenizerBackend backend, TokenizerSettings settings, string vocabularyFile)
    {
        ModelDirectory = directory;
        VocabularyFile = vocabularyFile;
        _backend = backend;
        foreach (var (token, id) in backend.Vocabulary) _tokenOfId.TryAdd(id, token);
        MaxId = _tokenOfId.Count == 0 ? -1 : _tokenOfId.Keys.Max();

        var roleIds = new Dictionary<string, int>();
        foreach (string role in TokenizerSettings.Roles)
        {
            (string Content, string Source)? token = settings.SpecialTokens.TryGetValue(role, out var named) ? (named.Content, named.SourceFile)
                : !settings.ExplicitlyUnset.Contains(role) && backend.DefaultSpecialTokens.TryGetValue(role, out string? fallback) ? (fallback, $"the {backend.Kind} default")
                : null;
            if (token is not { } t) continue;
            roleIds[role] = TokenToId(t.Content) ?? throw new InvalidInputException($"{t.Source}: {role} \"{t.Content}\" is not in the vocabulary of {directory}");
        }
        foreach (var token in settings.AdditionalSpecialTokens)
            _specialIds.Add(TokenToId(token.Content) ?? throw new InvalidInputException($"{token.SourceFile}: additional special token \"{token.Content}\" is not in the vocabulary of {directory}"));
        foreach (var added in backend.AddedTokens.Where(t => t.Special)) _specialIds.Add(added.Id);
        _specialIds.UnionWith(roleIds.Values);

        BosTokenId = roleIds.TryGetValue("bos_token", out int bos) ? bos : null;
        EosTokenId = roleIds.TryGetValue("eos_token", out int eos) ? eos : null;
        PadTokenId = roleIds.TryGetValue("pad_token", out int pad) ? pad : null;
        UnkTokenId = roleIds.TryGetValue("unk_token", out int unk) ? unk : null;

        var endIds = new List<int>();
        if (EosTokenId is { } eosId) endIds.Add(eosId);
        foreach (int id in settings.GenerationEosTokenIds)
        {
            if (!_tokenOfId.ContainsKey(id)) throw new InvalidInputException($"{settings.GenerationConfigPath}: eos_token_id {id} is not an id of the tokenizer in {directory} (vocabulary size {VocabSize})");
            if (!endIds.Contains(id)) endIds.Add(id);
        }
        EosTokenIds = endIds;
        _specialIds.UnionWith(endIds);

        (_framePrefix, _frameSuffix) = Framing(backend, settings, roleIds, directory);
        _cleanUpTokenizationSpaces = settings.CleanUpTokenizationSpaces ?? false;
    }

    /// <summary>
    /// The ids HF adds around one sequence when add_special_tokens is true: add_bos_token / add_eos_token from
    /// tokenizer_config.json when given (default true / false for SentencePiece), else tokenizer.json's post-processor
    /// template ([CLS] … [SEP] for WordPiece), else nothing (GPT-2).
    /// </summary>
    static (int[], int[]) Framing(TokenizerBackend backend, TokenizerSettings settings, Dictionary<string, int> roleIds, string directory)
    {
        int[] RoleIf(bool wanted, string role) => wanted && roleIds.TryGetValue(role, out int id) ? [id] : [];
        bool explicitFlags = settings.AddBosToken is not null || settings.AddEosToken is not null;
        if (backend.Kind == TokenizerKind.SentencePiece || explicitFlags && backend.Kind == TokenizerKind.ByteLevelBpe)
        {
            bool defaultBos = backend.Kind == TokenizerKind.SentencePiece;
            return (RoleIf(settings.AddBosToken ?? defaultBos, "bos_token"), RoleIf(settings.AddEosToken ?? false, "eos_token"));
        }
        if (backend.SingleSequenceTemplate is not { } template) return ([], []);
        int Id(string token) => backend.Vocabulary.TryGetValue(token, out int id) ? id
            : throw new InvalidInputException($"{Path.Combine(directory, ByteLevelBpeBackend.TokenizerJsonFile)}: post_processor token \"{token}\" is not in the vocabulary");
        return ([.. template.Prefix.Select(Id)], [.. template.Suffix.Select(Id)]);
    }

    /// <summary>Reads the tokenizer of a Hugging Face model directory, choosing the format from the files present (see the class summary).</summary>
    public static HfTokenizer Load(string modelDirectory)
    {
        if (!Directory.Exists(modelDirectory)) throw new InvalidInputException($"{modelDirectory}: tokenizer directory does not exist");
        var settings = TokenizerSettings.Load(modelDirectory);
        string File(string name) => Path.Combine(modelDirectory, name);

        string? unusedTokenizerJson = null;
        if (System.IO.File.Exists(File(ByteLevelBpeBackend.TokenizerJsonFile)))
        {
            string path = File(ByteLevelBpeBackend.TokenizerJsonFile);
            var root = JsonFiles.ReadObject(path);
            if (ByteLevelBpeBackend.IsByteLevelBpe(root)) return new HfTokenizer(modelDirectory, ByteLevelBpeBackend.FromTokenizerJson(root, path), settings, path);
            if (SentencePieceBpeBackend.IsSentencePieceStyleBpe(root)) return new HfTokenizer(modelDirectory, SentencePieceBpeBackend.FromTokenizerJson(root, path), settings, path);
            unusedTokenizerJson = $"{path} has model.type \"{root.Property("model")?.Property("type")}\", which is read only through the files below; ";
        }
        if (System.IO.File.Exists(File(SentencePieceBackend.ModelFile)))
            return new HfTokenizer(modelDirectory, SentencePieceBackend.Load(modelDirectory, settings), settings, File(SentencePieceBackend.ModelFile));
        if (System.IO.File.Exists(File(ByteLevelBpeBackend.VocabJsonFile)) && System.IO.File.Exists(File(ByteLevelBpeBackend.MergesFile)))
            return new HfTokenizer(modelDirectory, ByteLevelBpeBackend.FromVocabAndMerges(modelDirectory, settings), settings, File(ByteLevelBpeBackend.VocabJsonFile));
        if (System.IO.File.Exists(File(WordPieceBackend.VocabFile)))
            return new HfTokenizer(modelDirectory, WordPieceBackend.Load(modelDirectory, settings), settings, File(WordPieceBackend.VocabFile));

        throw new InvalidInputException($"{modelDirectory}: no tokenizer found; {unusedTokenizerJson}looked for {ByteLevelBpeBackend.TokenizerJsonFile} (byte-level BPE), "
            + $"{SentencePieceBackend.ModelFile} (SentencePiece), {ByteLevelBpeBackend.VocabJsonFile} + {ByteLevelBpeBackend.MergesFile} (GPT-2 BPE), {WordPieceBackend.VocabFile} (WordPiece)");
    }

    /// <summary>
    /// Refuses pairing this tokenizer with a model whose embedding has no row for some of its ids (Llama-style added
    /// tokens beyond vocab_size): any text could encode to one of them. A model with more rows than the tokenizer has
    /// ids is fine, as many real ones are padded.
    /// </summary>
    public void RequireIdsWithin(Models.ModelConfig config)
    {
        if (MaxId < config.VocabSize) return;
        int beyond = _tokenOfId.Keys.Count(id => id >= config.VocabSize);
        bool added = _backend.AddedTokens.Any(t => t.Id == MaxId);
        throw new InvalidInputException(
            $"{VocabularyFile}{(added ? " with its added tokens" : "")}: the tokenizer has {beyond} token id(s) at or beyond {config.VocabSize} (up to {MaxId}, {(added ? "added token" : "token")} \"{_tokenOfId[MaxId]}\"), "
            + $"but {config.Path} has vocab_size {config.VocabSize}; expected every tokenizer id below the model's vocabulary size");
    }

    public string? IdToToken(int id) => _tokenOfId.GetValueOrDefault(id);

    public int? TokenToId(string token) => _backend.Vocabulary.TryGetValue(token, out int id) ? id : null;

    /// <summary>bos/eos/unk/pad/cls/sep/mask, additional special tokens, added tokens marked special, and generation eos ids.</summary>
    public bool IsSpecial(int id) => _specialIds.Contains(id);

    /// <summary>Token ids of <paramref name="text"/>; added tokens in the text are matched whole. With <paramref name="addSpecialTokens"/>, HF's framing is added (bos for Llama/SentencePiece, [CLS] … [SEP] for WordPiece, nothing for GPT-2).</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var body = _backend.Encode(text);
        return addSpecialTokens ? [.. _framePrefix, .. body, .. _frameSuffix] : body;
    }

    /// <summary>
    /// Ids for a classifier, as HF's <c>tokenizer(text, truncation=True, max_length=maxLength)</c>: the text's tokens
    /// are cut so that they and the framing ([CLS] … [SEP] for WordPiece, bos for SentencePiece) fit in <paramref name="maxLength"/>.
    /// </summary>
    public int[] EncodeForClassification(string text, int maxLength)
    {
        int frameLength = _framePrefix.Length + _frameSuffix.Length;
        if (maxLength <= frameLength)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"must exceed the {frameLength} special tokens added around the text");
        var body = _backend.Encode(text);
        return [.. _framePrefix, .. body.Take(maxLength - frameLength), .. _frameSuffix];
    }

    /// <summary>
    /// The text of <paramref name="ids"/> as HF's decode gives it: the format's decoder, then, where tokenizer_config.json
    /// sets clean_up_tokenization_spaces (Llama-3 does), transformers' clean-up of spaces before punctuation and contractions.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) => CleanUp(_backend.Decode(Select(ids, skipSpecialTokens)));

    /// <summary>The clean-up step of <see cref="Decode"/> alone, for text decoded from <see cref="DecodeToBytes"/>: nothing unless the tokenizer asks for it.</summary>
    public string CleanUp(string decoded) => _cleanUpTokenizationSpaces ? CleanUpTokenizationSpaces(decoded) : decoded;

    /// <summary>transformers' clean_up_tokenization: " ." → ".", " n't" → "n't" and the like.</summary>
    static string CleanUpTokenizationSpaces(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");

    /// <summary>
    /// The UTF-8 bytes the ids stand for, without replacing incomplete characters, so that a caller can tell that
    /// a generation stopped inside a multi-byte character (byte-level BPE: the byte mapping undone; SentencePiece:
    /// &lt;0xNN&gt; pieces as bytes; WordPiece: the decoded text).
    /// </summary>
    public byte[] DecodeToBytes(IEnumerable<int> ids, bool skipSpecialTokens = false) => _backend.DecodeToBytes(Select(ids, skipSpecialTokens));

    IReadOnlyList<int> Select(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return skipSpecialTokens ? ids.Where(id => !_specialIds.Contains(id)).ToList() : ids.ToList();
    }
}
