using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>Plain autoregressive sampling from one model with a KV cache (the `wts generate` command).</summary>
public static class Generation
{
    public static List<int> Sample(CausalLanguageModel model, IReadOnlyList<int> promptIds, int maxNewTokens,
        SamplingOptions sampling, IReadOnlyCollection<int> stopIds, long seed)
    {
        if (promptIds.Count == 0) throw new InvalidInputException("the prompt encodes to no tokens; give at least one token");
        var device = model.InputEmbeddings.device;
        using var generator = new Generator((ulong)seed); // CPU: the draw happens on the host (Sampling.Sample)
        var output = new List<int>();
        using var noGrad = no_grad();
        using var cache = model.NewCache(promptIds.Count + maxNewTokens);
        var next = tensor(promptIds.Select(i => (long)i).ToArray(), device: device).unsqueeze(0).DetachFromDisposeScope();
        try
        {
            for (int step = 0; step < maxNewTokens; step++)
            {
                using var scope = NewDisposeScope();
                var logits = model.Forward(next, null, cache, logitsToKeep: 1).select(1, 0);
                int token = (int)Sampling.Sample(logits, sampling, generator)[0];
                output.Add(token);
                if (stopIds.Contains(token)) break;
                next.Dispose();
                next = tensor(new long[] { token }, device: device).unsqueeze(0).DetachFromDisposeScope();
            }
        }
        finally { next.Dispose(); }
        return output;
    }
}
