using WeakToStrong.Search;
using WeakToStrong.Training;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.World;

/// <summary>What <see cref="OnPolicyPreferences.Sample"/> made: the pairs, and how many prompts gave none.</summary>
public sealed record OnPolicyPairs(IReadOnlyList<Preference> Pairs, int Ties);

/// <summary>
/// Preference pairs built the way the paper built imdb_preference for its tuned gpt2: two responses per prompt
/// sampled from the untuned policy, labelled by the gold evaluator under Bradley–Terry (the first is chosen with
/// probability σ(r₁ − r₂)). A prompt whose two responses are equal or score exactly the same carries no
/// preference and gives no pair.
/// </summary>
public static class OnPolicyPreferences
{
    public static OnPolicyPairs Sample(PromptedModel policy, IGoldEvaluator gold, IReadOnlyList<string> prompts,
        GenerationOptions generation, int batchSize = 32, Action<int>? progress = null)
    {
        generation.Validate();
        var searchPrompts = prompts.Select((p, i) => new SearchPrompt(i, p)).ToArray();
        int done = 0;
        string[] SampleOnce(long seed)
        {
            var sampler = new ChunkLevelBeamSearch(policy, null, BeamSearchOptions.Sampling, generation with { Seed = seed });
            return searchPrompts.Chunk(batchSize).SelectMany(batch =>
            {
                var outputs = sampler.Run(batch);
                progress?.Invoke(done += batch.Length);
                return outputs;
            }).Select(o => o.Best.Text).ToArray();
        }
        // Two runs with different seeds: every prompt's two responses come from independent streams.
        var first = SampleOnce(generation.Seed);
        var second = SampleOnce(generation.Seed + 1);
        var firstScores = gold.Score(prompts, first);
        var secondScores = gold.Score(prompts, second);

        var labels = DeterministicRandom.For((ulong)generation.Seed, "bradley-terry labels");
        var pairs = new List<Preference>(prompts.Count);
        for (int i = 0; i < prompts.Count; i++)
        {
            double margin = firstScores[i] - secondScores[i];
            bool firstChosen = labels.NextDouble() < 1 / (1 + Math.Exp(-margin)); // drawn for every prompt, so a tie shifts no later label
            if (margin == 0 || first[i] == second[i]) continue;
            pairs.Add(firstChosen ? new Preference(prompts[i], first[i], second[i]) : new Preference(prompts[i], second[i], first[i]));
        }
        return new OnPolicyPairs(pairs, prompts.Count - pairs.Count);
    }
}
