using WeakToStrong.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WeakToStrong.Tests.Models;

/// <summary>
/// Layers.WeightLayout: large float32 CPU weights are stored [out, in] and multiplied weight-first; the result must be
/// x·Wᵀ + b at every row count, and whole models must compute what the same weights compute in float64 (where every
/// projection takes the plain path).
/// </summary>
public class WeightLayoutTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(16)]
    [InlineData(63)]
    [InlineData(256)]
    [InlineData(300)]
    public void ProjectIsXTimesWeightTransposedPlusBias(int rows)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        var weight = randn([1536, 512], generator: generator); // 786,432 elements: the weight-first path up to 256 rows
        var bias = randn([1536], generator: generator);
        var input = randn([1, rows, 512], generator: generator);
        var expected = F.linear(input.to(ScalarType.Float64), weight.to(ScalarType.Float64), bias.to(ScalarType.Float64));
        foreach (var withBias in new[] { true, false })
        {
            var actual = WeightLayout.Project(input, weight, withBias ? bias : null);
            Assert.Equal(new long[] { 1, rows, 1536 }, actual.shape);
            Assert.True(actual.is_contiguous());
            var reference = withBias ? expected : expected - bias.to(ScalarType.Float64);
            double error = (actual.to(ScalarType.Float64) - reference).abs().max().item<double>();
            Assert.True(error < 1e-3, $"rows {rows}, bias {withBias}: max error {error}");
        }
    }

    public static TheoryData<string> Kinds => new() { "gpt2-tied", "llama-untied" };

    static ModelConfig ConfigOf(string kind) => kind switch
    {
        // c_fc, c_attn and the tied 1024 × 512 embedding are large; c_proj (512 × 512) is not.
        "gpt2-tied" => ModelConfig.Gpt2(1, 512, 8, vocabSize: 1024, positions: 64),
        // the MLP (512 × 1536) and the untied lm_head (1024 × 512) are large; the attention projections are not.
        _ => ModelConfig.Llama(1, 512, 8, kvHeads: 4, intermediate: 1536, vocabSize: 1024, positions: 64) with { TieWordEmbeddings = false },
    };

    static CausalLanguageModel Build(string kind, ModelOptions options) => kind.StartsWith("gpt2", StringComparison.Ordinal)
        ? new GPT2LMHeadModel(ConfigOf(kind), options)
        : new LlamaForCausalLM(ConfigOf(kind), options);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void LargeModelsComputeWhatFloat64Computes(string kind)
    {
        using var scope = NewDisposeScope();
        using var model = RandomModels.Initialized(Build(kind, ModelOptions.Cpu), seed: 5);
        using var reference = Build(kind, new ModelOptions(CPU, ScalarType.Float64));
        using (no_grad())
        {
            var weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, parameter) in reference.named_parameters()) parameter.copy_(weights[name]);
        }
        // Large weights are stored [out, in]: GPT-2's Conv1D behind a view of its [in, out] shape, a large LM head as
        // itself (a small one is stored transposed); every shape is Hugging Face's.
        var stored = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        if (kind.StartsWith("gpt2", StringComparison.Ordinal))
            Assert.True(!stored["transformer.h.0.mlp.c_fc.weight"].is_contiguous() && stored["transformer.h.0.mlp.c_fc.weight"].t().is_contiguous()
                && stored["transformer.h.0.attn.c_proj.weight"].is_contiguous() && stored["transformer.wte.weight"].is_contiguous());
        else
            Assert.True(stored["lm_head.weight"].is_contiguous());
        Assert.Equal(reference.named_parameters().Select(p => (p.name, string.Join(",", p.parameter.shape))),
            model.named_parameters().Select(p => (p.name, string.Join(",", p.parameter.shape))));

        // 1 row (decode), 16 rows, 2 × 40 rows (prefill) and 5 × 60 rows (over 256: the plain path).
        foreach (var (batch, length) in new[] { (1, 1), (16, 1), (2, 40), (5, 60) })
        {
            var ids = RandomModels.RandomIds(batch, length, 1024, seed: batch * 100 + length);
            using var noGrad = no_grad();
            var logits = model.Forward(ids);
            var expected = reference.Forward(ids);
            double error = (logits.to(ScalarType.Float64) - expected).abs().max().item<double>();
            double scale = expected.abs().max().item<double>();
            Assert.True(error < 1e-4 * Math.Max(1, scale), $"{kind} {batch}×{length}: max error {error} (logits up to {scale})");
        }
    }
}
