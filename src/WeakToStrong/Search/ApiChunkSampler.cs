using WeakToStrong.Models.Api;

namespace WeakToStrong.Search;

/// <summary>
/// The black-box sampler (the paper's setting for gpt-3.5-turbo-instruct): a state's prompt is the rendered prompt plus
/// its response text so far, and one chunk is one completions request with max_tokens = L and n = the state's copies
/// (W·K at the first step, K after), the run's temperature and top_p (top_k only where
/// <see cref="ApiModelOptions.SendTopK"/>), its stop strings, and a seed derived from (run seed, prompt index, state,
/// chunk), so a rerun against a server that honours seeds draws the same text. finish_reason "stop" finishes a state
/// (scored with EOS), "length" continues it. All states of all prompts are requested at once (the client bounds how
/// many are in flight). The large model's tokens are counted from the server's usage.
/// </summary>
public sealed class ApiChunkSampler(CompletionsClient client, PromptTemplate template) : IChunkSampler
{
    readonly CompletionsClient client = client;
    readonly PromptTemplate template = template;

    public string Name => client.Options.Model;

    public IChunkSession Begin(IReadOnlyList<SearchPrompt> prompts, int rowsPerPrompt, GenerationOptions generation) =>
        new Session(this, prompts, rowsPerPrompt, generation);

    /// <summary>The seed of one request: SplitMix64 over (the prompt's stream, state, chunk), kept to 31 bits for servers that want an int.</summary>
    public static long RequestSeed(long runSeed, int promptIndex, int state, int chunk)
    {
        return (long)(SplitMix.Mix(unchecked(PromptSeeds.For(runSeed, promptIndex) + 0x9E3779B97F4A7C15UL * (ulong)(state + 1)
            + 0xD1B54A32D192ED03UL * (ulong)(chunk + 1))) >> 33);
    }

    sealed class Session(ApiChunkSampler sampler, IReadOnlyList<SearchPrompt> prompts, int rowsPerPrompt, GenerationOptions generation) : IChunkSession
    {
        readonly string[] renderedPrompts = prompts.Select(p => sampler.template.Apply(p.Text)).ToArray();
        readonly long[] largeTokensSampled = new long[prompts.Count];
        // Which state of its prompt each row continues: copies of one state share a number (and one request).
        int[] stateOfRow = new int[prompts.Count * rowsPerPrompt];
        int chunk, generated, requests;

        public IReadOnlyList<long> LargeTokensSampledPerPrompt => largeTokensSampled;

        public int ForwardCalls => requests;

        public void Extend(Response[] rows, int tokens, Action<int>? onToken)
        {
            var groups = new List<(int Prompt, int[] Rows, CompletionRequest Request)>();
            for (int p = 0; p < prompts.Count; p++)
                foreach (var copies in Enumerable.Range(p * rowsPerPrompt, rowsPerPrompt).GroupBy(row => stateOfRow[row]))
                {
                    int[] members = [.. copies];
                    var state = rows[members[0]];
                    if (state.Finished) continue;
                    var sampling = generation.Sampling;
                    groups.Add((p, members, new CompletionRequest(renderedPrompts[p] + state.Text, tokens, members.Length, sampling.Temperature, sampling.TopP,
                        sampler.client.Options.SendTopK && sampling.TopK > 0 ? sampling.TopK : null, generation.StopStrings,
                        RequestSeed(generation.Seed, prompts[p].Index, copies.Key, chunk))));
                }
            var answers = Task.WhenAll(groups.Select(g => sampler.client.CompleteAsync(g.Request))).GetAwaiter().GetResult();
            for (int g = 0; g < groups.Count; g++)
            {
                var (prompt, members, _) = groups[g];
                for (int i = 0; i < members.Length; i++)
                {
                    var choice = answers[g].Choices[i];
                    rows[members[i]].AppendText(choice.Text, choice.Stopped, generation.StopStrings);
                }
                largeTokensSampled[prompt] += answers[g].CompletionTokens;
            }
            requests += groups.Count;
            chunk++;
            generated += tokens;
            onToken?.Invoke(generated);
        }

        public void Reorder(IReadOnlyList<int> rowIndex)
        {
            // Rows selected from the same old row are copies of one state: number the states of each prompt in order.
            var next = new int[rowIndex.Count];
            for (int p = 0; p < prompts.Count; p++)
            {
                var numbers = new Dictionary<int, int>();
                for (int row = p * rowsPerPrompt; row < (p + 1) * rowsPerPrompt; row++)
                {
                    if (!numbers.TryGetValue(rowIndex[row], out int state)) numbers[rowIndex[row]] = state = numbers.Count;
                    next[row] = state;
                }
            }
            stateOfRow = next;
        }

        public void Dispose() { }
    }
}
