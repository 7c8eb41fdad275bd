namespace WeakToStrong.Tokenization;

/// <summary>The tokenization algorithm a model directory uses.</summary>
public enum TokenizerKind
{
    /// <summary>GPT-2 style BPE over bytes mapped to printable characters (GPT-2, Llama-3, Qwen2).</summary>
    ByteLevelBpe,
    /// <summary>SentencePiece BPE from <c>tokenizer.model</c> (Llama-2, Mistral), with byte fallback.</summary>
    SentencePiece,
    /// <summary>BERT WordPiece from <c>vocab.txt</c> (BERT, DistilBERT).</summary>
    WordPiece,
}
