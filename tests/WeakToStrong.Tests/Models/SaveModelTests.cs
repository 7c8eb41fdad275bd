using System.Text.Json;
using TorchSharp;
using WeakToStrong.Models;
using WeakToStrong.Tests.Models.Safetensors;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace WeakToStrong.Tests.Models;

/// <summary>PretrainedModels.Save and ModelConfig.ToJson: HF directories that load back exactly, in our loaders and the reference.</summary>
public sealed class SaveModelTests : TempDirectoryTest
{
    const int Vocab = 67;
    const int Pad = Vocab - 1;

    public static TheoryData<string> Kinds => new() { "gpt2-tied", "gpt2-untied", "llama-gqa", "gpt2-classifier", "llama-classifier" };

    static ModelConfig ConfigOf(string kind) => kind switch
    {
        "gpt2-tied" => ModelConfig.Gpt2(2, 32, 4, vocabSize: Vocab, positions: 64),
        "gpt2-untied" => ModelConfig.Gpt2(2, 32, 4, vocabSize: Vocab, positions: 64) with { TieWordEmbeddings = false, IntermediateSize = 80 },
        "llama-gqa" => ModelConfig.Llama(2, 32, 4, kvHeads: 2, intermediate: 48, vocabSize: Vocab, positions: 64, ropeTheta: 500000,
            rmsNormEps: 1e-5) with { RopeLlama3 = new Llama3RopeScaling(8, 1, 4, 16) },
        "gpt2-classifier" => ModelConfig.Gpt2(2, 32, 4, vocabSize: Vocab, positions: 64).WithClassificationHead(1) with { PadTokenId = Pad },
        "llama-classifier" => ModelConfig.Llama(2, 32, 4, kvHeads: 4, intermediate: 48, vocabSize: Vocab, positions: 64)
            .WithClassificationHead(2, ["NEGATIVE", "POSITIVE"]) with { PadTokenId = Pad },
        _ => throw new ArgumentException(kind),
    };

