using System.Diagnostics;
using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>How finished states compete for the W beam slots.</summary>
public enum FinishedStates
{
    /// <summary>The reference implementation: all W·K rows are ranked (a finished state's K copies included) and the top W kept.</summary>
    CompeteAll,
    /// <summary>Ours: a finished state's copies are not ranked again, so it holds at most one slot and the others keep searching.</summary>
    OneSlot,
}

/// <summary>CBS(W, K, L). ChunkLength null is L = ∞: sample to the end, score once.</summary>
public sealed record BeamSearchOptions(int BeamWidth, int SuccessorsPerState, int? ChunkLength, FinishedStates Finished = FinishedStates.CompeteAll)
{
    /// <summary>Sequences per prompt at most (W·K, or N): one limit for configs, flags and the engine.</summary>
    public const int MaxRowsPerPrompt = 1024;

    /// <summary>Best-of-N = CBS(1, N, ∞).</summary>
    public static BeamSearchOptions BestOfN(int n) => new(1, n, null);

    /// <summary>Plain sampling = CBS(1, 1, ∞).</summary>
    public static BeamSearchOptions Sampling { get; } = new(1, 1, null);

    public int RowsPerPrompt => BeamWidth * SuccessorsPerState;

    public void Validate()
    {
        if (BeamWidth < 1) throw new InvalidInputException($"beam width W must be ≥ 1, got {BeamWidth}");
        if (SuccessorsPerState < 1) throw new InvalidInputException($"successors per state K must be ≥ 1, got {SuccessorsPerState}");
        if (ChunkLength is < 1) throw new InvalidInputException($"chunk length L must be ≥ 1 (or ∞), got {ChunkLength}");
        if ((long)BeamWidth * SuccessorsPerState > MaxRowsPerPrompt)
            throw new InvalidInputException($"W·K = {(long)BeamWidth * SuccessorsPerState} rows per prompt is beyond the limit of {MaxRowsPerPrompt}");
    }
}

/// <summary>
/// Chunk-level beam search (Zhou et al. 2024, Algorithm 1). From the prompt, the frozen large model samples
/// W·K continuations of L tokens; the scorer (the implicit value log π_tuned − log π_untuned, or any
/// <see cref="IScorer"/>) scores each partial response; the best W are kept and each spawns K continuations
/// of the next L tokens; this repeats until max_new_tokens or until every state is finished. Finished states
/// keep their text and score and compete with unfinished ones but are never extended (how their copies compete:
/// <see cref="FinishedStates"/>). Reaching max_new_tokens finishes every state, as in the reference, so the last
/// scores include the scorer's EOS. The best state wins.
///
/// The large model is reached through an <see cref="IChunkSampler"/>: in process with a batched KV cache
/// (<see cref="KvCacheChunkSampler"/>), or behind an OpenAI-compatible API .
/// </summary>
public sealed class ChunkLevelBeamSearch
{
    readonly IChunkSampler large;
    readonly IScorer? scorer;
    readonly BeamSearchOptions beam;
    readonly GenerationOptions generation;

    /// <param name="scorer">null only when L = ∞ and nothing is chosen: plain sampling of W·K sequences per prompt, returned in sampling order.</param>
    public ChunkLevelBeamSearch(IChunkSampler large, IScorer? scorer, BeamSearchOptions beam, GenerationOptions generation)
    {
        beam.Validate();
        generation.Validate();
        if (scorer is null && beam.RowsPerPrompt > 1 && beam.ChunkLength is not null)
            throw new InvalidInputException("chunk-level selection needs a scorer");
        this.large = large;
        this.scorer = scorer;
        this.beam = beam;
        this.generation = generation;
    }

    /// <summary>The search over an in-process model (its batched KV cache).</summary>
    public ChunkLevelBeamSearch(PromptedModel large, IScorer? scorer, BeamSearchOptions beam, GenerationOptions generation)
        : this(new KvCacheChunkSampler(large), scorer, beam, generation) { }

