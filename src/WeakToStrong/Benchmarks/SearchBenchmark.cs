using System.Diagnostics;
using WeakToStrong.Search;
using static TorchSharp.torch;

namespace WeakToStrong.Benchmarks;

/// <summary>One timed search run of `wts bench search`.</summary>
public sealed record SearchBenchmarkRow(string Name, double WallSeconds, double ScorerSeconds, long LargeTokens, long SmallTokens, int ForwardCalls,
    IReadOnlyList<SearchOutput> Outputs);

/// <summary>
/// What the search engine's design buys (`wts bench search`): the incremental scorer against re-running the
/// small models over prompt + whole response at every chunk (the reference implementation's way); CBS
/// against plain batched sampling of the same W·K sequences; prompts batched against one at a time.
/// </summary>
public static class SearchBenchmark
{
    public static IReadOnlyList<SearchBenchmarkRow> Run(PromptedModel large, PromptedModel tuned, PromptedModel untuned,
        IReadOnlyList<SearchPrompt> prompts, BeamSearchOptions beam, GenerationOptions generation, Action<string>? progress = null)
    {
        var rows = new List<SearchBenchmarkRow>();
        SearchBenchmarkRow Measure(string name, IScorer? scorer, BeamSearchOptions options, bool oneAtATime = false)
        {
            progress?.Invoke(name);
            var timed = scorer is null ? null : new TimedScorer(scorer);
            var search = new ChunkLevelBeamSearch(large, timed, options, generation);
            var clock = Stopwatch.StartNew();
            var outputs = oneAtATime ? prompts.Select(p => search.Run([p])[0]).ToArray() : search.Run(prompts);
            double wall = clock.Elapsed.TotalSeconds;
            var row = new SearchBenchmarkRow(name, wall, timed?.Seconds ?? 0, outputs.Sum(o => o.Compute.LargeTokensSampled),
                outputs.Sum(o => o.Compute.SmallTokensScored),
                oneAtATime ? outputs.Sum(o => o.Compute.ForwardCalls) : outputs[0].Compute.ForwardCalls, outputs);
            rows.Add(row);
            return row;
        }

        var implicitValue = LogProbScorer.ImplicitValue(large, tuned, untuned);
        // Warm-up (JIT, allocator, thread pool) so the first measured run is not charged for it.
        new ChunkLevelBeamSearch(large, implicitValue, beam, generation with { MaxNewTokens = Math.Min(generation.MaxNewTokens, 2 * (beam.ChunkLength ?? 5)) })
            .Run(prompts.Take(2).ToArray());
        Measure($"CBS({beam.BeamWidth},{beam.SuccessorsPerState},{beam.ChunkLength}), incremental scorer", implicitValue, beam);
        Measure($"CBS({beam.BeamWidth},{beam.SuccessorsPerState},{beam.ChunkLength}), full recomputation", new FullRecomputationScorer(tuned, untuned), beam);
        Measure($"plain sampling of {beam.RowsPerPrompt} sequences per prompt", null, new BeamSearchOptions(beam.RowsPerPrompt, 1, null));
        Measure($"CBS, {prompts.Count} prompts one at a time", implicitValue, beam, oneAtATime: true);
        return rows;
    }

    /// <summary>Times the scorer's share of a search.</summary>
    sealed class TimedScorer(IScorer inner) : IScorer
    {
        public double Seconds { get; private set; }
        public string Name => inner.Name;

        public IScoringSession Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt, int maxNewTokens, int updates)
        {
            var clock = Stopwatch.StartNew();
            var session = inner.Begin(rawPrompts, rowsPerPrompt, maxNewTokens, updates);
            Seconds += clock.Elapsed.TotalSeconds;
            return new Session(this, session);
        }

        sealed class Session(TimedScorer owner, IScoringSession inner) : IScoringSession
        {
            public IReadOnlyList<long> TokensScoredPerPrompt => inner.TokensScoredPerPrompt;
            public int ForwardCalls => inner.ForwardCalls;

            public double[] Score(IReadOnlyList<Response> rows) => Timed(() => inner.Score(rows));

            public void Reorder(IReadOnlyList<int> rowIndex) => Timed(() => { inner.Reorder(rowIndex); return 0; });

            T Timed<T>(Func<T> work)
            {
                var clock = Stopwatch.StartNew();
                try { return work(); }
                finally { owner.Seconds += clock.Elapsed.TotalSeconds; }
            }

            public void Dispose() => inner.Dispose();
        }
    }

    /// <summary>
    /// The implicit value computed as the reference implementation does: both small models re-run over
    /// prompt + the whole response for every row at every chunk (same vocabulary; the benchmark's peer).
    /// </summary>
    sealed class FullRecomputationScorer(PromptedModel tuned, PromptedModel untuned) : IScorer
    {
        public string Name => "implicit value, full recomputation";

        public IScoringSession Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt, int maxNewTokens, int updates) =>
            new Session(this, rawPrompts, rowsPerPrompt);

        sealed class Session(FullRecomputationScorer scorer, IReadOnlyList<string> rawPrompts, int rowsPerPrompt) : IScoringSession
        {
            readonly long[] tokensScored = new long[rawPrompts.Count];
            public IReadOnlyList<long> TokensScoredPerPrompt => tokensScored;
            public int ForwardCalls { get; private set; }

            public double[] Score(IReadOnlyList<Response> rows)
            {
                var value = new double[rows.Count];
                foreach (var (model, sign) in new[] { (scorer.tuned, 1.0), (scorer.untuned, -1.0) })
                {
                    var sequences = rows.Select((row, r) =>
                    {
                        var prompt = model.EncodePrompt(rawPrompts[r / rowsPerPrompt]);
                        var response = row.ContentTokenIds.ToList();
                        if (row.Finished) response.Add(model.ScoringEosTokenId);
                        return (Prompt: prompt, Response: response);
                    }).ToArray();
                    const int rowBatch = 16; // bounds the [rows, T, V] logits
                    for (int start = 0; start < rows.Count; start += rowBatch)
                    {
                        var batch = sequences.Skip(start).Take(rowBatch).ToArray();
                        using var sequencesInCache = new KvSequences(model.Model, batch.Length, batch.Max(s => s.Prompt.Length + s.Response.Count));
                        using var scope = NewDisposeScope();
                        using var noGrad = no_grad();
                        var logprobs = sequencesInCache.Feed(batch.Select(s => (IReadOnlyList<int>)[.. s.Prompt, .. s.Response]).ToArray(), lastOnly: false)!
                            .log_softmax(-1);
                        ForwardCalls++;
                        int width = (int)logprobs.shape[1];
                        for (int i = 0; i < batch.Length; i++)
                        {
                            int length = batch[i].Prompt.Length + batch[i].Response.Count, offset = width - length;
                            tokensScored[(start + i) / rowsPerPrompt] += length;
                            if (batch[i].Response.Count == 0) continue;
                            var targets = tensor(batch[i].Response.Select(t => (long)t).ToArray());
                            var picked = logprobs[i].narrow(0, offset + batch[i].Prompt.Length - 1, batch[i].Response.Count)
                                .gather(-1, targets.unsqueeze(-1));
                            value[start + i] += sign * picked.sum().item<float>();
                        }
                    }
                }
                return value;
            }

            public void Reorder(IReadOnlyList<int> rowIndex) { }

            public void Dispose() { }
        }

        readonly PromptedModel tuned = tuned, untuned = untuned;
    }
}
