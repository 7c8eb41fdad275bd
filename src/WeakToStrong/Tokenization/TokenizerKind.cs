namespace WeakToStrong.Tokenization;

/// <summary>The tokenization algorithm a model directory uses.</summary>
public enum TokenizerKind
{
    /// <summary>GPT-2 style BPE over bytes mapped to printable characters (GPT-2, Llama-3, Qwen2).</summary>
    ByteLevelBpe,
    /// <summary>SentencePiece-style BPE on "▁"-marked words with byte fallback (Llama-2, Mistral), from <c>tokenizer.json</c> or <c>tokenizer.model</c>.</summary>
    SentencePiece,
    /// <summary>BERT WordPiece from <c>vocab.txt</c> (BERT, DistilBERT).</summary>
    WordPiece,
}
