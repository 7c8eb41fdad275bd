using WeakToStrong.Tests.Cli;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Tests.World;

public sealed class TaskDatasetsTests : IDisposable
{
    readonly string _directory = Path.Combine(Path.GetTempPath(), "wts-datasets-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    string FilePath(string name) => Path.Combine(_directory, name);

    [Fact]
    public void EveryRecordKindRoundTrips()
    {
        var prompts = new List<TaskPrompt>
        {
            new("a", "line one\nline \"two\" it's", " ref", new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" }),
            new("b", "no reference", null, null),
        };
        TaskDatasets.WritePrompts(FilePath("p.jsonl"), prompts);
        Assert.Equal(prompts, TaskDatasets.ReadPrompts(FilePath("p.jsonl")), new PromptComparer());

        var pairs = new InstructionTask().PreferencePairs(20, 1);
        TaskDatasets.WritePairs(FilePath("pairs.jsonl"), pairs);
        Assert.Equal(pairs, TaskDatasets.ReadPairs(FilePath("pairs.jsonl")));

        var examples = new SentimentTask().ClassifierExamples(20, 1);
        TaskDatasets.WriteClassifierExamples(FilePath("c.jsonl"), examples);
        Assert.Equal(examples, TaskDatasets.ReadClassifierExamples(FilePath("c.jsonl")));

        var texts = new SummarizationTask().PretrainingTexts(20, 1).ToList();
        TaskDatasets.WriteTexts(FilePath("t.jsonl"), texts);
        Assert.Equal(texts, TaskDatasets.ReadTexts(FilePath("t.jsonl")));
    }

    [Fact]
    public void KeysAreInSchemaOrderOneObjectPerLine()
    {
        TaskDatasets.WritePrompts(FilePath("p.jsonl"), [new("x", "p\nq", "r", new Dictionary<string, string> { ["zeta"] = "1", ["alpha"] = "2" })]);
        string text = File.ReadAllText(FilePath("p.jsonl"));
        Assert.Equal("{\"id\":\"x\",\"prompt\":\"p\\nq\",\"reference\":\"r\",\"meta\":{\"alpha\":\"2\",\"zeta\":\"1\"}}\n", text);
        TaskDatasets.WriteClassifierExamples(FilePath("c.jsonl"), [new("it's fine", "positive", false)]);
        Assert.Equal("{\"text\":\"it's fine\",\"label\":\"positive\",\"corrupted\":false}\n", File.ReadAllText(FilePath("c.jsonl")));
    }

    [Theory]
    [InlineData("{\"prompt\":\"p\",\"chosen\":\"c\"}\n", ":1: expected a string \"rejected\"")]
    [InlineData("{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}\nnot json\n", ":2: not a JSON object")]
    [InlineData("[1,2]\n", ":1: expected a JSON object")]
    public void MalformedLinesNameFileAndLine(string content, string expected)
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllText(FilePath("bad.jsonl"), content);
        var error = Assert.Throws<InvalidInputException>(() => TaskDatasets.ReadPairs(FilePath("bad.jsonl")));
        Assert.Contains(FilePath("bad.jsonl") + expected, error.Message);
    }

    [Fact]
    public void CliWritesEveryKindForEachTask()
    {
        var run = Wts.Run("data", "generate", "--task", "all", "--out", _directory, "--count", "7", "--pretrain-count", "11", "--seed", "5");
        Assert.True(run.ExitCode == 0, run.Stderr);
        foreach (var task in TaskGenerators.All)
        {
            string dir = Path.Combine(_directory, task.Name);
            Assert.Equal(11, TaskDatasets.ReadTexts(Path.Combine(dir, "pretrain.jsonl")).Count);
            Assert.Equal(7, TaskDatasets.ReadPrompts(Path.Combine(dir, "prompts-train.jsonl")).Count);
            Assert.Equal(7, TaskDatasets.ReadPrompts(Path.Combine(dir, "prompts-test.jsonl")).Count);
            Assert.Equal(7, TaskDatasets.ReadPairs(Path.Combine(dir, "preferences.jsonl")).Count);
            Assert.Equal(task is SentimentTask, File.Exists(Path.Combine(dir, "classifier.jsonl")));
            Assert.Equal(task.Prompts(TaskSplit.Test, 7, 5), TaskDatasets.ReadPrompts(Path.Combine(dir, "prompts-test.jsonl")), new PromptComparer());
        }
        Assert.Equal(13, run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void CommittedSamplesMatchTheGenerator()
    {
        // The README's regeneration command; if generation changes, the samples must be regenerated with it.
        var run = Wts.Run("data", "generate", "--task", "all", "--out", _directory, "--count", "20", "--prefix", "sample-");
        Assert.True(run.ExitCode == 0, run.Stderr);
        foreach (var task in TaskGenerators.All)
        {
            var fresh = Directory.GetFiles(Path.Combine(_directory, task.Name)).Select(Path.GetFileName).Order().ToList();
            var committedDir = Path.Combine(RepositoryPaths.Root, "datasets", task.Name);
            Assert.Equal(fresh, Directory.GetFiles(committedDir, "sample-*.jsonl").Select(Path.GetFileName).Order().ToList());
            foreach (var name in fresh)
                Assert.True(File.ReadAllBytes(Path.Combine(_directory, task.Name, name!)).SequenceEqual(File.ReadAllBytes(Path.Combine(committedDir, name!))),
                    $"datasets/{task.Name}/{name} is stale; regenerate it (see datasets/README.md)");
        }
    }

    [Theory]
    [InlineData("--task", "poetry", "unknown task \"poetry\"")]
    [InlineData("--count", "0", "--count must be positive")]
    public void BadArgumentsAreExitCode2(string option, string value, string message)
    {
        var args = new List<string> { "data", "generate", "--task", "sentiment", "--out", _directory };
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        var run = Wts.Run([.. args]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.Stderr);
    }

    [Fact]
    public void InvalidUtf8IsAnErrorNamingFileLineAndColumnAndABomIsSkipped()
    {
        Directory.CreateDirectory(_directory);
        string path = FilePath("pairs.jsonl");
        File.WriteAllBytes(path, [.. "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n{\"prompt\": \"x\u00e9"u8, 0xFF, .. "\"}\n"u8]);
        var error = Assert.Throws<InvalidInputException>(() => TaskDatasets.ReadPairs(path));
        Assert.Contains(path + ":2:", error.Message);
        Assert.Contains("invalid UTF-8 (byte 0xFF)", error.Message);

        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "{\"text\": \"caf\u00e9\"}\r\n"u8]);
        Assert.Equal(["caf\u00e9"], TaskDatasets.ReadTexts(path));
    }
}
