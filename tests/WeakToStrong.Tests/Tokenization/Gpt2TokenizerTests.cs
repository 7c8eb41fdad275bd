using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>Byte-level BPE with the real GPT-2 vocabulary, against golden ids from the independent gpt-3-encoder (tests/reference/gpt2_golden.js).</summary>
public class Gpt2TokenizerTests
{
    const int EndOfText = 50256;
    const string EndOfTextInText = "<|endoftext|>";
    static readonly string VocabAndMergesDirectory = RepositoryPaths.Fixture("tokenizers", "gpt2");
    static readonly string TokenizerJsonDirectory = RepositoryPaths.Fixture("tokenizers", "gpt2-json");
    static readonly Lazy<HfTokenizer> FromVocabAndMerges = new(() => HfTokenizer.Load(VocabAndMergesDirectory));
    static readonly Lazy<HfTokenizer> FromTokenizerJson = new(() => HfTokenizer.Load(TokenizerJsonDirectory));

    static HfTokenizer Tokenizer(string source) => source == "tokenizer.json" ? FromTokenizerJson.Value : FromVocabAndMerges.Value;

    public static TheoryData<string, string, int[]> GoldenCases()
    {
        var data = new TheoryData<string, string, int[]>();
        var golden = JsonNode.Parse(File.ReadAllText(RepositoryPaths.Fixture("tokenizers", "gpt2", "golden.json")))!;
        foreach (var source in new[] { "vocab.json", "tokenizer.json" })
            foreach (var item in golden["cases"]!.AsArray())
            {
                string text = item!["text"]!.GetValue<string>();
                // gpt-3-encoder has no special tokens; that case is checked on its own below.
                if (!text.Contains(EndOfTextInText)) data.Add(source, text, item["ids"]!.Deserialize<int[]>()!);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void Encode_equals_the_javascript_reference_and_decode_round_trips(string source, string text, int[] expectedIds)
    {
        var tokenizer = Tokenizer(source);
        Assert.Equal(expectedIds, tokenizer.Encode(text));
        Assert.Equal(text, tokenizer.Decode(expectedIds));
        Assert.Equal(Encoding.UTF8.GetBytes(text), tokenizer.DecodeToBytes(expectedIds));
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("tokenizer.json")]
    public void Loads_gpt2_with_its_special_tokens(string source)
    {
        var tokenizer = Tokenizer(source);
        Assert.Equal(TokenizerKind.ByteLevelBpe, tokenizer.Kind);
        Assert.Equal([15496, 995], tokenizer.Encode("Hello world"));
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal(EndOfText, tokenizer.BosTokenId);
        Assert.Equal(EndOfText, tokenizer.EosTokenId);
        Assert.Null(tokenizer.PadTokenId);
        Assert.Equal([EndOfText], tokenizer.EosTokenIds);
        Assert.True(tokenizer.IsSpecial(EndOfText));
        Assert.False(tokenizer.IsSpecial(995));
        Assert.Equal("Ġworld", tokenizer.IdToToken(995));
        Assert.Equal(995, tokenizer.TokenToId("Ġworld"));
        Assert.Null(tokenizer.TokenToId("no such token"));
        // GPT-2 adds no bos/eos even when asked for special tokens.
        Assert.Equal([15496, 995], tokenizer.Encode("Hello world", addSpecialTokens: true));
    }

    [Fact]
    public void Both_file_formats_give_the_same_vocabulary()
    {
        var fromVocab = FromVocabAndMerges.Value.Vocabulary;
        var fromJson = FromTokenizerJson.Value.Vocabulary;
        Assert.Equal(fromVocab.Count, fromJson.Count);
        Assert.All(fromVocab, entry => Assert.Equal(entry.Value, fromJson[entry.Key]));
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("tokenizer.json")]
    public void End_of_text_inside_text_is_one_special_token(string source)
    {
        var tokenizer = Tokenizer(source);
        var ids = tokenizer.Encode("a<|endoftext|>b");
        Assert.Equal([64, EndOfText, 65], ids);
        Assert.Equal("a<|endoftext|>b", tokenizer.Decode(ids));
        Assert.Equal("ab", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("ab"u8.ToArray(), tokenizer.DecodeToBytes(ids, skipSpecialTokens: true));

        // The JavaScript reference spells it out as ordinary characters; those ids still decode to the same text.
        var golden = JsonNode.Parse(File.ReadAllText(RepositoryPaths.Fixture("tokenizers", "gpt2", "golden.json")))!["cases"]!.AsArray()
            .Single(c => c!["text"]!.GetValue<string>() == "a<|endoftext|>b")!;
        var asCharacters = golden["ids"]!.Deserialize<int[]>()!;
        Assert.DoesNotContain(EndOfText, asCharacters);
        Assert.Equal("a<|endoftext|>b", tokenizer.Decode(asCharacters, skipSpecialTokens: true));
    }

    [Theory]
    [InlineData("😀")]
    [InlineData("日本")]
    public void DecodeToBytes_returns_the_partial_bytes_of_a_character_cut_off_mid_way(string text)
    {
        var tokenizer = FromVocabAndMerges.Value;
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        // Find a prefix of ids whose bytes end inside a multi-byte character.
        var ids = tokenizer.Encode(" " + text + text); // " é" etc. split the character's bytes across tokens
        var partial = Enumerable.Range(1, ids.Count - 1)
            .Select(n => tokenizer.DecodeToBytes(ids.Take(n)))
            .First(bytes => !IsCompleteUtf8(bytes));
        byte[] full = Encoding.UTF8.GetBytes(" " + text + text);
        Assert.Equal(full.Take(partial.Length), partial);
        Assert.Contains('\uFFFD', Encoding.UTF8.GetString(partial));
        Assert.Equal(full, tokenizer.DecodeToBytes(ids));
    }

    static bool IsCompleteUtf8(byte[] bytes)
    {
        try { new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); return true; }
        catch (DecoderFallbackException) { return false; }
    }

    [Fact]
    public void DecodeToBytes_of_the_first_byte_token_of_e_acute_is_that_byte_alone()
    {
        var tokenizer = FromVocabAndMerges.Value;
        // "é" is C3 A9; in GPT-2's byte alphabet those bytes are the tokens "Ã" and "©".
        int leadByte = tokenizer.TokenToId("Ã")!.Value, continuationByte = tokenizer.TokenToId("©")!.Value;
        Assert.Equal(new byte[] { 0xC3 }, tokenizer.DecodeToBytes([leadByte]));
        Assert.Equal("\uFFFD", tokenizer.Decode([leadByte]));
        Assert.Equal("é", tokenizer.Decode([leadByte, continuationByte]));
        Assert.Equal([tokenizer.TokenToId("Ã©")!.Value], tokenizer.Encode("é"));
    }

    [Fact]
    public void Emoji_is_split_across_tokens_in_the_middle_of_its_bytes()
    {
        var tokenizer = FromVocabAndMerges.Value;
        var ids = tokenizer.Encode(" 😀"); // [30325, 222] per the reference: "Ġ" + 3 bytes, then the last byte
        Assert.Equal([30325, 222], ids);
        Assert.Equal(new byte[] { 0x20, 0xF0, 0x9F, 0x98 }, tokenizer.DecodeToBytes([30325]));
        Assert.Equal(new byte[] { 0x80 }, tokenizer.DecodeToBytes([222]));
    }

    [Fact]
    public void Generation_config_adds_end_of_sequence_ids_as_an_int_or_a_list()
    {
        using var single = new TemporaryModelDirectory().CopyFrom(VocabAndMergesDirectory, "vocab.json", "merges.txt", "tokenizer_config.json")
            .Write("generation_config.json", """{"eos_token_id": 198}""");
        Assert.Equal([EndOfText, 198], HfTokenizer.Load(single.Path).EosTokenIds);

        using var list = new TemporaryModelDirectory().CopyFrom(VocabAndMergesDirectory, "vocab.json", "merges.txt", "tokenizer_config.json")
            .Write("generation_config.json", """{"bos_token_id": 50256, "eos_token_id": [50256, 13, 0]}""");
        var tokenizer = HfTokenizer.Load(list.Path);
        Assert.Equal([EndOfText, 13, 0], tokenizer.EosTokenIds);
        Assert.True(tokenizer.IsSpecial(13));
    }

    [Fact]
    public void Without_tokenizer_config_gpt2_defaults_apply()
    {
        using var directory = new TemporaryModelDirectory().CopyFrom(VocabAndMergesDirectory, "vocab.json", "merges.txt");
        var tokenizer = HfTokenizer.Load(directory.Path);
        Assert.Equal(EndOfText, tokenizer.EosTokenId);
        Assert.Equal([64, EndOfText, 65], tokenizer.Encode("a<|endoftext|>b"));
    }

    /// <summary>The same GPT-2 data written the way other tokenizer.json files are: merges as "a b" strings, a Split + ByteLevel(use_regex=false) sequence (Llama-3, Qwen2), and a bos template.</summary>
    [Fact]
    public void Tokenizer_json_with_string_merges_split_regex_and_bos_template_gives_the_same_ids()
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(TokenizerJsonDirectory, "tokenizer.json")))!;
        var model = root["model"]!;
        model["merges"] = new JsonArray(model["merges"]!.AsArray().Select(pair => (JsonNode)JsonValue.Create($"{pair![0]} {pair[1]}")).ToArray());
        root["pre_tokenizer"] = JsonNode.Parse("""
            {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
              {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
            """);
        root["post_processor"] = JsonNode.Parse("""
            {"type": "Sequence", "processors": [
              {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
              {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "pair": [], "special_tokens": {}}]}
            """);
        using var directory = new TemporaryModelDirectory().Write("tokenizer.json", root.ToJsonString());
        var tokenizer = HfTokenizer.Load(directory.Path);

