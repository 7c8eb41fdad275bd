using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>Small random-weight models for invariants that need no golden file.</summary>
internal static class RandomModels
{
    public static ModelConfig TinyLlama(double rmsNormEps = 1e-6, int? slidingWindow = null) => new()
    {
        Path = "<tiny llama>", ModelType = "llama", Architecture = Architecture.Llama, Head = HeadKind.CausalLM,
        VocabSize = 61, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 8,
        IntermediateSize = 48, MaxPositionEmbeddings = 128, NormEpsilon = rmsNormEps, Activation = "silu",
        TieWordEmbeddings = false, RopeTheta = 10000, SlidingWindow = slidingWindow,
    };

    public static T Initialized<T>(T model, int seed) where T : CausalLanguageModel
    {
        model.InitializeWeights(new Generator((ulong)seed));
        // Norm weights away from 1 and larger weights make any slip visible in the logits.
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed + 1);
        foreach (var (_, parameter) in model.named_parameters())
            parameter.add_(randn(parameter.shape, generator: generator) * 0.1);
        return model;
    }

    public static Tensor RandomIds(long batch, long length, int vocab, int seed) =>
        randint(0, vocab, [batch, length], generator: new Generator((ulong)seed));
}
