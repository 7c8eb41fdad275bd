namespace WeakToStrong.Search;

/// <summary>A prompt and its index in the dataset (the index, not its place in a batch, seeds its random stream).</summary>
public sealed record SearchPrompt(int Index, string Text);

/// <summary>One returned response with its score under the search's scorer.</summary>
public sealed record Hypothesis(string Text, IReadOnlyList<int> TokenIds, double Score, FinishReason? Finish);

/// <summary>What one output cost: these feed the reward-versus-compute plots.</summary>
public sealed record ComputeCounts(long LargeTokensSampled, long SmallTokensScored, int ForwardCalls, double WallSeconds)
{
    public static ComputeCounts Zero { get; } = new(0, 0, 0, 0);
}

/// <summary>
/// The result for one prompt: <see cref="Hypotheses"/> best first (the search's final beam, or one response
/// for sampling methods). Forward calls and wall time belong to the batch the prompt ran in.
/// </summary>
public sealed record SearchOutput(SearchPrompt Prompt, IReadOnlyList<Hypothesis> Hypotheses, ComputeCounts Compute)
{
    public Hypothesis Best => Hypotheses[0];
}

/// <summary>Decoding limits shared by every method.</summary>
public sealed record GenerationOptions(int MaxNewTokens = 128, SamplingOptions? Sampling = null, IReadOnlyList<string>? StopStrings = null, long Seed = 0)
{
    public SamplingOptions Sampling { get; init; } = Sampling ?? new SamplingOptions();
    public IReadOnlyList<string> StopStrings { get; init; } = StopStrings ?? [];

    public void Validate()
    {
        if (MaxNewTokens <= 0) throw new InvalidInputException($"max_new_tokens must be positive, got {MaxNewTokens}");
        Sampling.Validate();
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new InvalidInputException("stop strings must be non-empty");
    }
}

/// <summary>
/// Each prompt's own random stream, seeded from (run seed, prompt index) only, so a prompt's result does not
/// depend on batch size, order or sharding.
/// </summary>
public static class PromptSeeds
{
    public static ulong For(long runSeed, int promptIndex)
    {
        // SplitMix64 over the pair: nearby seeds and indices give unrelated streams.
        return SplitMix.Mix(unchecked((ulong)runSeed * 0x9E3779B97F4A7C15UL + (ulong)promptIndex + 0x632BE59BD9B4E019UL));
    }
}
