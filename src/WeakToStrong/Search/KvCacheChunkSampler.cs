using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// The white-box sampler: all W·K rows of all B prompts share one batched KV cache of the large model; the prompts
/// run once and are copied to their rows, and selection gathers cache rows by index instead of recomputing. A row
/// leaves the cache when it finishes (it is never extended again, though it still competes as a state), so the model
/// runs on live rows only: in results/sentiment, 60% of BoN(16)'s and CBS(4,4,5)'s row-steps were finished rows.
/// Each prompt samples from its own random stream (seeded from run seed and prompt index), one draw per live row, so
/// a prompt's draws do not depend on the others in its batch.
/// </summary>
public sealed class KvCacheChunkSampler(PromptedModel large) : IChunkSampler
{
    public string Name => large.Name;

    public IChunkSession Begin(IReadOnlyList<SearchPrompt> prompts, int rowsPerPrompt, GenerationOptions generation) =>
        new Session(large, prompts, rowsPerPrompt, generation);

    sealed class Session : IChunkSession
    {
        readonly PromptedModel large;
        readonly GenerationOptions generation;
        readonly int rowsPerPrompt;
        readonly KvSequences sequences;
        readonly Generator[] generators;
        readonly long[] largeTokensSampled;
        Tensor nextLogits;       // [live rows, V]: the next-token logits of each row in the cache
        int[] live;              // the rows in the cache, in cache order (ascending): the unfinished ones
        int generated;

        public Session(PromptedModel large, IReadOnlyList<SearchPrompt> prompts, int rowsPerPrompt, GenerationOptions generation)
        {
            this.large = large;
            this.generation = generation;
            this.rowsPerPrompt = rowsPerPrompt;
            int promptCount = prompts.Count;
            largeTokensSampled = new long[promptCount];
            using var noGrad = no_grad();
            var promptIds = prompts.Select(p => large.EncodePrompt(p.Text)).ToArray();
            int longest = promptIds.Max(ids => ids.Length) + generation.MaxNewTokens;
            large.CheckLength(longest);
            // Capacity for the longest row up front: selection copies whole cache rows, so spare columns cost time.
            sequences = new KvSequences(large.Model, promptCount, longest);
            try
            {
                // The prompts run once; their cache rows and next-token logits are copied to all W·K rows of each.
                var rowsOfPrompt = Enumerable.Range(0, promptCount).SelectMany(p => Enumerable.Repeat(p, rowsPerPrompt)).ToArray();
                using (var scope = NewDisposeScope())
                {
                    var promptLogits = sequences.Feed(promptIds, lastOnly: true)!;
                    var index = tensor(rowsOfPrompt.Select(p => (long)p).ToArray(), device: promptLogits.device);
                    nextLogits = promptLogits.index_select(0, index).DetachFromDisposeScope();
                }
                sequences.Reorder(rowsOfPrompt);
            }
            catch
            {
                sequences.Dispose();
                throw;
            }
            live = Enumerable.Range(0, promptCount * rowsPerPrompt).ToArray();
            // CPU generators on every device: the draws happen on the host (Sampling.Sample), so results do not depend on the device.
            generators = prompts.Select(p => new Generator(PromptSeeds.For(generation.Seed, p.Index))).ToArray();
        }

        public IReadOnlyList<long> LargeTokensSampledPerPrompt => largeTokensSampled;

        public int ForwardCalls => sequences.ForwardCalls;

        public void Extend(Response[] rows, int tokens, Action<int>? onToken)
        {
            using var noGrad = no_grad();
            KeepInCache(i => !rows[live[i]].Finished);
            var sampledBy = new int[rows.Length];
            for (int step = 0; step < tokens && generated < generation.MaxNewTokens && live.Length > 0; step++)
            {
                using var scope = NewDisposeScope();
                var sampled = SampleEachPrompt(nextLogits);
                for (int i = 0; i < live.Length; i++)
                {
                    rows[live[i]].Append(sampled[i], large.Tokenizer, large.EosTokenIds, generation.StopStrings);
                    sampledBy[live[i]] = sampled[i];
                    largeTokensSampled[live[i] / rowsPerPrompt]++;
                }
                generated++;
                onToken?.Invoke(generated);
                if (generated == generation.MaxNewTokens) break; // no token follows the last one
                KeepInCache(i => !rows[live[i]].Finished);
                if (live.Length == 0) break;
                var logits = sequences.Feed(live.Select(row => (IReadOnlyList<int>)[sampledBy[row]]).ToArray(), lastOnly: true)!;
                nextLogits.Dispose();
                nextLogits = logits.DetachFromDisposeScope();
            }
        }

        /// <summary>Keeps the cache rows (positions in <see cref="live"/>) that <paramref name="keep"/> says, in order.</summary>
        void KeepInCache(Func<int, bool> keep)
        {
            var kept = Enumerable.Range(0, live.Length).Where(keep).ToArray();
            if (kept.Length == live.Length) return;
            GatherCacheRows(kept);
            live = kept.Select(i => live[i]).ToArray();
        }

        void GatherCacheRows(int[] cacheRows)
        {
            sequences.Reorder(cacheRows);
            using var scope = NewDisposeScope();
            var index = tensor(cacheRows.Select(i => (long)i).ToArray(), device: nextLogits.device);
            var gathered = nextLogits.index_select(0, index).DetachFromDisposeScope(); // owned here, as nextLogits always is
            nextLogits.Dispose();
            nextLogits = gathered;
        }

        public void Reorder(IReadOnlyList<int> rowIndex)
        {
            // New row j is old row rowIndex[j]; only rows still in the cache (unfinished) take a cache row.
            var cacheRowOf = new Dictionary<int, int>(live.Length);
            for (int i = 0; i < live.Length; i++) cacheRowOf[live[i]] = i;
            var newLive = new List<int>(rowIndex.Count);
            var cacheRows = new List<int>(rowIndex.Count);
            for (int j = 0; j < rowIndex.Count; j++)
                if (cacheRowOf.TryGetValue(rowIndex[j], out int cacheRow)) { newLive.Add(j); cacheRows.Add(cacheRow); }
            GatherCacheRows([.. cacheRows]);
            live = [.. newLive];
        }

        /// <summary>
        /// One token per live row; each prompt's live rows draw from that prompt's own generator (and decide top-k ties
        /// on their own), so nothing about a prompt's draw depends on the other prompts in the batch. One host read for all rows.
        /// </summary>
        int[] SampleEachPrompt(Tensor logits)
        {
            var liveRowsOfPrompt = new int[generators.Length];
            foreach (int row in live) liveRowsOfPrompt[row / rowsPerPrompt]++;
            return Sampling.Sample(logits.narrow(1, 0, large.UsableVocabSize), generation.Sampling, generators, liveRowsOfPrompt)
                .Select(id => (int)id).ToArray();
        }

        public void Dispose()
        {
            nextLogits?.Dispose();
            sequences.Dispose();
            foreach (var generator in generators) generator.Dispose();
        }
    }
}
