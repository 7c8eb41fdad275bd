using System.Text;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>
/// Writes a tiny SentencePiece BPE <c>tokenizer.model</c> (the ModelProto protobuf) in the Llama-2 layout:
/// &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte-fallback pieces &lt;0x00&gt;…&lt;0xFF&gt;, then the given normal pieces.
/// Field numbers are those of sentencepiece_model.proto. No Python sentencepiece is needed.
/// </summary>
internal static class SentencePieceModelBuilder
{
    public const int UnknownId = 0, BosId = 1, EosId = 2, FirstByteId = 3, FirstNormalId = 3 + 256;

    const int Normal = 1, Unknown = 2, Control = 3, ByteType = 6;
    const int BpeModelType = 2;

    /// <summary>Normal pieces get ids from <see cref="FirstNormalId"/> on; SentencePiece BPE merges into the highest-scoring piece first, so earlier pieces win.</summary>
    public static byte[] Build(IReadOnlyList<string> normalPieces, bool addDummyPrefix = true)
    {
        var model = new MemoryStream();
        void Piece(string text, float score, int type)
        {
            var piece = new MemoryStream();
            WriteBytes(piece, 1, Encoding.UTF8.GetBytes(text));
            WriteTag(piece, 2, wireType: 5);
            piece.Write(BitConverter.GetBytes(score));
            WriteVarintField(piece, 3, type);
            WriteBytes(model, 1, piece.ToArray());
        }
        Piece("<unk>", 0, Unknown);
        Piece("<s>", 0, Control);
        Piece("</s>", 0, Control);
        for (int b = 0; b < 256; b++) Piece($"<0x{b:X2}>", 0, ByteType);
        for (int i = 0; i < normalPieces.Count; i++) Piece(normalPieces[i], -i, Normal);

        var trainer = new MemoryStream();
        WriteVarintField(trainer, 3, BpeModelType);
        WriteVarintField(trainer, 4, FirstNormalId + normalPieces.Count);
        WriteVarintField(trainer, 35, 1); // byte_fallback
        WriteVarintField(trainer, 40, UnknownId);
        WriteVarintField(trainer, 41, BosId);
        WriteVarintField(trainer, 42, EosId);
        WriteVarintField(trainer, 43, -1); // pad_id: none, as in Llama-2
        WriteBytes(model, 2, trainer.ToArray());

        var normalizer = new MemoryStream();
        WriteBytes(normalizer, 1, "identity"u8.ToArray());
        WriteVarintField(normalizer, 3, addDummyPrefix ? 1 : 0);
        WriteVarintField(normalizer, 4, 0); // remove_extra_whitespaces = false, as in Llama-2
        WriteVarintField(normalizer, 5, 1); // escape_whitespaces
        WriteBytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    static void WriteTag(Stream stream, int field, int wireType) => WriteVarint(stream, (ulong)(field << 3 | wireType));

    static void WriteVarintField(Stream stream, int field, long value)
    {
        WriteTag(stream, field, wireType: 0);
        WriteVarint(stream, unchecked((ulong)value)); // negative int32 is sign-extended to 10 bytes, as protobuf does
    }

    static void WriteBytes(Stream stream, int field, byte[] bytes)
    {
        WriteTag(stream, field, wireType: 2);
        WriteVarint(stream, (ulong)bytes.Length);
        stream.Write(bytes);
    }

    static void WriteVarint(Stream stream, ulong value)
    {
        do
        {
            byte low = (byte)(value & 0x7F);
            value >>= 7;
            stream.WriteByte(value != 0 ? (byte)(low | 0x80) : low);
        } while (value != 0);
    }
}
