using WeakToStrong.Evaluation;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.World;

/// <summary>One method's gold result on the held-out prompts.</summary>
public sealed record MethodResult(string Method, Estimate Gold, Estimate? WinRate);

/// <summary>
/// The sanity checks that make the synthetic world meaningful (`wts zoo check`): base models get better with
/// size, the tuned small model beats the untuned one on gold reward, and weak-to-strong search on the largest
/// base beats both sampling that base and sampling the small tuned model.
/// </summary>
public static class ZooCheck
{
    public static IReadOnlyList<MethodResult> Run(ZooTask zoo, int promptCount, Action<string>? log = null, BeamSearchOptions? beam = null)
    {
        var options = ModelOptions.Cpu;
        var plan = zoo.Plan;
        var generator = TaskGenerators.Get(plan.Task);
        var prompts = generator.Prompts(TaskSplit.Test, promptCount, StableHash.Fnv1a("zoo-check/" + plan.Task));
        var searchPrompts = prompts.Select((p, i) => new SearchPrompt(i, p.Prompt)).ToArray();
        var tokenizer = HfTokenizer.Load(zoo.Tokenizer);
        PromptedModel Load(string name, string directory) => new(name, PretrainedModels.LoadCausalLM(directory, options), tokenizer, PromptTemplate.Raw);
        var generation = new GenerationOptions(plan.MaxNewTokens, new SamplingOptions(), null, 0);

        var large = Load("base-large", zoo.LargestBase);
        var tuned = Load("small-tuned", zoo.SmallTuned);
        var untuned = Load("small-untuned", zoo.SmallUntuned);
        var methods = new (string Name, Func<IReadOnlyList<SearchOutput>> Run)[]
        {
            ("small-untuned sampling", () => new ChunkLevelBeamSearch(untuned, null, BeamSearchOptions.Sampling, generation).Run(searchPrompts)),
            ("small-tuned sampling", () => new ChunkLevelBeamSearch(tuned, null, BeamSearchOptions.Sampling, generation).Run(searchPrompts)),
            ("base-large sampling", () => new ChunkLevelBeamSearch(large, null, BeamSearchOptions.Sampling, generation).Run(searchPrompts)),
            ($"base-large CBS{Describe(beam ?? new BeamSearchOptions(4, 4, 5))}", () =>
                new ChunkLevelBeamSearch(large, LogProbScorer.ImplicitValue(large, tuned, untuned), beam ?? new BeamSearchOptions(4, 4, 5), generation).Run(searchPrompts)),
        };
        using var gold = zoo.OpenGold(options);
        var results = new List<MethodResult>();
        foreach (var (name, run) in methods)
        {
            log?.Invoke($"{plan.Task}: {name} on {prompts.Count} prompts");
            var responses = run().Select(o => o.Best.Text).ToArray();
            var scores = gold.Score(prompts.Select(p => p.Prompt).ToArray(), responses);
            Estimate? winRate = null;
            if (generator is InstructionTask)
            {
                var wins = prompts.Zip(responses, (p, r) => Gold.Win(p.Prompt, r, p.Reference!)).ToArray();
                winRate = Estimate.Bootstrap(wins, 7);
            }
            results.Add(new MethodResult(name, Estimate.Bootstrap(scores, 7), winRate));
        }
        return results;
    }

    static string Describe(BeamSearchOptions beam) => $"({beam.BeamWidth},{beam.SuccessorsPerState},{beam.ChunkLength?.ToString() ?? "∞"})";
}
