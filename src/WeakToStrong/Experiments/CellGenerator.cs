using System.Diagnostics;
using WeakToStrong.Search;
using WeakToStrong.World;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Experiments;

/// <summary>One cell of an experiment (a method on a base model with a seed) bound to its models: prompts in, finished records out.</summary>
internal sealed class CellGenerator(ExperimentConfig config, Cell cell, MethodModels models, IGoldEvaluator gold)
{
    readonly GenerationOptions generation = config.Generation with { Seed = cell.Seed };

    /// <summary>
    /// The method's search on the first batch's prompts for <see cref="WarmUpTokens"/> tokens, output discarded: the first call
    /// of a search JIT-compiles its code (tiered compilation is off) and makes libtorch's first allocations for the batch's
    /// shapes, which would otherwise be timed as part of the first batch. A prompt's random stream depends on its seed and
    /// index only, so this changes no generation. A base model behind an API is not warmed up: its requests are paid for,
    /// and its first call's cost is the server's, not ours.
    /// </summary>
    public void WarmUp(IReadOnlyList<TaskPrompt> prompts)
    {
        if (models.LargeApi is not null && cell.Method.UsesBaseModel) return;
        Methods.Run(cell.Method, models, generation with { MaxNewTokens = Math.Min(WarmUpTokens, generation.MaxNewTokens) },
            prompts.Select((p, i) => new SearchPrompt(i, p.Prompt)).ToArray());
    }

    /// <summary>Enough to run every step of a search once (measured: 64 tokens left the first cell no faster than 2, within the noise).</summary>
    const int WarmUpTokens = 2;

    public IReadOnlyList<GenerationRecord> Generate(IReadOnlyList<(TaskPrompt Prompt, int Index)> batch)
    {
        var clock = Stopwatch.StartNew();
        var method = cell.Method;
        var outputs = Methods.Run(method, models, generation, batch.Select(p => new SearchPrompt(p.Index, p.Prompt.Prompt)).ToArray());
        double seconds = clock.Elapsed.TotalSeconds / batch.Count;
        // Each response is scored alone, whatever chose it: a score then does not depend on which prompts shared
        // its batch (padding changes float32 rounding), so shards, resumed runs and batch sizes agree exactly.
        var values = outputs.Select(o => Methods.ImplicitValueOf(method, models, o, generation.StopStrings)).ToArray();
        var responses = outputs.Select(o => o.Best.Text).ToArray();
        var golds = Gold.ScoreAlone(gold, batch.Select(p => p.Prompt.Prompt).ToArray(), responses);
        return batch.Select((p, i) => new GenerationRecord(
            cell.Key, cell.BaseModel, method.Name, method.Label, method.W, method.K, method.L, method.N, method.Beta, cell.Seed,
            p.Index, p.Prompt.Id, p.Prompt.Prompt, p.Prompt.Reference, responses[i], outputs[i].Best.Finish?.ToString(),
            values[i], golds[i], Win(p.Prompt, responses[i]),
            // The small models sampled alone spend no large-model tokens.
            method.UsesBaseModel ? outputs[i].Compute.LargeTokensSampled : 0,
            method.UsesBaseModel ? outputs[i].Compute.SmallTokensScored : outputs[i].Compute.LargeTokensSampled,
            outputs[i].Compute.ForwardCalls, seconds)).ToArray();
    }

    /// <summary>Instruction following: the win against the reference policy's output (see <see cref="Gold.Win"/>).</summary>
    double? Win(TaskPrompt prompt, string response) =>
        config.Gold.IsInstructionJudge && prompt.Reference is string reference ? Gold.Win(prompt.Prompt, response, reference) : null;
}
