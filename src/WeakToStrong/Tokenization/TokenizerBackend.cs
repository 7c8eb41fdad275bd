namespace WeakToStrong.Tokenization;

/// <summary>
/// One tokenization algorithm wrapped around a Microsoft.ML.Tokenizers tokenizer. Backends encode plain text
/// (added tokens matched whole, no bos/eos framing) and decode every id they are given; special-token policy
/// (framing, skipping) lives in <see cref="HfTokenizer"/> so that it is the same for every format.
/// </summary>
internal abstract class TokenizerBackend
{
    public abstract TokenizerKind Kind { get; }

    /// <summary>Token to id, added tokens included.</summary>
    public abstract IReadOnlyDictionary<string, int> Vocabulary { get; }

    public abstract IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Special tokens the format itself defines (e.g. the bos/eos/unk pieces of a SentencePiece model), used when no side file names them.</summary>
    public virtual IReadOnlyDictionary<string, string> DefaultSpecialTokens { get; } = new Dictionary<string, string>();

    /// <summary>Tokens that HF puts around a single sequence when add_special_tokens is true (tokenizer.json post_processor), or null when the format does not say.</summary>
    public virtual (IReadOnlyList<string> Prefix, IReadOnlyList<string> Suffix)? SingleSequenceTemplate => null;

    public abstract IReadOnlyList<int> Encode(string text);

    public abstract byte[] DecodeToBytes(IReadOnlyList<int> ids);

    public virtual string Decode(IReadOnlyList<int> ids) => System.Text.Encoding.UTF8.GetString(DecodeToBytes(ids));
}
