using TorchSharp;
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
    // Kept for the process's life: TorchSharp 0.107 can finalize a temporary Scalar while a native op still reads it (README, known issues).
    static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();

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
            scores = scores.masked_fill(scores.lt(kth), NegativeInfinity);
        }
        if (options.TopP < 1.0)
        {
            var (sorted, order) = scores.sort(-1, descending: false);
            var cumulative = sorted.softmax(-1).cumsum(-1);
            var removeSorted = cumulative.le(1 - options.TopP);
            removeSorted.narrow(-1, vocabulary - 1, 1).fill_(false); // keep the most likely token
            var remove = zeros_like(removeSorted).scatter(-1, order, removeSorted);
            scores = scores.masked_fill(remove, NegativeInfinity);
        }
        return scores;
    }

    /// <summary>One token per row of logits [B, V] → ids [B], from the distribution <see cref="Warp"/> defines.</summary>
    public static Tensor Sample(Tensor logits, SamplingOptions options, Generator generator)
    {
        if (options.Temperature == 0) return logits.argmax(-1);
        var (probabilities, candidateIds) = Distribution(logits, options);
        return Draw(probabilities, candidateIds, generator);
    }

    /// <summary>
    /// The warped next-token distribution of each row of logits [B, V]: probabilities [B, C] over candidate
    /// ids [B, C]. With top-k on, the candidates are the k most likely tokens (every other token has
    /// probability 0, so drawing among them is the same distribution and far cheaper than a multinomial over
    /// the vocabulary); if some row's k-th logit ties the next one (top-k then keeps more than k), or top-k
    /// is off, the candidates are the whole vocabulary and <paramref name="candidateIds"/> is null.
    /// Temperature must be positive.
    /// </summary>
    static (Tensor Probabilities, Tensor? CandidateIds) Distribution(Tensor logits, SamplingOptions options)
    {
        long vocabulary = logits.shape[^1];
        if (options.TopK > 0 && options.TopK < vocabulary)
        {
            var (largest, ids) = logits.to(ScalarType.Float32).topk(options.TopK + 1, dim: -1); // descending
            bool tied = largest.narrow(-1, options.TopK - 1, 1).eq(largest.narrow(-1, options.TopK, 1)).any().item<bool>();
            if (!tied)
            {
                var candidates = largest.narrow(-1, 0, options.TopK);
                return (Warp(candidates, options with { TopK = 0 }).softmax(-1), ids.narrow(-1, 0, options.TopK));
            }
        }
        return (Warp(logits, options).softmax(-1), null);
    }

    /// <summary>One draw per row from <see cref="Distribution"/>'s output → token ids [B].</summary>
    static Tensor Draw(Tensor probabilities, Tensor? candidateIds, Generator generator)
    {
        var pick = probabilities.multinomial(1, generator: generator);
        return (candidateIds is null ? pick : candidateIds.gather(-1, pick)).squeeze(-1);
    }
}
