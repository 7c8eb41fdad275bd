using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace WeakToStrong.Tokenization;

/// <summary>
/// BERT WordPiece from <c>vocab.txt</c> (one token per line, id = line number) on <see cref="BertTokenizer"/>,
/// with BERT's basic tokenization: lowercasing and accent stripping per <c>do_lower_case</c> / <c>strip_accents</c>,
/// punctuation split, CJK characters split.
/// </summary>
internal sealed class WordPieceBackend : TokenizerBackend
{
    public const string VocabFile = "vocab.txt";

    readonly BertTokenizer _bert;
    readonly Dictionary<string, int> _vocabulary;
    readonly string _classificationToken, _separatorToken;

    public override TokenizerKind Kind => TokenizerKind.WordPiece;
    public override IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;
    public override IReadOnlyList<AddedToken> AddedTokens { get; }
    public override IReadOnlyDictionary<string, string> DefaultSpecialTokens { get; }
    /// <summary>BERT frames one sequence as [CLS] … [SEP].</summary>
    public override (IReadOnlyList<string> Prefix, IReadOnlyList<string> Suffix)? SingleSequenceTemplate => ([_classificationToken], [_separatorToken]);

    WordPieceBackend(BertTokenizer bert, Dictionary<string, int> vocabulary, IReadOnlyList<AddedToken> addedTokens, Dictionary<string, string> specialTokens)
    {
        _bert = bert;
        _vocabulary = vocabulary;
        AddedTokens = addedTokens;
        DefaultSpecialTokens = specialTokens;
        _classificationToken = specialTokens["cls_token"];
        _separatorToken = specialTokens["sep_token"];
    }

    public static WordPieceBackend Load(string directory, TokenizerSettings settings)
    {
        string path = Path.Combine(directory, VocabFile);
        var vocabulary = new Dictionary<string, int>();
        int lineNumber = 0;
        var lines = Data.StrictUtf8.ReadAllText(path).Split('\n');
        foreach (string line in lines[^1].Length == 0 ? lines[..^1] : lines) vocabulary[line.TrimEnd('\r')] = lineNumber++; // a repeated token keeps its last id, as HF's load_vocab
        if (vocabulary.Count == 0) throw new InvalidInputException($"{path}: expected one WordPiece token per line, found an empty file");

        // BertTokenizer's defaults, overridden by the side files.
        var special = new Dictionary<string, string>
        {
            ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
        };
        foreach (var (role, token) in settings.SpecialTokens) special[role] = token.Content;
        foreach (var (role, token) in special)
            if (!vocabulary.ContainsKey(token))
                throw new InvalidInputException($"{path}: {role} \"{token}\" (from {SourceOf(role, settings)}) is not in the vocabulary");

        bool lowerCase = settings.DoLowerCase ?? true;
        // BertTokenizer's own pre-tokenizer drops symbols such as "€" or "😀"; HF keeps them as words (which then
        // usually become [UNK]). So words are split here as HF's BasicTokenizer does: on whitespace, and around
        // every punctuation character (Unicode P* plus the ASCII symbols HF counts as punctuation).
        // The library lowercases before pre-tokenizing, so special tokens are also recognised in lowercase.
        var specialIds = new Dictionary<string, int>();
        foreach (string token in special.Values)
        {
            specialIds[token] = vocabulary[token];
            if (lowerCase) specialIds[token.ToLowerInvariant()] = vocabulary[token];
        }
        var hfWordSplit = new RegexPreTokenizer(new Regex($"[{HfPunctuation}]|[^\\s{HfPunctuation}]+", RegexOptions.Compiled), specialIds);
        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = lowerCase,
            // HF: strip_accents = null means "strip when lowercasing".
            RemoveNonSpacingMarks = settings.StripAccents ?? lowerCase,
            IndividuallyTokenizeCjk = settings.TokenizeChineseChars ?? true,
            ApplyBasicTokenization = true,
            PreTokenizer = hfWordSplit,
            SpecialTokens = specialIds,
            SplitOnSpecialTokens = true,
            UnknownToken = special["unk_token"],
            SeparatorToken = special["sep_token"],
            PaddingToken = special["pad_token"],
            ClassificationToken = special["cls_token"],
            MaskingToken = special["mask_token"],
        };
        BertTokenizer bert;
        try { bert = BertTokenizer.Create(path, options); }
        catch (Exception e) when (e is not InvalidInputException) { throw new InvalidInputException($"{path}: not a usable WordPiece vocabulary: {e.Message}", e); }
        foreach (var added in settings.AddedTokens) vocabulary.TryAdd(added.Content, added.Id);
        return new WordPieceBackend(bert, vocabulary, settings.AddedTokens, special);
    }

    const string HfPunctuation = @"\p{P}$+<=>^`|~";

    static string SourceOf(string role, TokenizerSettings settings) =>
        settings.SpecialTokens.TryGetValue(role, out var token) ? token.SourceFile : "BertTokenizer's default";

    public override IReadOnlyList<int> Encode(string text) => _bert.EncodeToIds(text, addSpecialTokens: false);

    /// <summary>Tokens joined with spaces and "##" continuations glued on, by the library.</summary>
    public override string Decode(IReadOnlyList<int> ids) => _bert.Decode(ids, skipSpecialTokens: false);

    public override byte[] DecodeToBytes(IReadOnlyList<int> ids) => Encoding.UTF8.GetBytes(Decode(ids));
}
