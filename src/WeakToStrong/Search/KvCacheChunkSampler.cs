using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// The white-box sampler: all W·K rows of all B prompts share one batched KV cache of the large model; the prompts
/// run once and are copied to their rows, and selection gathers cache rows by index instead of recomputing. Each
/// prompt samples from its own random stream (seeded from run seed and prompt index), so a prompt's draws do not
/// depend on the others in its batch.
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
        Tensor nextLogits;
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
                    nextLogits = promptLogits.index_select(0, index).MoveToOuterDisposeScope();
                }
                sequences.Reorder(rowsOfPrompt);
            }
            catch
            {
                sequences.Dispose();
                throw;
            }
            // CPU generators on every device: the draws happen on the host (Sampling.Sample), so results do not depend on the device.
            generators = prompts.Select(p => new Generator(PromptSeeds.For(generation.Seed, p.Index))).ToArray();
        }

        public IReadOnlyList<long> LargeTokensSampledPerPrompt => largeTokensSampled;

        public int ForwardCalls => sequences.ForwardCalls;

        public void Extend(Response[] rows, int tokens, Action<int>? onToken)
        {
            using var noGrad = no_grad();
            for (int step = 0; step < tokens && generated < generation.MaxNewTokens && rows.Any(r => !r.Finished); step++)
            {
                using var scope = NewDisposeScope();
                var sampled = SampleEachPrompt(nextLogits);
                var feed = new IReadOnlyList<int>[rows.Length];
                for (int row = 0; row < rows.Length; row++)
                {
                    feed[row] = [];
                    if (rows[row].Finished) continue;
                    rows[row].Append(sampled[row], large.Tokenizer, large.EosTokenIds, generation.StopStrings);
                    largeTokensSampled[row / rowsPerPrompt]++;
                    if (!rows[row].Finished) feed[row] = [sampled[row]];
                }
                generated++;
                onToken?.Invoke(generated);
                if (generated == generation.MaxNewTokens) break; // no token follows the last one
                var logits = sequences.Feed(feed, lastOnly: true);
                if (logits is null) continue;
                nextLogits.Dispose();
                nextLogits = logits.MoveToOuterDisposeScope();
            }
        }

        public void Reorder(IReadOnlyList<int> rowIndex)
        {
            sequences.Reorder(rowIndex);
            using var scope = NewDisposeScope();
            var index = tensor(rowIndex.Select(i => (long)i).ToArray(), device: nextLogits.device);
            var reordered = nextLogits.index_select(0, index).MoveToOuterDisposeScope();
            nextLogits.Dispose();
            nextLogits = reordered;
        }

        /// <summary>
        /// One token per row; each prompt's rows draw from that prompt's own generator (and decide top-k ties on
        /// their own), so nothing about a prompt's draw depends on the other prompts in the batch. One host read for all rows.
        /// </summary>
        int[] SampleEachPrompt(Tensor logits) =>
            Sampling.Sample(logits.narrow(1, 0, large.UsableVocabSize), generation.Sampling, generators).Select(id => (int)id).ToArray();

        public void Dispose()
        {
            nextLogits?.Dispose();
            sequences.Dispose();
            foreach (var generator in generators) generator.Dispose();
        }
    }
}
