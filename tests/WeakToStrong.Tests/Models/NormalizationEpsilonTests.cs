using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>
/// Parity fixtures cannot see a wrong normalization epsilon (it moves logits less than their tolerance), so
/// these tests read the epsilon from config.json and check the layers compute with exactly that value.
/// </summary>
public class NormalizationEpsilonTests
{
    static ModelConfig LoadConfig(string json)
    {
        string dir = Directory.CreateTempSubdirectory("wts-eps").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), json);
            return ModelConfig.Load(Path.Combine(dir, "config.json"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Gpt2LayerNormUsesLayerNormEpsilonFromConfig()
    {
        var config = LoadConfig("""{"model_type":"gpt2","n_embd":16,"n_head":2,"n_layer":1,"vocab_size":11,"n_positions":8,"layer_norm_epsilon":0.25}""");
        Assert.Equal(0.25, config.NormEpsilon);
        using var norm = new LayerNorm(16, config.NormEpsilon, ModelOptions.Cpu);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        norm.weight.fill_(1); norm.bias.fill_(0);
        var x = arange(16, dtype: ScalarType.Float32) / 10;
        var expected = (x - x.mean()) / ((x - x.mean()).pow(2).mean() + 0.25).sqrt();
        Assert.True(norm.forward(x).allclose(expected, rtol: 0, atol: 1e-6));
        // With the default 1e-5 the output would differ far beyond any tolerance.
        var wrong = (x - x.mean()) / ((x - x.mean()).pow(2).mean() + 1e-5).sqrt();
        Assert.False(norm.forward(x).allclose(wrong, rtol: 0, atol: 1e-2));
    }

    [Fact]
    public void LlamaRmsNormUsesRmsNormEpsFromConfig()
    {
        var config = LoadConfig("""{"model_type":"llama","hidden_size":16,"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":32,"vocab_size":11,"rms_norm_eps":0.5}""");
        Assert.Equal(0.5, config.NormEpsilon);
        using var norm = new RmsNorm(16, config.NormEpsilon, ModelOptions.Cpu);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        norm.weight.fill_(1);
        var x = arange(16, dtype: ScalarType.Float32) / 10;
        var expected = x / (x.pow(2).mean() + 0.5).sqrt();
        Assert.True(norm.forward(x).allclose(expected, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void EveryNormOfALoadedArchitectureCarriesTheConfiguredEpsilon()
    {
        var gpt2 = LoadConfig("""{"model_type":"gpt2","n_embd":16,"n_head":2,"n_layer":2,"vocab_size":11,"n_positions":8,"layer_norm_epsilon":0.003}""");
        using var gptModel = new GPT2LMHeadModel(gpt2, ModelOptions.Cpu);
        var gptNorms = gptModel.modules().OfType<LayerNorm>().ToList();
        Assert.Equal(5, gptNorms.Count); // ln_1, ln_2 per block, ln_f
        Assert.All(gptNorms, n => Assert.Equal(0.003, n.Epsilon));

        var llama = LoadConfig("""{"model_type":"qwen2","hidden_size":16,"num_attention_heads":2,"num_hidden_layers":2,"intermediate_size":32,"vocab_size":11,"rms_norm_eps":0.007}""");
        using var llamaModel = new LlamaForCausalLM(llama, ModelOptions.Cpu);
        var rmsNorms = llamaModel.modules().OfType<RmsNorm>().ToList();
        Assert.Equal(5, rmsNorms.Count);
        Assert.All(rmsNorms, n => Assert.Equal(0.007, n.Epsilon));
    }
}