        var golden = GoldenCases().Select(row => ((string)row[1], (int[])row[2])).Distinct();
        foreach (var (text, ids) in golden) Assert.Equal(ids, tokenizer.Encode(text));
        Assert.Equal([EndOfText, 15496, 995], tokenizer.Encode("Hello world", addSpecialTokens: true));
        Assert.Equal([EndOfText, 15496], tokenizer.EncodeForClassification("Hello world", maxLength: 2));
    }

    /// <summary>HF ignore_merges (Llama-3): a word in the vocabulary is one token even where the merges would split it otherwise.</summary>
    [Theory]
    [InlineData(false, new[] { 0, 4 })]
    [InlineData(true, new[] { 5 })]
    public void Ignore_merges_takes_whole_words_from_the_vocabulary(bool ignoreMerges, int[] expected)
    {
        string tokenizerJson = $$$"""
            {"added_tokens": [], "normalizer": null,
             "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
             "model": {"type": "BPE", "ignore_merges": {{{(ignoreMerges ? "true" : "false")}}},
                       "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5}, "merges": [["b", "c"], ["a", "b"]]}}
            """;
        using var directory = new TemporaryModelDirectory().Write("tokenizer.json", tokenizerJson);
        Assert.Equal(expected, HfTokenizer.Load(directory.Path).Encode("abc"));
    }

    [Fact]
    public void Nfc_normalizer_composes_before_encoding()
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(TokenizerJsonDirectory, "tokenizer.json")))!;
        root["normalizer"] = JsonNode.Parse("""{"type": "NFC"}""");
        using var directory = new TemporaryModelDirectory().Write("tokenizer.json", root.ToJsonString());
        var tokenizer = HfTokenizer.Load(directory.Path);
        string decomposed = "cafe\u0301";
        Assert.Equal(FromVocabAndMerges.Value.Encode("café"), tokenizer.Encode(decomposed));
        Assert.NotEqual(FromVocabAndMerges.Value.Encode(decomposed), tokenizer.Encode(decomposed));
    }
}
