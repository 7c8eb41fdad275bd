using System.Text;
using WeakToStrong.Tokenization;
using static WeakToStrong.Tests.Tokenization.SentencePieceModelBuilder;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>
/// SentencePiece BPE on a tiny model written by <see cref="SentencePieceModelBuilder"/>. Expected ids are worked out by
/// hand: text becomes "▁"-joined words, pieces listed earlier merge first, and characters without a piece fall back to
/// the byte pieces &lt;0xNN&gt; (id 3 + byte).
/// </summary>
public class SentencePieceTokenizerTests : IDisposable
{
    static readonly string[] Pieces = ["▁h", "▁he", "ll", "llo", "▁hello", "▁w", "or", "▁wor", "ld", "▁world", "▁", "h", "e", "l", "o", "w", "r", "d"];
    static int Id(string piece) => FirstNormalId + Array.IndexOf(Pieces, piece);
    static int ByteId(byte value) => FirstByteId + value;

    readonly TemporaryModelDirectory _directory = new TemporaryModelDirectory().Write("tokenizer.model", Build(Pieces));
    public void Dispose() => _directory.Dispose();

    HfTokenizer Load() => HfTokenizer.Load(_directory.Path);

    [Fact]
    public void Reads_the_model_and_its_special_tokens()
    {
        var tokenizer = Load();
        Assert.Equal(TokenizerKind.SentencePiece, tokenizer.Kind);
        Assert.Equal(FirstNormalId + Pieces.Length, tokenizer.VocabSize);
        Assert.Equal(BosId, tokenizer.BosTokenId);
        Assert.Equal(EosId, tokenizer.EosTokenId);
        Assert.Null(tokenizer.PadTokenId);
        Assert.Equal([EosId], tokenizer.EosTokenIds);
        Assert.Equal("<0x41>", tokenizer.IdToToken(ByteId(0x41)));
        Assert.Equal(Id("▁hello"), tokenizer.TokenToId("▁hello"));
    }

    [Fact]
    public void Words_get_a_leading_word_boundary_and_bos_is_added_with_special_tokens()
    {
        var tokenizer = Load();
        Assert.Equal([Id("▁hello"), Id("▁world")], tokenizer.Encode("hello world"));
        Assert.Equal([BosId, Id("▁hello"), Id("▁world")], tokenizer.Encode("hello world", addSpecialTokens: true));
        // A second space is a "▁" of its own.
        Assert.Equal([Id("▁hello"), Id("▁"), Id("▁world")], tokenizer.Encode("hello  world"));
        // ▁ w o l d: "▁w" merges first, then "ld"; "▁wo" is no piece.
        Assert.Equal([Id("▁w"), Id("o"), Id("ld")], tokenizer.Encode("wold"));
    }

    [Fact]
    public void Characters_without_a_piece_fall_back_to_bytes()
    {
        var tokenizer = Load();
        int[] expected = [Id("▁h"), ByteId(0xC3), ByteId(0xA9), Id("llo")];
        Assert.Equal(expected, tokenizer.Encode("héllo"));
        Assert.Equal("héllo", tokenizer.Decode(expected));
        Assert.Equal([Id("▁"), ByteId(0xF0), ByteId(0x9F), ByteId(0x98), ByteId(0x80)], tokenizer.Encode("😀"));
    }

    [Fact]
    public void Decode_drops_the_dummy_prefix_and_handles_special_tokens()
    {
        var tokenizer = Load();
        int[] ids = [BosId, Id("▁hello"), Id("▁"), Id("▁world"), EosId];
        Assert.Equal("hello  world", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("<s>hello  world</s>", tokenizer.Decode(ids));
        Assert.Equal(" hello", tokenizer.Decode(tokenizer.Encode(" hello")));
    }

    [Fact]
    public void DecodeToBytes_returns_byte_pieces_raw_even_when_a_character_is_cut()
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode("héllo");
        Assert.Equal(new byte[] { (byte)'h', 0xC3 }, tokenizer.DecodeToBytes(ids.Take(2)));
        Assert.Equal("h\uFFFD", tokenizer.Decode(ids.Take(2)));
        Assert.Equal(Encoding.UTF8.GetBytes("héllo"), tokenizer.DecodeToBytes(ids));
    }

    [Fact]
    public void Tokenizer_config_can_turn_bos_off_and_eos_on()
    {
        _directory.Write("tokenizer_config.json", """{"add_bos_token": false, "add_eos_token": true, "bos_token": {"content": "<s>"}, "eos_token": "</s>"}""");
        Assert.Equal([Id("▁hello"), EosId], Load().Encode("hello", addSpecialTokens: true));
    }

    /// <summary>
    /// As the fast tokenizer transformers converts from tokenizer.model: legacy (the default) gives every piece of text
    /// after an added token its own dummy prefix; legacy = false only the piece that starts the text, and not when it
    /// already starts with a space.
    /// </summary>
    [Fact]
    public void The_dummy_prefix_follows_added_tokens_as_legacy_says()
    {
        var legacy = Load();
        Assert.Equal([Id("▁hello"), EosId, Id("▁world")], legacy.Encode("hello</s>world"));
        Assert.Equal([Id("▁"), Id("▁hello")], legacy.Encode(" hello"));

        _directory.Write("tokenizer_config.json", """{"legacy": false}""");
        var current = Load();
        Assert.Equal([Id("▁hello"), EosId, Id("w"), Id("or"), Id("ld")], current.Encode("hello</s>world"));
        Assert.Equal([Id("▁hello")], current.Encode(" hello"));
        Assert.Equal([BosId, Id("h"), Id("e"), Id("llo")], current.Encode("<s>hello"));
    }

    [Fact]
    public void Without_a_dummy_prefix_the_first_word_has_no_boundary()
    {
        _directory.Write("tokenizer.model", Build(Pieces, addDummyPrefix: false));
        Assert.Equal([Id("h"), Id("e"), Id("llo"), Id("▁world")], Load().Encode("hello world"));
    }
}
