namespace WeakToStrong.Search;

/// <summary>
/// The large model's side of chunk-level beam search: continuations of the states the search keeps. The loop
/// (<see cref="ChunkLevelBeamSearch"/>) decides which states live; a sampler only extends them. Two transports:
/// the in-process batched KV cache (<see cref="KvCacheChunkSampler"/>) and an OpenAI-compatible completions
/// endpoint (<see cref="ApiChunkSampler"/>).
/// </summary>
public interface IChunkSampler
{
    /// <summary>A short name for messages (the model or endpoint).</summary>
    string Name { get; }

    /// <summary>Starts a search of <paramref name="rowsPerPrompt"/> rows per prompt, all empty (every row starts from its prompt).</summary>
    IChunkSession Begin(IReadOnlyList<SearchPrompt> prompts, int rowsPerPrompt, GenerationOptions generation);
}

/// <summary>One search's sampling state: which row continues which text, and what sampling cost.</summary>
public interface IChunkSession : IDisposable
{
    /// <summary>
    /// Extends every unfinished row by up to <paramref name="tokens"/> tokens, in place (a row ends early at EOS or a
    /// stop string). Rows that are copies of one state (after <see cref="Reorder"/>) draw different continuations.
    /// </summary>
    /// <param name="onToken">progress: the number of tokens generated so far in this search</param>
    void Extend(Response[] rows, int tokens, Action<int>? onToken);

    /// <summary>The search kept states: row i is now old row <paramref name="rowIndex"/>[i] (always a row of the same prompt).</summary>
    void Reorder(IReadOnlyList<int> rowIndex);

    /// <summary>Tokens the large model generated so far for each prompt's rows.</summary>
    IReadOnlyList<long> LargeTokensSampledPerPrompt { get; }

    /// <summary>Forward passes (white-box) or requests (API) so far.</summary>
    int ForwardCalls { get; }
}
