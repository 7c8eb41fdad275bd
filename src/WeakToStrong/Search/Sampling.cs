using TorchSharp;
using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// How the large model's next token is drawn. Defaults are the reference implementation's (temperature 0.7,
/// top-k 50, top-p 1.0). Temperature 0 means greedy.
/// </summary>
public sealed record SamplingOptions(double Temperature = 0.7, int TopK = 50, double TopP = 1.0)
{
    /// <param name="asFlags">name the command-line flags (--top-k) instead of the config keys (top_k)</param>
    public void Validate(bool asFlags = false)
    {
        string Name(string key) => asFlags ? "--" + key.Replace('_', '-') : key;
        if (Temperature < 0 || double.IsNaN(Temperature)) throw new InvalidInputException($"{Name("temperature")} must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new InvalidInputException($"{Name("top_k")} must be ≥ 0 (0 = off), got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidInputException($"{Name("top_p")} must be in (0, 1], got {TopP}");
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
        if (options.Temperature > 0 && options.Temperature != 1.0)
        {
            using var temperature = options.Temperature.ToScalar();
            scores = scores.div(temperature);
        }
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
            using var mass = (1 - options.TopP).ToScalar();
            var removeSorted = cumulative.le(mass);
            removeSorted.narrow(-1, vocabulary - 1, 1).fill_(Scalars.False); // keep the most likely token
            var remove = zeros_like(removeSorted).scatter(-1, order, removeSorted);
            scores = scores.masked_fill(remove, NegativeInfinity);
        }
        return scores;
    }

    /// <summary>
    /// Candidates beyond k that the device-side top-k also returns, so that a tie at the k-th logit (common in
    /// bfloat16, whose 8-bit mantissa makes neighbouring logits equal) is resolved on the host without a second copy.
    /// </summary>
    public const int TieMargin = 64;

    /// <summary>One token per row of logits [B, V] (any device), drawn with <paramref name="generator"/> (a CPU generator).</summary>
    public static long[] Sample(Tensor logits, SamplingOptions options, Generator generator) => Sample(logits, options, [generator]);

    /// <summary>
    /// One token per row of logits [B, V] (any device), from the distribution <see cref="Warp"/> defines. The rows
    /// form <paramref name="generators"/>.Count equal consecutive groups (a prompt's rows); group g draws with
    /// generators[g], a CPU generator, and decides top-k ties on its own, so nothing about a group's draw depends on
    /// the others. The device does one top-k for all rows and the host reads the result once (one synchronisation
    /// per call); warping and drawing happen on the host, so the random streams never depend on the device.
    /// </summary>
    public static long[] Sample(Tensor logits, SamplingOptions options, IReadOnlyList<Generator> generators)
    {
        long rows = logits.shape[0];
        if (generators.Count == 0 || rows % generators.Count != 0)
            throw new ArgumentException($"{rows} rows cannot be split evenly among {generators.Count} generators");
        return Sample(logits, options, generators, Enumerable.Repeat((int)(rows / generators.Count), generators.Count).ToArray());
    }

