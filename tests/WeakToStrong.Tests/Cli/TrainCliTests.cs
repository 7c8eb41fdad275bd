using WeakToStrong.Models;
using WeakToStrong.Tests.Search;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Tests.Cli;

public class TrainCliTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    [Fact]
    public void PretrainSftDpoAndRewardModelWriteLoadableModels()
    {
        string dir = Path.Combine(world.Root, "train-cli");
        Directory.CreateDirectory(dir);
        string corpus = Path.Combine(dir, "corpus.jsonl"), prompts = Path.Combine(dir, "prompts.jsonl"), pairs = Path.Combine(dir, "pairs.jsonl");
        TaskDatasets.WriteTexts(corpus, Enumerable.Range(0, 50).Select(i => $"the film number {i} was good."));
        TaskDatasets.WritePrompts(prompts, Enumerable.Range(0, 8).Select(i => new TaskPrompt($"p{i}", $"q{i}:", $" a{i}", null)));
        TaskDatasets.WritePairs(pairs, Enumerable.Range(0, 8).Select(i => new PreferencePair($"r{i}:", " good", " bad")));
        string Out(string name) => Path.Combine(dir, name);

        var pretrain = Wts.Run("train", "pretrain", "--model-type", "llama", "--layers", "1", "--hidden", "32", "--heads", "4", "--kv-heads", "2",
            "--tokenizer", world.Dir("large"), "--corpus", corpus, "--steps", "5", "--batch-size", "4", "--block-size", "16", "--out", Out("base"));
        Assert.True(pretrain.ExitCode == 0, pretrain.Stderr);
        Assert.Contains("step 5/5", pretrain.Stderr);
        Assert.Equal("llama", ModelConfig.Load(Path.Combine(Out("base"), "config.json")).ModelType);
        Assert.True(File.Exists(Path.Combine(Out("base") + ".logs", "loss.csv")));

        foreach (var (args, output) in new (string[], string)[]
        {
            (["train", "sft", "--model", Out("base"), "--data", prompts, "--steps", "3", "--out", Out("sft")], "sft"),
            (["train", "dpo", "--model", Out("sft"), "--data", pairs, "--steps", "3", "--out", Out("dpo")], "dpo"),
            (["train", "rm", "--model", Out("base"), "--pairs", pairs, "--steps", "3", "--out", Out("rm")], "rm"),
        })
        {
            var run = Wts.Run(args);
            Assert.True(run.ExitCode == 0, $"{string.Join(' ', args)}: {run.Stderr}");
            Assert.True(File.Exists(Path.Combine(Out(output), "model.safetensors")), output);
            Assert.True(File.Exists(Path.Combine(Out(output), "vocab.json")), output);
        }
        using var rewardModel = WeakToStrong.Evaluation.RewardModel.Load(Out("rm"), ModelOptions.Cpu);
        Assert.Equal(1, rewardModel.Config.NumLabels);
        using var dpo = PretrainedModels.LoadCausalLM(Out("dpo"), ModelOptions.Cpu);
    }

    [Fact]
    public void EpochsSetTheStepsFromTheDataSizeAndExcludeSteps()
    {
        string dir = Path.Combine(world.Root, "train-epochs");
        Directory.CreateDirectory(dir);
        string pairs = Path.Combine(dir, "pairs.jsonl");
        TaskDatasets.WritePairs(pairs, Enumerable.Range(0, 10).Select(i => new PreferencePair($"r{i}:", " good", " bad")));

        // 10 pairs × 1.5 epochs / batch 4 = 3.75 → 4 steps.
        var dpo = Wts.Run("train", "dpo", "--model", world.Dir("untuned"), "--data", pairs, "--epochs", "1.5", "--batch-size", "4", "--out", Path.Combine(dir, "dpo"));
        Assert.True(dpo.ExitCode == 0, dpo.Stderr);
        Assert.Contains("step 4/4", dpo.Stderr);

        var both = Wts.Run("train", "dpo", "--model", world.Dir("untuned"), "--data", pairs, "--epochs", "1", "--steps", "5", "--out", Path.Combine(dir, "both"));
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("--steps or --epochs", both.Stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "both")));
    }

    [Fact]
    public void AYamlConfigGivesTheFlagsAndTheCommandLineWins()
    {
        string dir = Path.Combine(world.Root, "train-yaml");
        Directory.CreateDirectory(dir);
        string corpus = Path.Combine(dir, "corpus.jsonl");
        TaskDatasets.WriteTexts(corpus, Enumerable.Range(0, 30).Select(i => $"the film number {i} was good."));
        string config = Path.Combine(dir, "pretrain.yaml");
        File.WriteAllText(config, $"""
            model_type: llama
            layers: 1
            hidden: 32
            heads: 4
            kv-heads: 2
            tokenizer: {world.Dir("large")}
            corpus: {corpus}
            steps: 4
            batch_size: 4
            block_size: 16
            out: {Path.Combine(dir, "from-yaml")}
            """);
        var run = Wts.Run("train", "pretrain", "--config", config, "--steps", "2");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("step 2/2", run.Stderr);
        var trained = ModelConfig.Load(Path.Combine(dir, "from-yaml", "config.json"));
        Assert.Equal(("llama", 1, 32, 2), (trained.ModelType, trained.NumHiddenLayers, trained.HiddenSize, trained.NumKeyValueHeads));

        File.AppendAllText(config, "\nlearning_rate: 0.1\n");
        var unknown = Wts.Run("train", "pretrain", "--config", config);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains($"{config}:12:1: learning_rate: not a flag of `pretrain`; expected one of:", unknown.Stderr);
        Assert.Contains("lr", unknown.Stderr);
    }

    [Fact]
    public void MissingDataIsExitCode2NamingTheFile()
    {
        string missing = Path.Combine(world.Root, "no-such-corpus.jsonl");
        var run = Wts.Run("train", "pretrain", "--tokenizer", world.Dir("large"), "--corpus", missing, "--out", Path.Combine(world.Root, "never"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(missing, run.Stderr);
        Assert.False(Directory.Exists(Path.Combine(world.Root, "never")));
    }
}
