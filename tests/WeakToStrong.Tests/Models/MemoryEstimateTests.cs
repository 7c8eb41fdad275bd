using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

public class MemoryEstimateTests
{
    /// <summary>The parameter count from config.json alone is what the built modules allocate, for every architecture and head.</summary>
    [Theory]
    [InlineData("gpt2-tied")]
    [InlineData("gpt2-reward")]
    [InlineData("llama-gqa")]
    [InlineData("llama-bf16")]
    [InlineData("llama-reward")]
    [InlineData("qwen2-bias")]
    [InlineData("mistral")]
    [InlineData("distilbert-cls")]
    public void ParametersFromTheConfigAreTheBuiltModelsParameters(string fixture)
    {
        var config = ModelConfig.Load(RepositoryPaths.Fixture(fixture, "config.json"));
        using nn.Module model = (config.Architecture, config.Head) switch
        {
            (Architecture.Gpt2, HeadKind.CausalLM) => new GPT2LMHeadModel(config, ModelOptions.Cpu),
            (Architecture.Gpt2, _) => new GPT2ForSequenceClassification(config, ModelOptions.Cpu),
            (Architecture.Llama, HeadKind.CausalLM) => new LlamaForCausalLM(config, ModelOptions.Cpu),
            (Architecture.Llama, _) => new LlamaForSequenceClassification(config, ModelOptions.Cpu),
            _ => new DistilBertForSequenceClassification(config, ModelOptions.Cpu),
        };
        long built = model.parameters().Sum(p => p.numel());
        Assert.Equal(built, MemoryEstimate.Parameters(config));
        Assert.Equal(built * 2, MemoryEstimate.WeightBytes(config, ScalarType.BFloat16));
    }

    /// <summary>Llama-3-8B's shape gives its published 8,030,261,248 parameters and 128 KiB of bfloat16 KV cache per token.</summary>
    [Fact]
    public void Llama3_8BShapeHasItsPublishedSize()
    {
        var config = ModelConfig.Llama(layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocabSize: 128256, positions: 8192);
        Assert.Equal(8_030_261_248L, MemoryEstimate.Parameters(config));
        Assert.Equal(218_112_000L, MemoryEstimate.LayerParameters(config));
        Assert.Equal(128 * 1024, config.NumHiddenLayers * MemoryEstimate.LayerKvBytesPerToken(config, ScalarType.BFloat16));
        // 16 rows × 2,304 tokens of cache: 4.5 GiB, as the issue computes.
        Assert.Equal(4.5 * MemoryEstimate.GiB, MemoryEstimate.KvCacheBytes(config, ScalarType.BFloat16, 16, 2304));
    }

    [Fact]
    public void DeviceMemoryComesFromTheOverrideOrFromMeminfo()
    {
        var given = DeviceMemory.Of("cuda:0,cuda:1", overrideGiB: 80);
        Assert.Equal(160 * MemoryEstimate.GiB, given.Bytes);
        var host = DeviceMemory.Of("cpu", overrideGiB: null);
        Assert.True(host.Bytes > 0, host.Source);
        Assert.Contains("MemAvailable", host.Source);
        Assert.Throws<InvalidInputException>(() => DeviceMemory.Of("tpu", null));
        Assert.Throws<InvalidInputException>(() => DeviceMemory.Of("cpu", -1));
    }
}
