using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>
/// Real Mistral (Zephyr's legacy tokenizer.json form, and the Metaspace form Mistral-7B-v0.1 ships today) and
/// Meta-Llama-3-8B-Instruct tokenizers against goldens from the independent @huggingface/transformers
/// (tests/reference/tokenizers/encode.mjs, committed as tests/fixtures/tokenizers/hf-goldens.json): ids without and with
/// special tokens, and the decoded text with and without them, all exactly.
/// </summary>
public class HfTokenizerConformanceTests
{
    static readonly string GoldensPath = RepositoryPaths.Fixture("tokenizers", "hf-goldens.json");
    static readonly Lazy<JsonObject> Goldens = new(() => JsonNode.Parse(File.ReadAllText(GoldensPath))!["tokenizers"]!.AsObject());

    static readonly Dictionary<string, Lazy<HfTokenizer>> Tokenizers = new()
    {
        ["mistral-7b-legacy"] = new(() => HfTokenizer.Load(RepositoryPaths.Fixture("tokenizers", "mistral-7b-legacy"))),
        ["meta-llama-3-8b-instruct"] = new(() => HfTokenizer.Load(RepositoryPaths.Fixture("tokenizers", "meta-llama-3-8b-instruct"))),
        ["mistral-7b-metaspace-first"] = new(() => LoadDerived(MistralMetaspaceFirst)),
        ["mistral-7b-legacy-token-flags"] = new(() => LoadDerived(MistralWithTokenFlags)),
    };

    /// <summary>Mistral-7B-v0.1's tokenizer.json today: no normalizer, Metaspace prepending "▁" only at the start of the text, legacy = false (the same edit as encode.mjs).</summary>
    static void MistralMetaspaceFirst(JsonNode tokenizer, JsonNode config)
    {
        tokenizer["normalizer"] = null;
        tokenizer["pre_tokenizer"] = JsonNode.Parse("""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}""");
        config["legacy"] = false;
    }

    /// <summary>&lt;s&gt; swallows the whitespace on both sides, &lt;/s&gt; is matched in the normalized text (the same edit as encode.mjs).</summary>
    static void MistralWithTokenFlags(JsonNode tokenizer, JsonNode config)
    {
        foreach (var token in tokenizer["added_tokens"]!.AsArray().Concat(config["added_tokens_decoder"]!.AsObject().Select(p => p.Value)))
        {
            string content = token!["content"]!.GetValue<string>();
            if (content == "<s>") { token["lstrip"] = true; token["rstrip"] = true; }
            if (content == "</s>") token["normalized"] = true;
        }
    }

