using WeakToStrong.Experiments;
using WeakToStrong.Tests.Search;

namespace WeakToStrong.Tests.Cli;

/// <summary>
/// Never overwrite or mix (issue 13): `wts run`, `data generate`, `zoo build`, `train` refuse a directory holding
/// another run or files wts did not write, a second writer is refused naming the holder, and a refused command
/// leaves every file that was there byte for byte as it was.
/// </summary>
public class OverwriteCliTests(TinyWorld world) : IClassFixture<TinyWorld>, IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("wts-overwrite-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    string Config(string name, int maxNewTokens = 4)
    {
        string path = Path.Combine(scratch, name + ".yaml");
        File.WriteAllText(path, $$"""
            name: {{name}}
            task: instruction
            dataset: {prompts: 4}
            models:
              bases: [{name: big, path: {{world.Dir("large")}}}]
              gold: instruction-judge
            methods: [base]
            generation: {max_new_tokens: {{maxNewTokens}}}
            """);
        return path;
    }

    string Dir(string name)
    {
        string path = Path.Combine(scratch, name);
        Directory.CreateDirectory(path);
        return path;
    }

    static Dictionary<string, string> Checksums(string root) => CliErrorAssertions.Snapshot(root);

    /// <summary>Exit 2 in one `wts: error:` line (after wts run's memory estimate, if any), no stack trace, and every file under <paramref name="kept"/> unchanged.</summary>
    static string AssertRefused(Wts.Result result, string kept, Dictionary<string, string> before, string expected)
    {
        CliErrorAssertions.AssertOneErrorLine(result, 2, afterProgress: true);
        string error = result.Stderr.TrimEnd('\n').Split('\n')[^1];
        Assert.Contains(expected, error);
        CliErrorAssertions.AssertUnchanged(before, kept);
        return error;
    }

    static void AssertOk(Wts.Result result) => Assert.True(result.ExitCode == 0, result.Stderr);

    [Fact]
    public void AnOrdinaryFolderIsNeverWrittenOver()
    {
        string folder = Dir("notes");
        File.WriteAllText(Path.Combine(folder, "config.yaml"), "my own settings\n");
        var before = Checksums(folder);
        AssertRefused(Wts.Run("run", Config("a"), "--output", folder), folder, before, "config.yaml exists and is not this config");
        AssertRefused(Wts.Run("run", Config("a"), "--output", folder, "--force-into-nonempty"), folder, before, "config.yaml exists and is not this config");
        AssertRefused(Wts.Run("run", Config("a"), "--output", folder, "--shard", "0/2"), folder, before, "config.yaml exists and is not this config");
        Assert.Equal(["config.yaml"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));

        File.WriteAllText(Path.Combine(folder, "plan.txt"), "keep me\n");
        File.Delete(Path.Combine(folder, "config.yaml"));
        before = Checksums(folder);
        AssertRefused(Wts.Run("run", Config("a"), "--output", folder), folder, before, "not empty and not written by wts (holds plan.txt)");

        // With the flag, the run goes beside the user's files, but never over one it would write.
        File.WriteAllText(Path.Combine(folder, "summary.csv"), "mine\n");
        before = Checksums(folder);
        AssertRefused(Wts.Run("run", Config("a"), "--output", folder, "--force-into-nonempty"), folder, before, "summary.csv exists and would be replaced");
        File.Delete(Path.Combine(folder, "summary.csv"));
        before = Checksums(folder);
        AssertOk(Wts.Run("run", Config("a"), "--output", folder, "--force-into-nonempty"));
        Assert.Equal(before["plan.txt"], Checksums(folder)["plan.txt"]);
        Assert.True(File.Exists(new RunDirectory(folder).Summary));
    }

    [Fact]
    public void ARunOfAnotherConfigOrOptionsIsNeverMixedWith()
    {
        string run = Dir("run");
        AssertOk(Wts.Run("run", Config("a"), "--output", run, "--shard", "0/2", "--limit", "2"));
        var before = Checksums(run);
        string other = Config("b", maxNewTokens: 5);
        AssertRefused(Wts.Run("run", other, "--output", run, "--shard", "1/2", "--limit", "2"), run, before, "holds a run of a (manifest.shard-0-of-2.json)");
        AssertRefused(Wts.Run("run", other, "--output", run, "--shard", "0/2", "--limit", "2", "--resume"), run, before, "the config changed since");
        AssertRefused(Wts.Run("run", other, "--output", run), run, before, "the config changed since");
        AssertRefused(Wts.Run("run", Config("a"), "--output", run, "--shard", "1/2", "--limit", "3"), run, before, "it was run with --limit 2");
        AssertRefused(Wts.Run("run", Config("a"), "--output", run, "--shard", "1/2"), run, before, "it was run with --limit 2");
        AssertRefused(Wts.Run("run", Config("a"), "--output", run, "--shard", "1/3", "--limit", "2"), run, before, "keep one split per directory");
        Assert.False(File.Exists(Path.Combine(run, "generations.shard-1-of-2.jsonl")));

        // The same config and options: the other shard joins, and the merge is the run.
        AssertOk(Wts.Run("run", Config("a"), "--output", run, "--shard", "1/2", "--limit", "2"));
        AssertOk(Wts.Run("merge", run));
        before = Checksums(run);
        AssertRefused(Wts.Run("run", other, "--output", run, "--limit", "2", "--resume"), run, before, "the config changed since");
    }

    [Fact]
    public void ASecondWriterIsRefusedNamingTheHolderAndAStaleLockBlocksNothing()
    {
        string run = Dir("locked");
        AssertOk(Wts.Run("run", Config("a"), "--output", run, "--limit", "2"));
        var directory = new RunDirectory(run);
        var before = Checksums(run);
        using (directory.Lock(0, 1))
        {
            string expected = $"run directory {run} is being written by another process (pid {Environment.ProcessId})";
            AssertRefused(Wts.Run("run", Config("a"), "--output", run, "--limit", "2", "--resume"), run, before, expected);
            AssertRefused(Wts.Run("evaluate", run), run, before, expected);
            AssertRefused(Wts.Run("merge", run), run, before, "no shard logs"); // nothing to merge is said first
        }
        using (directory.Lock(1, 2))
        {
            AssertOk(Wts.Run("run", Config("a"), "--output", run, "--limit", "2", "--shard", "0/2"));
            before = Checksums(run);
            AssertRefused(Wts.Run("run", Config("a"), "--output", run, "--limit", "2", "--shard", "1/2"), run, before,
                $"shard 1/2 of run directory {run} is being written by another process (pid {Environment.ProcessId})");
            AssertRefused(Wts.Run("merge", run), run, before, $"(pid {Environment.ProcessId})");
        }

        // What a killed writer leaves: the lock file with its pid, and no holder.
        File.WriteAllText(directory.ShardLock(0, 1), "999999\n");
        AssertOk(Wts.Run("run", Config("a"), "--output", run, "--limit", "2", "--resume"));
    }

    [Fact]
    public void ALockIsExclusiveWithinAProcessToo()
    {
        string run = Dir("in-process");
        var directory = new RunDirectory(run);
        using (directory.Lock(0, 1))
        {
            var error = Assert.Throws<InvalidInputException>(() => directory.Lock(0, 1));
            Assert.Contains($"pid {Environment.ProcessId}", error.Message);
            using var shard = directory.Lock(0, 2); // another shard's files: another lock
        }
        using var again = directory.Lock(0, 1);
    }

    [Fact]
    public void DataGenerateNeverWritesOverFiles()
    {
        string folder = Dir("data");
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "mine\n");
        var before = Checksums(folder);
        AssertRefused(Wts.Run("data", "generate", "--task", "sentiment", "--out", folder, "--count", "2"), folder, before, "not empty and not written by wts");
        AssertRefused(Wts.Run("data", "generate", "--task", "all", "--out", folder, "--count", "2"), folder, before, "not empty and not written by wts");
        File.WriteAllText(Path.Combine(folder, "prompts-test.jsonl"), "{\"prompt\": \"mine\"}\n");
        before = Checksums(folder);
        AssertRefused(Wts.Run("data", "generate", "--task", "sentiment", "--out", folder, "--count", "2", "--force-into-nonempty"), folder, before,
            "prompts-test.jsonl exists and would be replaced");
        AssertOk(Wts.Run("data", "generate", "--task", "sentiment", "--out", folder, "--count", "2", "--force-into-nonempty", "--prefix", "new-"));
        var after = Checksums(folder);
        Assert.All(before, pair => Assert.Equal(pair.Value, after[pair.Key]));
        Assert.True(after.ContainsKey("new-prompts-test.jsonl"));
        AssertRefused(Wts.Run("data", "generate", "--task", "sentiment", "--out", folder, "--count", "2", "--force-into-nonempty", "--prefix", "new-"), folder, after,
            "new-pretrain.jsonl exists and would be replaced");
    }

    [Fact]
    public void ZooBuildRefusesAFolderThatIsNotAZooBeforeTraining()
    {
        string folder = Dir("not-a-zoo");
        File.WriteAllText(Path.Combine(folder, "thesis.tex"), "mine\n");
        var before = Checksums(folder);
        AssertRefused(Wts.Run("zoo", "build", "--task", "sentiment", "--quick", "--dir", folder), folder, before, "not empty and not written by wts (holds thesis.tex)");
        Assert.Equal(["thesis.tex"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));

        // A folder where a zoo model would go, but not a model the zoo built: saving would replace it, so it is refused even with the flag.
        string model = Dir(Path.Combine("zoo", "sentiment-quick", "base-small"));
        File.WriteAllText(Path.Combine(model, "weights.bin"), "mine\n");
        string zoo = Path.Combine(scratch, "zoo");
        before = Checksums(zoo);
        AssertRefused(Wts.Run("zoo", "build", "--task", "sentiment", "--quick", "--dir", zoo, "--force-into-nonempty"), zoo, before, "is not a model the zoo built");
        Assert.Equal(["base-small"], Directory.GetFileSystemEntries(Path.Combine(zoo, "sentiment-quick")).Select(Path.GetFileName));
    }

    [Fact]
    public void TrainNeverReplacesAnOutputThatExists()
    {
        string corpus = Path.Combine(scratch, "corpus.jsonl");
        File.WriteAllText(corpus, string.Concat(Enumerable.Range(0, 8).Select(i => $"{{\"text\": \"the cat sat on the mat {i}\"}}\n")));
        string[] Train(string output) => ["train", "pretrain", "--tokenizer", world.Dir("large"), "--corpus", corpus, "--steps", "2", "--batch-size", "2", "--block-size", "8", "--out", output];

        string model = Dir("model");
        File.WriteAllText(Path.Combine(model, "config.json"), "{\"mine\": true}\n");
        var before = Checksums(scratch);
        AssertRefused(Wts.Run(Train(model)), scratch, before, "exists and is not empty");
        string file = Path.Combine(scratch, "model.txt");
        File.WriteAllText(file, "mine\n");
        before = Checksums(scratch);
        AssertRefused(Wts.Run(Train(file)), scratch, before, "is a file");
        Directory.CreateDirectory(Path.Combine(scratch, "fresh.logs"));
        File.WriteAllText(Path.Combine(scratch, "fresh.logs", "loss.csv"), "step,loss\n");
        before = Checksums(scratch);
        AssertRefused(Wts.Run(Train(Path.Combine(scratch, "fresh"))), scratch, before, "its loss log");
        Assert.False(Directory.Exists(Path.Combine(scratch, "fresh")));

        string empty = Dir("empty");
        AssertOk(Wts.Run(Train(empty)));
        Assert.True(File.Exists(Path.Combine(empty, "config.json")));
        before = Checksums(scratch);
        AssertRefused(Wts.Run(Train(empty)), scratch, before, "exists and is not empty");
    }
}
