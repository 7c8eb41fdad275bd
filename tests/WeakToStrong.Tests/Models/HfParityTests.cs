using WeakToStrong.Models;
using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>
/// fp32 logits against golden outputs of an independent Python reference of transformers' semantics
/// (tests/reference/make_fixtures.py, random-weight checkpoints in tests/fixtures/). Tolerance 1e-4.
/// </summary>
public class HfParityTests
{
    const double Tolerance = 1e-4;

    sealed record Golden(Tensor InputIds, Tensor AttentionMask, Tensor Logits);

    static Golden ReadGolden(string fixture)
    {
        using var file = SafetensorsFile.Open(RepositoryPaths.Fixture(fixture, "golden.safetensors"));
        return new Golden(file.ReadTensor("input_ids", ScalarType.Int64), file.ReadTensor("attention_mask", ScalarType.Int64),
            file.ReadTensor("logits", ScalarType.Float32));
    }

    /// <summary>Largest |difference| over positions the attention mask keeps (padded query rows are don't-care).</summary>
    static double MaxDiffOverRealTokens(Tensor actual, Tensor expected, Tensor mask)
    {
        var keep = mask.ne(0).unsqueeze(-1).expand_as(expected);
        return (actual - expected).abs().masked_select(keep).max().item<float>();
    }

    public static TheoryData<string> CausalFixtures => new()
    {
        "gpt2-tied", "gpt2-prefixed-padded", "llama-gqa", "qwen2-bias", "mistral", "llama-bf16", "llama-sharded",
    };

    [Theory, MemberData(nameof(CausalFixtures))]
    public void CausalLogitsMatchReference(string fixture)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var golden = ReadGolden(fixture);
        using var model = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
        var logits = model.Forward(golden.InputIds, golden.AttentionMask);
        Assert.Equal(golden.Logits.shape, logits.shape);
        double diff = MaxDiffOverRealTokens(logits, golden.Logits, golden.AttentionMask);
        Assert.True(diff <= Tolerance, $"{fixture}: max |Δlogit| = {diff:E2}");
    }

    [Theory, MemberData(nameof(CausalFixtures))]
    public void CachedDecodingMatchesReference(string fixture)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var golden = ReadGolden(fixture);
        using var model = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
        int length = (int)golden.InputIds.shape[1], prefill = length / 2;
        using var cache = model.NewCache(length);
        var pieces = new List<Tensor> { model.Forward(golden.InputIds.narrow(1, 0, prefill), golden.AttentionMask.narrow(1, 0, prefill), cache) };
        for (int t = prefill; t < length; t++)
            pieces.Add(model.Forward(golden.InputIds.narrow(1, t, 1), golden.AttentionMask.narrow(1, 0, t + 1), cache));
        double diff = MaxDiffOverRealTokens(cat(pieces, 1), golden.Logits, golden.AttentionMask);
        Assert.True(diff <= Tolerance, $"{fixture}: max |Δlogit| with the KV cache = {diff:E2}");
    }

    [Theory]
    [InlineData("gpt2-reward")]
    [InlineData("llama-reward")]
    [InlineData("distilbert-cls")]
    public void ClassifierLogitsMatchReference(string fixture)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var golden = ReadGolden(fixture);
        using var model = PretrainedModels.LoadSequenceClassifier(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
        var logits = model.Forward(golden.InputIds, golden.AttentionMask);
        Assert.Equal(golden.Logits.shape, logits.shape);
        double diff = (logits - golden.Logits).abs().max().item<float>();
        Assert.True(diff <= Tolerance, $"{fixture}: max |Δlogit| = {diff:E2}");
    }

    [Fact]
    public void Llama3RopeScalingIsAppliedFromConfig()
    {
        var config = ModelConfig.Load(RepositoryPaths.Fixture("llama-gqa", "config.json"));
        Assert.Equal(500000.0, config.RopeTheta);
        Assert.Equal(new Llama3RopeScaling(8.0, 1.0, 4.0, 64), config.RopeLlama3);
        Assert.Equal(2, config.NumKeyValueHeads);
        Assert.False(config.TieWordEmbeddings);
        var scaled = LlamaRotaryEmbedding.InverseFrequencies(config);
        var plain = LlamaRotaryEmbedding.InverseFrequencies(ModelConfigWithoutScaling(config));
        // Highest frequency untouched, lowest divided by the factor, one in between smoothed.
        Assert.Equal(plain[0], scaled[0], 12);
        Assert.Equal(plain[^1] / 8.0, scaled[^1], 12);
        Assert.Contains(scaled.Zip(plain), p => p.First < p.Second && p.First > p.Second / 8.0 * 1.0001);
    }

    static ModelConfig ModelConfigWithoutScaling(ModelConfig config)
    {
        string dir = Directory.CreateTempSubdirectory("wts-rope").FullName;
        try
        {
            var json = File.ReadAllText(config.Path).Replace("\"rope_scaling\"", "\"unused_rope_scaling\"");
            File.WriteAllText(Path.Combine(dir, "config.json"), json);
            return ModelConfig.Load(Path.Combine(dir, "config.json"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