    /// <summary>As above, with consecutive groups of the given sizes (a prompt's live rows; a group may be empty).</summary>
    public static long[] Sample(Tensor logits, SamplingOptions options, IReadOnlyList<Generator> generators, IReadOnlyList<int> groupRows)
    {
        long rows = logits.shape[0], vocabulary = logits.shape[^1];
        if (groupRows.Count != generators.Count || groupRows.Sum() != rows)
            throw new ArgumentException($"{rows} rows cannot be split into groups of {string.Join(", ", groupRows)} for {generators.Count} generators");
        var groupFirst = new int[groupRows.Count];
        for (int g = 1; g < groupRows.Count; g++) groupFirst[g] = groupFirst[g - 1] + groupRows[g - 1];
        using var scope = NewDisposeScope();
        if (options.Temperature == 0) return HostSync.ToArray<long>(logits.argmax(-1), HostRead.Sampling);

        var tokens = new long[rows];
        if (!(options.TopK > 0 && options.TopK < vocabulary))
        {
            // Warping and softmax work row by row, so one call over all rows gives each row exactly what its own call would.
            var probabilities = Warp(HostSync.ToHost(logits.to(ScalarType.Float32), HostRead.Sampling), options).softmax(-1);
            for (int g = 0; g < generators.Count; g++)
                if (groupRows[g] > 0) DrawInto(tokens, groupFirst[g], probabilities.narrow(0, groupFirst[g], groupRows[g]), null, generators[g]);
            return tokens;
        }

        // Values and ids of the widened top-k in one copy (float64 holds both exactly).
        int k = options.TopK, width = (int)Math.Min(vocabulary, k + TieMargin);
        var (largest, ids) = logits.to(ScalarType.Float32).topk(width, dim: -1); // descending
        var host = HostSync.ToHost(cat([largest.to(ScalarType.Float64), ids.to(ScalarType.Float64)], 1), HostRead.Sampling);
        var hostLargest = host.narrow(1, 0, width).to(ScalarType.Float32);
        var hostIds = host.narrow(1, width, width).to(ScalarType.Int64);
        var values = HostSync.Values<float>(hostLargest);
        var candidateIds = HostSync.Values<long>(hostIds);
        // The untied rows' distribution over their k candidates, for all rows in one call (row-wise, as above).
        var candidates = Warp(hostLargest.narrow(-1, 0, k), options with { TopK = 0 }).softmax(-1);
        Tensor? fullRows = null;
        for (int g = 0; g < generators.Count; g++)
        {
            int first = groupFirst[g], rowsPerGroup = groupRows[g];
            if (rowsPerGroup == 0) continue;
            var groupLargest = hostLargest.narrow(0, first, rowsPerGroup);
            bool tied = Enumerable.Range(first, rowsPerGroup).Any(row => values[row * width + k - 1] == values[row * width + k]);
            if (!tied)
            {
                // Every other token has probability 0: drawing among the k candidates is the same distribution, far cheaper.
                DrawInto(tokens, first, candidates.narrow(0, first, rowsPerGroup), null, generators[g]);
                for (int row = first; row < first + rowsPerGroup; row++) tokens[row] = candidateIds[row * width + tokens[row]];
                continue;
            }
            // Top-k keeps every token tied with the k-th, so the draw is over the whole vocabulary. Where the window holds
            // every kept token (its last value, temperature applied, is below the k-th's), the vocabulary row is the window
            // scattered into −∞: after top-k masking it is exactly the tensor the full row gives.
            var scaled = Warp(groupLargest, options with { TopK = 0, TopP = 1.0 });
            bool resolved = width == vocabulary || HostSync.Values<bool>(
                scaled.narrow(-1, width - 1, 1).lt(scaled.narrow(-1, k - 1, 1))).All(below => below);
            Tensor vocabularyRows;
            if (resolved)
                vocabularyRows = empty(rowsPerGroup, vocabulary, dtype: ScalarType.Float32).fill_(NegativeInfinity)
                    .scatter(-1, hostIds.narrow(0, first, rowsPerGroup), groupLargest);
            else
            {
                // A tie running past the whole window: rare, and the only case that reads the device twice in a step.
                fullRows ??= HostSync.ToHost(logits.to(ScalarType.Float32), HostRead.Sampling);
                vocabularyRows = fullRows.narrow(0, first, rowsPerGroup);
            }
            DrawInto(tokens, first, Warp(vocabularyRows, options).softmax(-1), null, generators[g]);
        }
        return tokens;
    }

    /// <summary>One draw per row of host <paramref name="probabilities"/> [R, C] (ids [R, C], or null for C = vocabulary) into tokens[first..].</summary>
    static void DrawInto(long[] tokens, int first, Tensor probabilities, Tensor? candidateIds, Generator generator)
    {
        var pick = probabilities.multinomial(1, generator: generator);
        var picked = HostSync.Values<long>(candidateIds is null ? pick : candidateIds.gather(-1, pick));
        picked.CopyTo(tokens, first);
    }
}