    /// <summary>A copy of mistral-7b-legacy with its JSON edited, in a directory that lives as long as the test run.</summary>
    static HfTokenizer LoadDerived(Action<JsonNode, JsonNode> edit)
    {
        string source = RepositoryPaths.Fixture("tokenizers", "mistral-7b-legacy");
        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer.json")))!;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer_config.json")))!;
        edit(tokenizer, config);
        string directory = Directory.CreateTempSubdirectory("w2s-tokenizer-derived-").FullName;
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString());
        try { return HfTokenizer.Load(directory); }
        finally { Directory.Delete(directory, recursive: true); }
    }

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var (name, cases) in Goldens.Value)
            for (int i = 0; i < cases!.AsArray().Count; i++) data.Add(name, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encodes_and_decodes_as_transformers_js(string tokenizerName, int caseIndex)
    {
        var golden = Goldens.Value[tokenizerName]![caseIndex]!;
        string text = golden["text"]!.GetValue<string>();
        var tokenizer = Tokenizers[tokenizerName].Value;
        var withSpecialTokens = golden["ids_with_special_tokens"]!.Deserialize<int[]>()!;

        Assert.Equal(golden["ids"]!.Deserialize<int[]>()!, tokenizer.Encode(text));
        Assert.Equal(withSpecialTokens, tokenizer.Encode(text, addSpecialTokens: true));
        Assert.Equal(golden["decoded"]!.GetValue<string>(), tokenizer.Decode(withSpecialTokens));
        Assert.Equal(golden["decoded_skipping_special_tokens"]!.GetValue<string>(), tokenizer.Decode(withSpecialTokens, skipSpecialTokens: true));
    }

    [Fact]
    public void Every_fixture_tokenizer_has_goldens()
    {
        Assert.Equal(Tokenizers.Keys.Order(), Goldens.Value.Select(p => p.Key).Order());
        Assert.All(Goldens.Value, p => Assert.True(p.Value!.AsArray().Count >= 30, $"{p.Key} has few goldens"));
    }

    [Fact]
    public void Zephyr_chat_prompt_keeps_the_legacy_dummy_prefix_after_end_of_sequence()
    {
        // zephyr-7b-beta (legacy form): the text after "</s>" is a new piece and gets its own "▁", so "\n" is "▁" + <0x0A>.
        var legacy = Tokenizers["mistral-7b-legacy"].Value;
        var ids = legacy.Encode("<|user|>\nHi</s>\n<|assistant|>\n");
        int endOfSequence = ids.ToList().IndexOf(legacy.EosTokenId!.Value);
        Assert.Equal(["▁", "<0x0A>"], ids.Skip(endOfSequence + 1).Take(2).Select(id => legacy.IdToToken(id)));

        // The Metaspace "first" form prepends only at the start of the text.
        var first = Tokenizers["mistral-7b-metaspace-first"].Value;
        var firstIds = first.Encode("<|user|>\nHi</s>\n<|assistant|>\n");
        Assert.Equal("<0x0A>", first.IdToToken(firstIds[firstIds.ToList().IndexOf(first.EosTokenId!.Value) + 1]));
    }

    [Fact]
    public void Llama3_reads_its_special_tokens_and_framing()
    {
        var llama3 = Tokenizers["meta-llama-3-8b-instruct"].Value;
        Assert.Equal(TokenizerKind.ByteLevelBpe, llama3.Kind);
        Assert.Equal(128256, llama3.VocabSize);
        Assert.Equal(128000, llama3.BosTokenId);
        Assert.Equal(128009, llama3.EosTokenId); // <|eot_id|>
        Assert.True(llama3.IsSpecial(128255));
        Assert.Equal([128000, 9906], llama3.Encode("Hello", addSpecialTokens: true));
    }

    [Fact]
    public void Mistral_tokenizer_json_is_read_as_sentencepiece_bpe_with_byte_fallback()
    {
        var mistral = Tokenizers["mistral-7b-legacy"].Value;
        Assert.Equal(TokenizerKind.SentencePiece, mistral.Kind);
        Assert.Equal(32000, mistral.VocabSize);
        Assert.Equal((1, 2, 0), (mistral.BosTokenId!.Value, mistral.EosTokenId!.Value, mistral.UnkTokenId!.Value));
        Assert.Null(mistral.PadTokenId);
        Assert.Equal("<0xF0>", mistral.IdToToken(mistral.Encode("𝔘")[1]));
    }

    /// <summary>HF's ByteFallback decoder: a run of byte pieces that is not valid UTF-8 decodes to one U+FFFD per piece; DecodeToBytes keeps the bytes.</summary>
    [Fact]
    public void A_character_cut_inside_its_byte_pieces_decodes_as_hf_does()
    {
        var mistral = Tokenizers["mistral-7b-legacy"].Value;
        var ids = mistral.Encode("a𝔘"); // ▁a, then the four byte pieces of U+1D518
        var cut = ids.Take(3).ToArray();
        Assert.Equal("a\uFFFD\uFFFD", mistral.Decode(cut));
        Assert.Equal(new byte[] { (byte)'a', 0xF0, 0x9D }, mistral.DecodeToBytes(cut));
        Assert.Equal("a𝔘", mistral.Decode(ids));
    }

    /// <summary>Re-runs tests/reference/tokenizers/encode.mjs and checks that it still writes the committed goldens.</summary>
    [NodeReferenceFact("@huggingface/transformers")]
    public void The_reference_script_reproduces_the_committed_goldens()
    {
        string output = Path.Combine(Path.GetTempPath(), $"w2s-hf-goldens-{Guid.NewGuid()}.json");
        try
        {
            var (code, stdout, stderr) = NodeReference.Run("tests/reference/tokenizers/encode.mjs", output);
            Assert.True(code == 0, $"encode.mjs failed ({code}): {stdout}\n{stderr}");
            var fresh = JsonNode.Parse(File.ReadAllText(output))!["tokenizers"]!;
            Assert.True(JsonNode.DeepEquals(Goldens.Value, fresh), "encode.mjs now writes goldens that differ from tests/fixtures/tokenizers/hf-goldens.json");
        }
        finally { File.Delete(output); }
    }
}
