using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>
/// Grouped-query attention without repeated keys and values must equal multi-head attention whose key/value
/// projections repeat each head for its group (transformers' repeat_kv), under every mask the models build.
/// </summary>
public class GroupedQueryAttentionTests
{
    const double Tolerance = 1e-5;

    /// <summary>The same model with NumKeyValueHeads = NumAttentionHeads: k/v_proj rows repeated group by group.</summary>
    static LlamaForCausalLM AsMultiHead(LlamaForCausalLM grouped)
    {
        var config = grouped.Config;
        int groups = config.NumAttentionHeads / config.NumKeyValueHeads;
        var multiHead = new LlamaForCausalLM(config with { NumKeyValueHeads = config.NumAttentionHeads }, ModelOptions.Cpu);
        var source = grouped.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in multiHead.named_parameters())
        {
            var weight = source[name];
            if (name.EndsWith("k_proj.weight", StringComparison.Ordinal) || name.EndsWith("v_proj.weight", StringComparison.Ordinal))
                weight = weight.view(config.NumKeyValueHeads, config.HeadDim, config.HiddenSize)
                    .repeat_interleave(groups, 0).reshape(config.NumAttentionHeads * config.HeadDim, config.HiddenSize);
            parameter.copy_(weight);
        }
        return multiHead;
    }

    [Fact]
    public void GroupedQueriesEqualRepeatedKeysAndValuesUnderEveryMask()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var config = RandomModels.TinyLlama() with { NumAttentionHeads = 6, NumKeyValueHeads = 2, HeadDim = 8, HiddenSize = 48 };
        using var grouped = RandomModels.Initialized(new LlamaForCausalLM(config, ModelOptions.Cpu), seed: 5);
        using var multiHead = AsMultiHead(grouped);
        var ids = RandomModels.RandomIds(3, 9, config.VocabSize, seed: 6);
        var padded = ones(3, 9, dtype: ScalarType.Int64);
        padded[1, ..3] = zeros(3, dtype: ScalarType.Int64);

        // A fresh prompt without padding (the causal rule), with left padding (an additive mask), then cached
        // decoding of one and of several tokens with and without a mask.
        foreach (var mask in new Tensor?[] { null, padded })
        {
            Assert.True(Diff(grouped.Forward(ids, mask), multiHead.Forward(ids, mask)) <= Tolerance);
            using var groupedCache = grouped.NewCache((int)ids.shape[1]);
            using var multiHeadCache = multiHead.NewCache((int)ids.shape[1]);
            foreach (var (start, steps) in new[] { (0, 5), (5, 1), (6, 3) })
            {
                var piece = ids.narrow(1, start, steps);
                var pieceMask = mask?.narrow(1, 0, start + steps);
                double diff = Diff(grouped.Forward(piece, pieceMask, groupedCache), multiHead.Forward(piece, pieceMask, multiHeadCache));
                Assert.True(diff <= Tolerance, $"mask {(mask is null ? "none" : "padded")}, steps {start}..{start + steps}: max |Δlogit| = {diff:E2}");
            }
        }
    }

    static double Diff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}
