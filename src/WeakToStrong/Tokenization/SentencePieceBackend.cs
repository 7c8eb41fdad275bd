using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace WeakToStrong.Tokenization;

/// <summary>
/// SentencePiece BPE from <c>tokenizer.model</c> (Llama-2, Mistral, Zephyr) on <see cref="LlamaTokenizer"/>, for
/// directories without tokenizer.json. Encoding follows the fast tokenizer that transformers converts from this file:
/// added tokens are cut out first, then each piece of text between them gets spaces as "▁" and the dummy-prefix "▁"
/// (add_dummy_prefix) in front: every piece when tokenizer_config.json's legacy is true or unset, only the piece that
/// starts the text (and does not start with a space) when legacy is false. The library adds the prefix only at the start
/// of what it is given, so the pieces are normalized here and handed over as they are. Characters without a piece fall
/// back to &lt;0xNN&gt; byte pieces. Decoding is done here, piece by piece, so that byte pieces can be returned as raw bytes.
/// </summary>
internal sealed partial class SentencePieceBackend : TokenizerBackend
{
    public const string ModelFile = "tokenizer.model";
    const char WordBoundary = '▁';

    readonly SentencePieceTokenizer _sentencePiece;
    readonly Dictionary<string, int> _vocabulary;
    readonly Dictionary<int, string> _pieceOfId = [];
    readonly Dictionary<int, string> _addedContentOfId;
    readonly Dictionary<string, string> _defaultSpecialTokens;
    readonly AddedVocabulary _addedVocabulary;
    readonly bool _legacy;

    public override TokenizerKind Kind => TokenizerKind.SentencePiece;
    public override IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;
    public override IReadOnlyList<AddedToken> AddedTokens { get; }
    public override IReadOnlyDictionary<string, string> DefaultSpecialTokens => _defaultSpecialTokens;

    SentencePieceBackend(SentencePieceTokenizer sentencePiece, IReadOnlyList<AddedToken> addedTokens, bool legacy)
    {
        _sentencePiece = sentencePiece;
        AddedTokens = addedTokens;
        _legacy = legacy;
        _addedVocabulary = new AddedVocabulary(addedTokens.Select(t => t with { Normalized = false }).ToList());
        _vocabulary = new Dictionary<string, int>(sentencePiece.Vocabulary);
        foreach (var (piece, id) in _vocabulary) _pieceOfId[id] = piece;
        _addedContentOfId = addedTokens.ToDictionary(t => t.Id, t => t.Content);
        foreach (var added in addedTokens) _vocabulary[added.Content] = added.Id;
        // The model's own bos/eos/unk pieces are control/unknown pieces: decoded as their text, never as "▁"-words.
        _defaultSpecialTokens = new() { ["bos_token"] = sentencePiece.BeginningOfSentenceToken, ["eos_token"] = sentencePiece.EndOfSentenceToken, ["unk_token"] = sentencePiece.UnknownToken };
        foreach (int id in new[] { sentencePiece.BeginningOfSentenceId, sentencePiece.EndOfSentenceId, sentencePiece.UnknownId })
            if (id >= 0 && _pieceOfId.TryGetValue(id, out string? piece)) _addedContentOfId.TryAdd(id, piece);
    }

    public static SentencePieceBackend Load(string directory, TokenizerSettings settings)
    {
        string path = Path.Combine(directory, ModelFile);
        // Added tokens (and the special tokens the side files name) are matched whole, before SentencePiece runs.
        var atomic = settings.AddedTokens.ToDictionary(t => t.Content, t => t.Id);
        SentencePieceTokenizer sentencePiece;
        try
        {
            using var stream = File.OpenRead(path);
            sentencePiece = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false, specialTokens: atomic.Count > 0 ? atomic : null);
        }
        catch (Exception e) when (e is not InvalidInputException)
        {
            throw new InvalidInputException($"{path}: expected a SentencePiece BPE model (ModelProto protobuf): {e.Message}", e);
        }
        // transformers' conversion to a fast tokenizer makes the model's unk/bos/eos pieces added tokens too, so
        // "</s>" written in the text is the end-of-sequence token.
        var added = new List<AddedToken>(settings.AddedTokens);
        foreach (var (piece, id) in new[] { (sentencePiece.UnknownToken, sentencePiece.UnknownId), (sentencePiece.BeginningOfSentenceToken, sentencePiece.BeginningOfSentenceId), (sentencePiece.EndOfSentenceToken, sentencePiece.EndOfSentenceId) })
            if (id >= 0 && !string.IsNullOrEmpty(piece) && !added.Any(t => t.Content == piece)) added.Add(new AddedToken(id, piece, Special: true));
        return new SentencePieceBackend(sentencePiece, added, settings.Legacy ?? true);
    }

    public override IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        foreach (var segment in _addedVocabulary.SplitRaw(text))
        {
            if (segment.AddedTokenId is { } addedId) { ids.Add(addedId); continue; }
            if (segment.Text.Length == 0) continue;
            string pieces = segment.Text.Replace(' ', WordBoundary);
            bool dummyPrefix = _sentencePiece.AddDummyPrefix && (_legacy || segment.Offset == 0 && pieces[0] != WordBoundary);
            if (dummyPrefix) pieces = WordBoundary + pieces;
            ids.AddRange(_sentencePiece.EncodeToIds(pieces, addBeginningOfSentence: false, addEndOfSentence: false, considerPreTokenization: false, considerNormalization: false));
        }
        return ids;
    }

    /// <summary>
    /// Pieces with "▁" turned back into spaces, &lt;0xNN&gt; pieces as single bytes, added and control tokens as their
    /// text. The space that add_dummy_prefix put in front of the first word is dropped, as HF's legacy decode does.
    /// Ids outside the vocabulary are skipped.
    /// </summary>
    public override byte[] DecodeToBytes(IReadOnlyList<int> ids)
    {
        var bytes = new List<byte>();
        bool atTextStart = true;
        foreach (int id in ids)
        {
            if (_addedContentOfId.TryGetValue(id, out string? content)) { bytes.AddRange(Encoding.UTF8.GetBytes(content)); continue; }
            if (!_pieceOfId.TryGetValue(id, out string? piece)) continue;
            if (_sentencePiece.ByteFallback && BytePiece().Match(piece) is { Success: true } match)
                bytes.Add(Convert.ToByte(match.Groups[1].Value, 16));
            else
            {
                if (atTextStart && _sentencePiece.AddDummyPrefix && piece.Length > 0 && piece[0] == WordBoundary) piece = piece[1..];
                bytes.AddRange(Encoding.UTF8.GetBytes(piece.Replace(WordBoundary, ' ')));
            }
            atTextStart = false;
        }
        return [.. bytes];
    }

    [GeneratedRegex("^<0x([0-9A-Fa-f]{2})>$")]
    private static partial Regex BytePiece();
}
