using System.Text.Json.Nodes;
using WeakToStrong.Models;
using WeakToStrong.Tokenization;
using WeakToStrong.World;

namespace WeakToStrong.Tests.World;

/// <summary>The quick zoo of all three tasks, built once for these tests, two models at a time (`wts zoo build --quick` on 2 cores: about two minutes alone).</summary>
public sealed class QuickZoo : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("wts-quick-zoo-").FullName;
    public IReadOnlyDictionary<string, ZooTask> Tasks { get; }

    public QuickZoo() => Tasks = ZooPlan.Tasks.Zip(Zoo.Build(Root, ZooPlan.Tasks, quick: true, ProgressReport.Silent, threads: 2)).ToDictionary(p => p.First, p => p.Second);

    public JsonObject Manifest(string task) => JsonNode.Parse(File.ReadAllText(Tasks[task].Manifest))!.AsObject();

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Test classes that read the quick zoo share one build of it.</summary>
[CollectionDefinition(Name)]
public sealed class QuickZooCollection : ICollectionFixture<QuickZoo>
{
    public const string Name = "quick zoo";
}

[Collection(QuickZooCollection.Name)]
public class QuickZooTests(QuickZoo zoo)
{
    public static TheoryData<string> Tasks => new(ZooPlan.Tasks);

    [Theory, MemberData(nameof(Tasks))]
    public void EveryModelIsAHuggingFaceDirectoryTheLoadersRead(string task)
    {
        var built = zoo.Tasks[task];
        foreach (var directory in built.Bases.Append(built.SmallUntuned).Append(built.SmallTuned))
        {
            using var model = PretrainedModels.LoadCausalLM(directory, ModelOptions.Cpu);
            var tokenizer = HfTokenizer.Load(directory);
            Assert.Equal(tokenizer.VocabSize, model.Config.VocabSize);
            Assert.True(File.Exists(Path.Combine(directory, "generation_config.json")));
        }
        Assert.Contains(built.Bases, b => ModelConfig.Load(Path.Combine(b, "config.json")).ModelType == "gpt2");
        Assert.Contains(built.Bases, b => ModelConfig.Load(Path.Combine(b, "config.json")).ModelType == "llama");
        if (built.Gold is string gold) Assert.Equal(HeadKind.SequenceClassification, ModelConfig.Load(Path.Combine(gold, "config.json")).Head);
    }

    [Theory, MemberData(nameof(Tasks))]
    public void HeldOutPerplexityFallsWithBaseModelSize(string task)
    {
        var manifest = zoo.Manifest(task);
        var perplexities = zoo.Tasks[task].Plan.Bases.Select(b => manifest[$"{b.Name}.heldout_perplexity"]!.GetValue<double>()).ToArray();
        Assert.True(perplexities.Zip(perplexities.Skip(1)).All(p => p.Second < p.First), string.Join(" > ", perplexities.Select(p => p.ToString("F2"))));
    }

    [Theory]
    [InlineData("sentiment")]
    [InlineData("summarization")]
    public void TheGoldEvaluatorLearnedItsTask(string task)
    {
        double accuracy = zoo.Manifest(task)["gold.heldout_accuracy"]!.GetValue<double>();
        Assert.True(accuracy >= 0.75, $"held-out accuracy {accuracy:F3}");
    }

    /// <summary>The evidence, on 100 held-out prompts: the paper's shape in every task of the quick world.</summary>
    [Theory, MemberData(nameof(Tasks))]
    public void WeakToStrongSearchBeatsBaseSamplingAndTheSmallTunedModel(string task)
    {
        var results = ZooCheck.Run(zoo.Tasks[task], promptCount: 100).ToDictionary(r => r.Method.Split(' ')[0] + " " + r.Method.Split(' ')[1][..3]);
        double untuned = results["small-untuned sam"].Gold.Mean, tuned = results["small-tuned sam"].Gold.Mean;
        double baseSampling = results["base-large sam"].Gold.Mean, search = results["base-large CBS"].Gold.Mean;
        string table = string.Join("; ", results.Values.Select(r => $"{r.Method} {r.Gold}"));
        Assert.True(tuned > untuned, table);
        Assert.True(search > baseSampling, table);
        Assert.True(search > tuned, table);
    }

    /// <summary>The fixture trained two models at a time, across the three tasks; one model at a time gives the same files.</summary>
    [Fact]
    public void ARebuildOneModelAtATimeIsIdentical()
    {
        string again = Directory.CreateTempSubdirectory("wts-quick-zoo-again-").FullName;
        try
        {
            var progress = new RecordingProgress();
            var rebuilt = Zoo.Build(again, ["instruction"], quick: true, progress, threads: 1).Single();
            var original = zoo.Tasks["instruction"];
            // Each stage counts its own units up to its total: the corpus in documents, every training in steps.
            progress.AssertMonotoneAndComplete();
            var plan = ZooPlan.For("instruction", quick: true);
            var names = progress.Stages.Select(s => s.Name).ToList();
            Assert.Equal(["instruction: corpus", "instruction: tokenizer"], names[..2]);
            string[] trainings = [.. plan.Bases.Append(plan.Small).SelectMany(m => new[] { $"instruction: pretraining {m.Name}", $"instruction: perplexity of {m.Name}" }),
                "instruction: DPO of small-tuned"];
            Assert.Equal(trainings.Order(), names[2..].Order());
            Assert.True(names.IndexOf("instruction: DPO of small-tuned") > names.IndexOf("instruction: perplexity of small-untuned"));
            Assert.All(plan.Bases.Append(plan.Small), m => Assert.Equal(m.Steps, progress.Stages.Single(s => s.Name == $"instruction: pretraining {m.Name}").Total));
            Assert.All(progress.Stages.Where(s => s.Unit == "steps"), s => Assert.Equal(Enumerable.Range(1, (int)s.Total).Select(i => (long)i), s.Done));
            foreach (var file in new[] { "tokenizer/vocab.json", "tokenizer/merges.txt", "small-untuned/model.safetensors", "small-tuned/model.safetensors",
                         "base-small/model.safetensors", "base-large/model.safetensors", "manifest.json" })
                Assert.True(File.ReadAllBytes(Path.Combine(original.Directory, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(rebuilt.Directory, file))), file);
        }
        finally { Directory.Delete(again, recursive: true); }
    }

    [Fact]
    public void AnUnknownTaskIsRefused()
    {
        var error = Assert.Throws<InvalidInputException>(() => Zoo.Build(zoo.Root, ["poetry"], quick: true, ProgressReport.Silent, threads: 1));
        Assert.Contains("sentiment", error.Message);
    }
}