    /// <param name="hypothesesPerPrompt">how many of the final rows to return, best first (default W; at most W·K)</param>
    /// <param name="onToken">progress: called with the number of tokens generated so far</param>
    public IReadOnlyList<SearchOutput> Run(IReadOnlyList<SearchPrompt> prompts, int? hypothesesPerPrompt = null, Action<int>? onToken = null)
    {
        if (prompts.Count == 0) return [];
        var clock = Stopwatch.StartNew();
        int promptCount = prompts.Count, rowsPerPrompt = beam.RowsPerPrompt, rowCount = promptCount * rowsPerPrompt;
        int chunkLength = beam.ChunkLength ?? generation.MaxNewTokens;

        using var noGrad = no_grad(); // the scorers run models too
        using var sampling = large.Begin(prompts, rowsPerPrompt, generation);
        using var scoring = scorer?.Begin(prompts.Select(p => p.Text).ToArray(), rowsPerPrompt, generation.MaxNewTokens,
            updates: (generation.MaxNewTokens + chunkLength - 1) / chunkLength);

        var responses = Enumerable.Range(0, rowCount).Select(_ => new Response()).ToArray();
        var duplicate = new bool[rowCount];   // a copy of a finished state: it must not take a second beam slot
        double[] scores;
        int generated = 0;
        while (true)
        {
            // 1. Every live row samples (up to) the next L tokens.
            int tokens = Math.Min(chunkLength, generation.MaxNewTokens - generated);
            sampling.Extend(responses, tokens, onToken);
            generated += tokens;

            // 2. Score every partial response (at the token limit every response is finished).
            if (generated >= generation.MaxNewTokens)
                foreach (var response in responses.Where(r => !r.Finished)) response.FinishAtLength();
            scores = scoring?.Score(responses) ?? new double[rowCount];
            if (responses.All(r => r.Finished)) break;

            // 3. Keep the best W of each prompt's W·K and let each spawn K successors.
            var (selection, duplicateAfter) = SelectAndExpand(scores, duplicate, responses.Select(r => r.Finished).ToArray(), beam);
            sampling.Reorder(selection);
            scoring?.Reorder(selection);
            responses = selection.Select(i => responses[i].Clone()).ToArray();
            duplicate = duplicateAfter;
        }

        double seconds = clock.Elapsed.TotalSeconds;
        int forwardCalls = sampling.ForwardCalls + (scoring?.ForwardCalls ?? 0);
        return Enumerable.Range(0, promptCount).Select(p =>
        {
            var ranked = RankRows(scores, duplicate, p, rowsPerPrompt).Take(hypothesesPerPrompt ?? beam.BeamWidth)
                .Select(row => new Hypothesis(responses[row].Text, responses[row].TokenIds, scores[row], responses[row].Finish)).ToArray();
            var compute = new ComputeCounts(sampling.LargeTokensSampledPerPrompt[p], scoring?.TokensScoredPerPrompt[p] ?? 0, forwardCalls, seconds);
            return new SearchOutput(prompts[p], ranked, compute);
        }).ToArray();
    }

    /// <summary>Each prompt's rows by score, best first; ties go to the lower row; duplicates never rank.</summary>
    static IEnumerable<int> RankRows(double[] scores, bool[] duplicate, int prompt, int rowsPerPrompt) =>
        Enumerable.Range(prompt * rowsPerPrompt, rowsPerPrompt).Where(row => !duplicate[row])
            .OrderByDescending(row => scores[row]).ThenBy(row => row);

    /// <summary>
    /// The next round's rows: each prompt's best W rows, each repeated K times (prompt p's rows stay at
    /// p·W·K …). A finished state is not extended, so its K copies stay identical: with
    /// <see cref="FinishedStates.CompeteAll"/> they all rank again (the reference's top-k over all rows); with
    /// <see cref="FinishedStates.OneSlot"/> all but the first are marked duplicate and never take a beam slot.
    /// </summary>
    internal static (int[] Selection, bool[] Duplicate) SelectAndExpand(double[] scores, bool[] duplicate, bool[] finished, BeamSearchOptions beam)
    {
        int successors = beam.SuccessorsPerState, rowsPerPrompt = beam.RowsPerPrompt, prompts = scores.Length / rowsPerPrompt;
        var selection = new List<int>(scores.Length);
        for (int p = 0; p < prompts; p++)
            foreach (int row in RankRows(scores, duplicate, p, rowsPerPrompt).Take(beam.BeamWidth))
                selection.AddRange(Enumerable.Repeat(row, successors));
        var duplicateAfter = selection.Select((row, i) => beam.Finished == FinishedStates.OneSlot && finished[row] && i % successors != 0).ToArray();
        return ([.. selection], duplicateAfter);
    }
}
