using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// How the large model's next token is drawn. Defaults are the reference implementation's (temperature 0.7,
/// top-k 50, top-p 1.0). Temperature 0 means greedy.
/// </summary>
public sealed record SamplingOptions(double Temperature = 0.7, int TopK = 50, double TopP = 1.0)
{
    public void Validate()
    {
        if (Temperature < 0 || double.IsNaN(Temperature)) throw new InvalidInputException($"temperature must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new InvalidInputException($"top_k must be ≥ 0 (0 = off), got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidInputException($"top_p must be in (0, 1], got {TopP}");
    }
}

public static class Sampling
{
    /// <summary>
    /// Temperature, then top-k, then top-p (nucleus) filtering of logits [B, V], as transformers' logits
    /// warpers do in that order: removed tokens get −∞; ties at the k-th logit are kept; top-p keeps the
    /// smallest set of most likely tokens whose probability reaches p (always at least one).
    /// </summary>
    public static Tensor Warp(Tensor logits, SamplingOptions options)
    {
        var scores = logits.to(ScalarType.Float32);
        if (options.Temperature > 0 && options.Temperature != 1.0) scores = scores / options.Temperature;
        long vocabulary = scores.shape[^1];
        if (options.TopK > 0 && options.TopK < vocabulary)
        {
            var (largest, _) = scores.topk(options.TopK, dim: -1);
            var kth = largest.narrow(-1, options.TopK - 1, 1);
            scores = scores.masked_fill(scores.lt(kth), double.NegativeInfinity);
        }
        if (options.TopP < 1.0)
        {
            var (sorted, order) = scores.sort(-1, descending: false);
            var cumulative = sorted.softmax(-1).cumsum(-1);
            var removeSorted = cumulative.le(1 - options.TopP);
            removeSorted.narrow(-1, vocabulary - 1, 1).fill_(false); // keep the most likely token
            var remove = zeros_like(removeSorted).scatter(-1, order, removeSorted);
            scores = scores.masked_fill(remove, double.NegativeInfinity);
        }
        return scores;
    }

    /// <summary>
    /// One token per row of logits [B, V] → ids [B], from the distribution <see cref="Warp"/> defines.
    /// With top-k on, the draw is made among the k candidates only (the same distribution: every other token
    /// has probability 0), which is far cheaper than a multinomial over the whole vocabulary; rows whose k-th
    /// logit is tied with others (where top-k keeps more than k) take the full path.
    /// </summary>
    public static Tensor Sample(Tensor logits, SamplingOptions options, Generator generator)
    {
        if (options.Temperature == 0) return logits.argmax(-1);
        long vocabulary = logits.shape[^1];
        if (options.TopK > 0 && options.TopK < vocabulary)
        {
            var scores = logits.to(ScalarType.Float32);
            var (candidates, ids) = scores.topk(options.TopK, dim: -1); // descending
            var kth = candidates.narrow(-1, options.TopK - 1, 1);
            bool tied = scores.ge(kth).sum(-1).max().item<long>() > options.TopK;
            if (!tied)
            {
                var pick = Warp(candidates, options with { TopK = 0 }).softmax(-1).multinomial(1, generator: generator);
                return ids.gather(-1, pick).squeeze(-1);
            }
        }
        var probabilities = Warp(logits, options).softmax(-1);
        return probabilities.multinomial(1, generator: generator).squeeze(-1);
    }
}
