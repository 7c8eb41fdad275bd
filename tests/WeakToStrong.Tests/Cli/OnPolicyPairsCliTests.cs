using WeakToStrong.Models;
using WeakToStrong.Tests.World;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Tests.Cli;

/// <summary>The paper's DPO data recipe end to end on the quick zoo: sample from the untuned model, label by the gold classifier, DPO.</summary>
[Collection(QuickZooCollection.Name)]
public class OnPolicyPairsCliTests(QuickZoo zoo)
{
    [Fact]
    public void PairsSampledFromTheUntunedModelAndLabelledByTheGoldTrainDpo()
    {
        var sentiment = zoo.Tasks["sentiment"];
        string dir = Directory.CreateTempSubdirectory("wts-on-policy-").FullName;
        try
        {
            string prompts = Path.Combine(dir, "prompts.jsonl"), pairs = Path.Combine(dir, "pairs.jsonl");
            TaskDatasets.WritePrompts(prompts, new SentimentTask().Prompts(TaskSplit.Train, 24, 5));
            string[] args = ["data", "on-policy-pairs", "--policy", sentiment.SmallUntuned, "--gold", sentiment.Gold!, "--prompts", prompts,
                "--max-new-tokens", "24", "--out", pairs];
            var made = Wts.Run(args);
            Assert.True(made.ExitCode == 0, made.Stderr);

            var written = TaskDatasets.ReadPairs(pairs);
            Assert.Contains($"{written.Count} pairs from 24 prompts", made.Stdout);
            Assert.InRange(written.Count, 12, 24);
            var promptTexts = TaskDatasets.ReadPrompts(prompts).Select(p => p.Prompt).ToHashSet();
            Assert.All(written, p => { Assert.Contains(p.Prompt, promptTexts); Assert.NotEqual(p.Chosen, p.Rejected); });

            byte[] before = File.ReadAllBytes(pairs);
            var again = Wts.Run(args);
            Assert.NotEqual(0, again.ExitCode);
            Assert.Contains("already exists", again.Stderr);
            Assert.Equal(before, File.ReadAllBytes(pairs));

            var dpo = Wts.Run("train", "dpo", "--model", sentiment.SmallUntuned, "--data", pairs, "--steps", "2", "--out", Path.Combine(dir, "tuned"));
            Assert.True(dpo.ExitCode == 0, dpo.Stderr);
            using var tuned = PretrainedModels.LoadCausalLM(Path.Combine(dir, "tuned"), ModelOptions.Cpu);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
