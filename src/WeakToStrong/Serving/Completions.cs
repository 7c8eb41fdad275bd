using WeakToStrong.Search;

namespace WeakToStrong.Serving;

/// <summary>
/// What the engine generates for one completions request: <see cref="N"/> choices for each prompt (choice index
/// = prompt index · N + j, OpenAI's order), at most <see cref="MaxTokens"/> tokens each. With a <see cref="Seed"/>,
/// choice i draws from a generator seeded from (seed, i) alone, so its output does not depend on what else is in flight.
/// </summary>
/// <param name="Logprobs">null: none; k ≥ 0: each sampled token's log-probability and the k most likely tokens'</param>
/// <param name="IgnoreEos">vLLM's extension: an EOS token does not end the choice (benchmarks want a fixed length)</param>
public sealed record CompletionJob(IReadOnlyList<int[]> Prompts, int N, int MaxTokens, SamplingOptions Sampling,
    long? Seed, IReadOnlyList<string> Stop, int? Logprobs, bool IgnoreEos = false)
{
    public int Rows => Prompts.Count * N;
}

/// <summary>
/// The legacy completions API's logprobs object for one choice. Log-probabilities are the model's own distribution
/// (log-softmax of the logits), before temperature, top-k and top-p.
/// </summary>
public sealed record ChoiceLogprobs(IReadOnlyList<string> Tokens, IReadOnlyList<double> TokenLogprobs,
    IReadOnlyList<IReadOnlyList<(string Token, double Logprob)>>? TopLogprobs, IReadOnlyList<int> TextOffset);

/// <param name="FinishReason">"stop" (an EOS token or a stop string) or "length" (max_tokens reached)</param>
/// <param name="TokenIds">every sampled token, the EOS that ended it included</param>
public sealed record ServedChoice(int Index, string Text, string FinishReason, IReadOnlyList<int> TokenIds, ChoiceLogprobs? Logprobs);

/// <param name="EngineSeconds">from the job's admission into the batch to its last row's end</param>
public sealed record ServedCompletion(IReadOnlyList<ServedChoice> Choices, int PromptTokens, int CompletionTokens, double EngineSeconds);