    /// <summary>A randomly initialized model of the kind, with weights perturbed so that norms and biases are not trivial.</summary>
    static Module Build(string kind, int seed = 1)
    {
        var config = ConfigOf(kind);
        var options = ModelOptions.Cpu;
        Module model = (config.Architecture, config.Head) switch
        {
            (Architecture.Gpt2, HeadKind.CausalLM) => new GPT2LMHeadModel(config, options),
            (Architecture.Gpt2, _) => new GPT2ForSequenceClassification(config, options),
            (_, HeadKind.CausalLM) => new LlamaForCausalLM(config, options),
            _ => new LlamaForSequenceClassification(config, options),
        };
        if (model is CausalLanguageModel lm) lm.InitializeWeights(new Generator((ulong)seed));
        else ((SequenceClassifier)model).InitializeWeights(new Generator((ulong)seed));
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed + 1);
        foreach (var (_, parameter) in model.named_parameters()) parameter.add_(randn(parameter.shape, generator: generator) * 0.1);
        return model;
    }

    // Ids avoid the pad id, so that classifiers read the last position of every row.
    static Tensor Ids() => randint(0, Pad, [2, 9], generator: new Generator(7));

    static Tensor Logits(Module model, Tensor ids)
    {
        using var noGrad = no_grad();
        return model switch
        {
            CausalLanguageModel lm => lm.Forward(ids),
            SequenceClassifier classifier => classifier.Forward(ids),
            _ => throw new ArgumentException(model.GetName()),
        };
    }

    static Module LoadBack(ModelConfig config, string directory) => config.Head == HeadKind.CausalLM
        ? PretrainedModels.LoadCausalLM(directory, ModelOptions.Cpu)
        : PretrainedModels.LoadSequenceClassifier(directory, ModelOptions.Cpu);

    [Theory, MemberData(nameof(Kinds))]
    public void SavedModelLoadsBackWithBitIdenticalLogits(string kind)
    {
        using var model = Build(kind);
        var config = ConfigOf(kind);
        string directory = Path.Combine(Work, kind);
        PretrainedModels.Save(model, config, directory);

        using var loaded = LoadBack(config, directory);
        using var ids = Ids();
        using var expected = Logits(model, ids);
        using var actual = Logits(loaded, ids);
        Assert.Equal(expected.shape, actual.shape);
        // Bit-identical: the same float32 values, compared as raw bits.
        Assert.Equal(expected.data<float>().Select(BitConverter.SingleToInt32Bits), actual.data<float>().Select(BitConverter.SingleToInt32Bits));
    }

    [Theory, MemberData(nameof(Kinds))]
    public void ConfigReadsBackEqual(string kind)
    {
        var config = ConfigOf(kind);
        string path = Path.Combine(Work, "config.json");
        config.Save(path);
        var loaded = ModelConfig.Load(path);

        var expected = config with { TorchDtype = "float32" };
        foreach (var property in typeof(ModelConfig).GetProperties().Where(p => p.Name != nameof(ModelConfig.Path)))
        {
            object? want = property.GetValue(expected), got = property.GetValue(loaded);
            if (want is System.Collections.IEnumerable wantItems and not string)
                Assert.Equal(wantItems.Cast<object>(), ((System.Collections.IEnumerable)got!).Cast<object>());
            else Assert.True(Equals(want, got), $"{kind}: {property.Name} was {want}, read back {got}");
        }
        Assert.Equal(File.ReadAllText(path), loaded.ToJson());
    }

    [Fact]
    public void Gpt2ConfigIsWrittenAsTransformersWritesIt()
    {
        string expected = """
            {
              "activation_function": "gelu_new",
              "architectures": [
                "GPT2LMHeadModel"
              ],
              "attn_pdrop": 0.0,
              "bos_token_id": 66,
              "embd_pdrop": 0.0,
              "eos_token_id": 66,
              "initializer_range": 0.02,
              "layer_norm_epsilon": 1e-05,
              "model_type": "gpt2",
              "n_ctx": 64,
              "n_embd": 32,
              "n_head": 4,
              "n_inner": null,
              "n_layer": 2,
              "n_positions": 64,
              "reorder_and_upcast_attn": false,
              "resid_pdrop": 0.0,
              "scale_attn_by_inverse_layer_idx": false,
              "scale_attn_weights": true,
              "summary_activation": null,
              "summary_first_dropout": 0.1,
              "summary_proj_to_labels": true,
              "summary_type": "cls_index",
              "summary_use_proj": true,
              "tie_word_embeddings": true,
              "torch_dtype": "float32",
              "use_cache": true,
              "vocab_size": 67
            }

            """;
        Assert.Equal(expected, ConfigOf("gpt2-tied").ToJson());
    }

    [Fact]
    public void ClassifierAndUntiedGpt2ConfigKeys()
    {
        using var classifier = JsonDocument.Parse(ConfigOf("gpt2-classifier").ToJson());
        var root = classifier.RootElement;
        Assert.Equal("GPT2ForSequenceClassification", root.GetProperty("architectures")[0].GetString());
        Assert.Equal("""{"0":"LABEL_0"}""", root.GetProperty("id2label").GetRawText().Replace(" ", "").Replace("\n", ""));
        Assert.Equal("""{"LABEL_0":0}""", root.GetProperty("label2id").GetRawText().Replace(" ", "").Replace("\n", ""));
        Assert.Equal(Pad, root.GetProperty("pad_token_id").GetInt32());

        using var untied = JsonDocument.Parse(ConfigOf("gpt2-untied").ToJson());
        Assert.False(untied.RootElement.GetProperty("tie_word_embeddings").GetBoolean());
        Assert.Equal(80, untied.RootElement.GetProperty("n_inner").GetInt32());
    }

    [Fact]
    public void LlamaConfigKeys()
    {
        using var document = JsonDocument.Parse(ConfigOf("llama-gqa").ToJson());
        var root = document.RootElement;
        var expected = new Dictionary<string, string>
        {
            ["architectures"] = """["LlamaForCausalLM"]""", ["model_type"] = "\"llama\"", ["hidden_size"] = "32",
            ["intermediate_size"] = "48", ["num_hidden_layers"] = "2", ["num_attention_heads"] = "4", ["num_key_value_heads"] = "2",
            ["head_dim"] = "8", ["max_position_embeddings"] = "64", ["rms_norm_eps"] = "1e-05", ["rope_theta"] = "500000.0",
            ["rope_scaling"] = """{"factor":8.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":16,"rope_type":"llama3"}""",
            ["hidden_act"] = "\"silu\"", ["tie_word_embeddings"] = "false", ["attention_bias"] = "false", ["mlp_bias"] = "false",
            ["bos_token_id"] = "66", ["eos_token_id"] = "66", ["torch_dtype"] = "\"float32\"", ["initializer_range"] = "0.02",
            ["vocab_size"] = "67",
        };
        foreach (var (key, value) in expected)
            Assert.Equal(value, root.GetProperty(key).GetRawText().Replace(" ", "").Replace("\n", ""));
        Assert.False(root.TryGetProperty("pad_token_id", out _));
        Assert.False(root.TryGetProperty("id2label", out _));

        using var classifier = JsonDocument.Parse(ConfigOf("llama-classifier").ToJson());
        Assert.Equal("LlamaForSequenceClassification", classifier.RootElement.GetProperty("architectures")[0].GetString());
        Assert.Equal("POSITIVE", classifier.RootElement.GetProperty("id2label").GetProperty("1").GetString());
        Assert.Equal(0, classifier.RootElement.GetProperty("label2id").GetProperty("NEGATIVE").GetInt32());
        Assert.Equal(JsonValueKind.Null, classifier.RootElement.GetProperty("rope_scaling").ValueKind);
    }

    [Fact]
    public void DirectoryHoldsTheHfFilesAndNoTiedHead()
    {
        using var tied = Build("gpt2-tied");
        string directory = Path.Combine(Work, "tied");
        string tokenizer = RepositoryPaths.Fixture("tokenizers", "gpt2");
        PretrainedModels.Save(tied, ConfigOf("gpt2-tied"), directory, tokenizer);

        Assert.Equal(["config.json", "generation_config.json", "merges.txt", "model.safetensors", "tokenizer_config.json", "vocab.json"],
            Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var name in new[] { "merges.txt", "tokenizer_config.json", "vocab.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(tokenizer, name)), File.ReadAllBytes(Path.Combine(directory, name)));
        Assert.Equal("{\n  \"_from_model_config\": true,\n  \"bos_token_id\": 66,\n  \"eos_token_id\": 66\n}\n",
            File.ReadAllText(Path.Combine(directory, "generation_config.json")));

        using var checkpoint = WeakToStrong.Models.Safetensors.SafetensorsCheckpoint.Open(directory);
        Assert.DoesNotContain("lm_head.weight", checkpoint.Names);
        Assert.Equal(tied.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal), checkpoint.Names.Order(StringComparer.Ordinal));

        using var untied = Build("gpt2-untied");
        string untiedDirectory = Path.Combine(Work, "untied");
        PretrainedModels.Save(untied, ConfigOf("gpt2-untied"), untiedDirectory);
        using var untiedCheckpoint = WeakToStrong.Models.Safetensors.SafetensorsCheckpoint.Open(untiedDirectory);
        // The head is kept transposed in memory on CPU; the file holds HF's logical [vocab, hidden].
        Assert.Equal([Vocab, 32L], untiedCheckpoint.Entry("lm_head.weight").Shape);
    }

    [Fact]
    public void FailedSaveLeavesTheOldDirectoryUntouched()
    {
        string directory = Path.Combine(Work, "model");
        using (var first = Build("gpt2-tied", seed: 1)) PretrainedModels.Save(first, ConfigOf("gpt2-tied"), directory);
        var before = Snapshot(directory);

        using var second = Build("gpt2-tied", seed: 2);
        // The tokenizer is copied last, so this fails after config.json and the weights are written.
        var error = Assert.Throws<InvalidInputException>(() =>
            PretrainedModels.Save(second, ConfigOf("gpt2-tied"), directory, Path.Combine(Work, "no-such-tokenizer")));
        Assert.Contains("no-such-tokenizer", error.Message);
        Assert.Equal(before, Snapshot(directory));
        Assert.Equal([directory], Directory.GetDirectories(Work));

        using var llama = Build("llama-gqa");
        var mismatch = Assert.Throws<InvalidInputException>(() => PretrainedModels.Save(llama, ConfigOf("gpt2-tied"), directory));
        Assert.Contains("LlamaForCausalLM", mismatch.Message);
        Assert.Contains("GPT2LMHeadModel", mismatch.Message);
        Assert.Equal(before, Snapshot(directory));
    }

    [Fact]
    public void SuccessfulSaveReplacesTheWholeDirectory()
    {
        string directory = Path.Combine(Work, "model");
        using (var first = Build("gpt2-tied", seed: 1)) PretrainedModels.Save(first, ConfigOf("gpt2-tied"), directory, RepositoryPaths.Fixture("tokenizers", "gpt2"));
        File.WriteAllText(Path.Combine(directory, "stale.txt"), "from an earlier run");

        using var second = Build("llama-gqa", seed: 2);
        PretrainedModels.Save(second, ConfigOf("llama-gqa"), directory);
        Assert.False(File.Exists(Path.Combine(directory, "stale.txt")));
        Assert.False(File.Exists(Path.Combine(directory, "vocab.json")));
        Assert.Equal("llama", ModelConfig.Load(Path.Combine(directory, "config.json")).ModelType);
        Assert.Equal([directory], Directory.GetDirectories(Work));
    }

    static Dictionary<string, string> Snapshot(string directory) =>
        Directory.GetFiles(directory).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(File.ReadAllBytes(f)));

    [PythonReferenceFact]
    public void ReferenceComputesTheSameLogitsFromTheSavedDirectory()
    {
        const string script = """
            import json, sys
            import torch
            sys.path.insert(0, sys.argv[1])
            import hf_reference as ref
            cfg, sd = ref.load_model_dir(sys.argv[2])
            ids = torch.tensor(json.loads(sys.argv[3]))
            with torch.no_grad():
                print(json.dumps(ref.forward_logits(sd, cfg, ids).double().flatten().tolist()))
            """;
        foreach (var kind in Kinds)
        {
            using var model = Build(kind);
            string directory = Path.Combine(Work, kind);
            PretrainedModels.Save(model, ConfigOf(kind), directory);
            using var ids = Ids();
            var rows = Enumerable.Range(0, (int)ids.shape[0]).Select(r => ids[r].data<long>().ToArray()).ToArray();
            using var ours = Logits(model, ids);
            double[] expected = ours.to(ScalarType.Float64).flatten().data<double>().ToArray();

            var (code, output, error) = PythonReference.Run("-c", script, Path.Combine(RepositoryPaths.Root, "tests", "reference"),
                directory, JsonSerializer.Serialize(rows));
            Assert.True(code == 0, $"{kind}: reference failed: {error}");
            double[] reference = JsonSerializer.Deserialize<double[]>(output)!;
            Assert.Equal(expected.Length, reference.Length);
            double maxDiff = expected.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxDiff <= 1e-4, $"{kind}: max |ours - reference| = {maxDiff}");
        }
    }
}
