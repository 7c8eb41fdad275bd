using System.Diagnostics;
using System.Text.Json.Nodes;
using WeakToStrong.Evaluation;
using WeakToStrong.Experiments;
using WeakToStrong.Reporting;
using WeakToStrong.Tests.Cli;
using WeakToStrong.Tests.World;

namespace WeakToStrong.Tests.Experiments;

/// <summary>
/// `wts run`, `evaluate`, `plot`, `merge` end to end on the quick zoo, through the real `wts` process:
/// what the files hold, that sharding and kill -9 + --resume change nothing, that bad runs are refused.
/// </summary>
[Collection(QuickZooCollection.Name)]
public class ExperimentRunTests(QuickZoo zoo) : IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("wts-experiment-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    const string SentimentConfig = """
        name: smoke
        task: sentiment
        dataset: {prompts: 6}
        models:
          bases:
            - {name: base-small, path: zoo:base-small}
            - {name: base-large, path: zoo:base-large}
          tuned: zoo:small-tuned
          untuned: zoo:small-untuned
          gold: zoo:gold
        methods:
          - base
          - small-tuned
          - {method: eft, beta: 1.0}
          - {method: bon, n: 4}
          - {method: cbs, w: 2, k: 2, l: 4}
        sweeps:
          - name: chunk-length
            bases: [base-large]
            method: cbs
            w: [1, 2]
            budget: 4
            l: [4, inf]
          - {name: compute, bases: [base-large], method: bon, n: [2, 4]}
        generation: {max_new_tokens: 12}
        seeds: [0, 1]
        batch_prompts: 4
        """;

    string WriteConfig(string text, string name = "smoke.yaml")
    {
        string path = Path.Combine(scratch, name);
        File.WriteAllText(path, text);
        return path;
    }

    Wts.Result Wts(params string[] args) => Cli.Wts.Run([.. args, "--zoo", zoo.Root]);

    static Wts.Result WtsNoZoo(params string[] args) => Cli.Wts.Run(args);

    string RunSmoke(string output, params string[] extra)
    {
        var result = Wts(["run", WriteConfig(SentimentConfig), "--quick", "--output", output, .. extra]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return output;
    }

    /// <summary>The same generations, whatever the batching: every field but wall time and forward calls equal, scores exactly.</summary>
    static void AssertSameGenerations(string expected, string actual)
    {
        static IEnumerable<GenerationRecord> Comparable(string path) => GenerationLog.Read(path)
            .Select(r => r with { WallSeconds = 0, ForwardCalls = 0 }).OrderBy(r => r.Cell, StringComparer.Ordinal).ThenBy(r => r.PromptIndex);
        Assert.Equal(Comparable(expected), Comparable(actual));
    }

    [Fact]
    public void RunWritesGenerationsTablesFiguresAndAManifest()
    {
        var result = Wts(["run", WriteConfig(SentimentConfig), "--quick", "--output", Path.Combine(scratch, "run")]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var run = new RunDirectory(Path.Combine(scratch, "run"));
        // stderr is a pipe here, as in a log: plain lines for each cell's start and end, with its rate, and no escape codes.
        Assert.Contains("[1/13] small Small tuned seed 0: started, 6 prompts\n", result.Stderr);
        Assert.Matches(@"\[13/13\] base-large .+ seed 0: 6/6 prompts in [0-9.]+ s, [0-9.]+ prompts/s\n", result.Stderr);
        Assert.DoesNotContain('\u001b', result.Stderr + result.Stdout);
        // Loading and warming up the models are timed apart from the search, said under the summary table and kept in the manifest.
        var setup = RunManifest.Read(run.Manifest).Setup;
        Assert.NotNull(setup);
        Assert.True(setup.Load > 0 && setup.WarmUp > 0, setup.ToString());
        Assert.Contains(setup.ToString(), result.Stdout);
        var config = ExperimentConfigParser.Parse(SentimentConfig, "smoke.yaml");
        var records = GenerationLog.Read(run.Generations);
        // --quick keeps the first seed: small-tuned + 2 bases × 4 methods + 4 chunk-length cells on base-large (CBS(2,2,4) is shared)
        // + BoN(2) on base-large for the compute sweep (BoN(4) is shared), × 6 prompts.
        int cells = 1 + 2 * 4 + 3 + 1;
        Assert.Equal(2 * cells, config.Cells().Count);
        Assert.Equal(cells * 6, records.Count);
        Assert.Equal(records.Count, records.Select(r => r.Key).Distinct().Count());
        Assert.All(records, r =>
        {
            Assert.NotNull(r.ImplicitValue);
            Assert.True(double.IsFinite(r.Gold));
            Assert.Null(r.Win);
        });
        Assert.All(records.Where(r => r.Method == "bon"), r => Assert.Equal(r.Prompt.Length > 0, r.LargeTokens > 0));
        Assert.All(records.Where(r => r.Method == "small-tuned"), r => Assert.Equal(0, r.LargeTokens));

        // summary.csv: one row per (table, base, method), gold mean = the mean over prompts of the seed-averaged gold.
        var summary = ResultTables.ReadSummary(run.Summary);
        var cbs = summary.Single(s => s.Sweep == "" && s.BaseModel == "base-large" && s.Label == "CBS(2,2,4)");
        var cbsRecords = records.Where(r => r.Cell.StartsWith("base-large/cbs-w2-k2-l4/")).ToArray();
        Assert.Equal(6, cbs.Count);
        Assert.Equal(1, cbs.Seeds);
        Assert.Equal(cbsRecords.GroupBy(r => r.PromptIndex).Average(g => g.Average(r => r.Gold)), cbs.GoldMean, 9);
        Assert.True(cbs.GoldLow <= cbs.GoldMean && cbs.GoldMean <= cbs.GoldHigh);
        Assert.Equal(cbsRecords.Average(r => (double)r.LargeTokens), cbs.LargeTokens, 9);
        Assert.Contains(summary, s => s.Sweep == "chunk-length" && s.Label == "CBS(2,2,4)");
        Assert.Equal(1 + 2 * 4 + 4 + 2, summary.Count);
        Assert.Equal(summary.Sum(s => s.Count), ResultTables.ReadSamples(run.Samples).Count);

        var figures = Directory.GetFiles(run.Figures).Select(Path.GetFileName).ToArray();
        Assert.Contains("main-sentiment.png", figures);
        Assert.Contains("main-sentiment.svg", figures);
        Assert.Contains(figures, f => f!.StartsWith("ablation-chunk-length-sentiment") && f.EndsWith(".png"));
        Assert.Contains(figures, f => f!.StartsWith("compute-sentiment") && f.EndsWith(".png"));

        var manifest = JsonNode.Parse(File.ReadAllText(run.Manifest))!.AsObject();
        Assert.Equal(RunManifest.Hash(SentimentConfig), manifest["config_sha256"]!.GetValue<string>());
        Assert.Equal(SentimentConfig, File.ReadAllText(run.Config));
        Assert.Equal(ModelResolver.Fingerprint(zoo.Tasks["sentiment"].Model("base-large")), manifest["models"]!["base:base-large"]!["fingerprint"]!.GetValue<string>());
        Assert.Equal(["base:base-large", "base:base-small", "gold", "tuned", "untuned"], manifest["models"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.False(string.IsNullOrEmpty(manifest["code_version"]!.GetValue<string>()));

        // evaluate and plot again from the files alone: the same tables; --rescore reproduces the stored gold scores.
        string summaryBefore = File.ReadAllText(run.Summary);
        File.Delete(run.Summary);
        Directory.Delete(run.Figures, recursive: true);
        Assert.Equal(0, Wts("evaluate", run.Path).ExitCode);
        Assert.Equal(summaryBefore, File.ReadAllText(run.Summary));
        var rescored = Wts("evaluate", run.Path, "--rescore");
        Assert.True(rescored.ExitCode == 0, rescored.Stderr);
        var after = ResultTables.ReadSummary(run.Summary);
        Assert.Equal(summary.Select(s => s.GoldMean), after.Select(s => s.GoldMean));
        var plot = WtsNoZoo("plot", run.Path);
        Assert.True(plot.ExitCode == 0, plot.Stderr);
        Assert.Contains("main-sentiment.png", plot.Stdout);
        Assert.True(File.Exists(Path.Combine(run.Figures, "main-sentiment.png")));
    }

    [Fact]
    public void EachCellIsAStageWhosePromptCountRisesToItsTotal()
    {
        var config = ExperimentConfigParser.Load(WriteConfig(SentimentConfig));
        var runner = new ExperimentRunner(config, new RunOptions { Quick = true, Limit = 5, ZooRoot = zoo.Root, OutputOverride = Path.Combine(scratch, "in-process") });
        var progress = new RecordingProgress();
        using (runner.Run(progress)) { }

        progress.AssertMonotoneAndComplete();
        Assert.Equal(runner.Cells.Count, progress.Stages.Count);
        Assert.All(progress.Stages, stage =>
        {
            Assert.Equal("prompts", stage.Unit);
            Assert.Equal([4L, 5L], stage.Done); // batch_prompts 4
        });
        Assert.Equal("[1/13] small Small tuned seed 0", progress.Stages[0].Name);
        Assert.Contains(progress.Messages, m => m == $"smoke: {RunManifest.Read(runner.Directory.Manifest).Setup}");
    }

    [Fact]
    public void ShardsMergeToTheUnshardedRun()
    {
        var whole = new RunDirectory(RunSmoke(Path.Combine(scratch, "whole")));
        string sharded = Path.Combine(scratch, "sharded");
        RunSmoke(sharded, "--shard", "1/2");
        var early = WtsNoZoo("merge", sharded);
        Assert.Equal(2, early.ExitCode);
        Assert.Contains("shard 0 of 2 is missing", early.Stderr);
        RunSmoke(sharded, "--shard", "0/2");
        var merge = WtsNoZoo("merge", sharded);
        Assert.True(merge.ExitCode == 0, merge.Stderr);
        var merged = new RunDirectory(sharded);
        AssertSameGenerations(whole.Generations, merged.Generations);
        // The merge finishes the run as an unsharded one finishes: its tables and figures.
        Assert.Equal(File.ReadAllText(whole.Summary).Split('\n').Length, File.ReadAllText(merged.Summary).Split('\n').Length);
        Assert.Equal(Directory.GetFiles(whole.Figures).Select(Path.GetFileName).Order(), Directory.GetFiles(merged.Figures).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void KillNineThenResumeNeitherDuplicatesNorDrops()
    {
        var reference = new RunDirectory(RunSmoke(Path.Combine(scratch, "reference")));
        var killed = new RunDirectory(Path.Combine(scratch, "killed"));
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryPaths.Root,
        };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "wts.dll"), "run", WriteConfig(SentimentConfig), "--quick", "--output", killed.Path, "--zoo", zoo.Root })
            start.ArgumentList.Add(arg);
        using (var process = Process.Start(start)!)
        {
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && (!File.Exists(killed.Generations) || File.ReadAllLines(killed.Generations).Length < 30) && clock.Elapsed < TimeSpan.FromMinutes(2))
                Thread.Sleep(20);
            Assert.False(process.HasExited, "the run finished before it could be killed");
            process.Kill(entireProcessTree: true); // SIGKILL
            process.WaitForExit();
        }
        // A write cut short mid-line, as a kill during a write leaves it.
        File.AppendAllText(killed.Generations, "{\"cell\":\"base-large/cbs-w2-k2-l4/seed0\",\"base_mod");
        int linesBefore = File.ReadAllLines(killed.Generations).Length;
        Assert.True(linesBefore < GenerationLog.Read(reference.Generations).Count);

        var refused = Wts("run", WriteConfig(SentimentConfig), "--quick", "--output", killed.Path);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--resume", refused.Stderr);
        Assert.Equal(linesBefore, File.ReadAllLines(killed.Generations).Length);

        var resumed = Wts("run", WriteConfig(SentimentConfig), "--quick", "--output", killed.Path, "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        AssertSameGenerations(reference.Generations, killed.Generations);
    }

    [Fact]
    public void ResumingWithAChangedConfigIsRefused()
    {
        string output = RunSmoke(Path.Combine(scratch, "changed"), "--limit", "2");
        var result = Wts("run", WriteConfig(SentimentConfig.Replace("max_new_tokens: 12", "max_new_tokens: 13")), "--quick", "--output", output, "--limit", "2", "--resume");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("the config changed since", result.Stderr);
    }

    [Fact]
    public void InstructionRunsReportLengthControlledWinRatesAndAlpacaEvalOutputs()
    {
        string config = WriteConfig("""
            name: instruction-smoke
            task: instruction
            dataset: {prompts: 8}
            models:
              bases: [{name: base-large, path: zoo:base-large}]
              tuned: zoo:small-tuned
              untuned: zoo:small-untuned
              gold: instruction-judge
            methods: [base, small-tuned, small-untuned, {method: cbs, w: 2, k: 2, l: 4}]
            generation: {max_new_tokens: 16}
            """, "instruction.yaml");
        string output = Path.Combine(scratch, "instruction");
        var result = Wts("run", config, "--quick", "--output", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var run = new RunDirectory(output);
        var records = GenerationLog.Read(run.Generations);
        Assert.All(records, r => Assert.Contains(r.Win, new double?[] { 0, 0.5, 1 }));
        var summary = ResultTables.ReadSummary(run.Summary);
        Assert.Equal(4, summary.Count);
        foreach (var row in summary)
        {
            var rows = records.Where(r => r.Method == row.Method).ToArray();
            Assert.Equal(rows.Average(r => r.Win!.Value), row.WinRate!.Value, 9);
            var fit = LengthControlledWinRate.Fit(rows.Select(r => r.Win!.Value).ToArray(),
                rows.Select(r => LengthControlledWinRate.OutputLength(r.Response)).ToArray(), rows.Select(r => LengthControlledWinRate.OutputLength(r.Reference!)).ToArray());
            Assert.Equal(fit.LcWinRate, row.LcWinRate!.Value, 9);
        }
        string outputs = Path.Combine(run.AlpacaEval, "base-large_cbs-w2-k2-l4_seed0", "model_outputs.json");
        var alpaca = AlpacaEvalOutputs.Read(outputs);
        Assert.Equal(8, alpaca.Count);
        Assert.Equal(records.Where(r => r.Method == "cbs").Select(r => r.Response), alpaca.Select(a => a.Output));
        Assert.All(alpaca, a => Assert.DoesNotContain("### Instruction", a.Instruction));
        Assert.Contains("lc-winrate-instruction.png", Directory.GetFiles(run.Figures).Select(Path.GetFileName));
    }

    [Fact]
    public void PaperConfigsNameWhatIsMissing()
    {
        var result = Wts("run", Path.Combine("experiments", "paper", "sentiment-gpt2.yaml"), "--output", Path.Combine(scratch, "paper"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("models.bases[0]", result.Stderr);
        var validate = Wts("validate", Path.Combine("experiments", "paper", "alpacaeval-llama3.yaml"));
        Assert.Equal(0, validate.ExitCode);
        Assert.Contains("valid: paper-alpacaeval-llama3", validate.Stdout);
        // Every missing model and file, one line each.
        foreach (string missing in new[] { "meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Meta-Llama-3-70B-Instruct", "HuggingFaceH4/zephyr-7b-beta",
                     "HuggingFaceH4/mistral-7b-sft-beta", "Skywork/Skywork-Reward-Llama-3.1-8B", "datasets/alpaca_eval/alpaca_eval_gpt4_baseline.json" })
            Assert.Contains(validate.Stdout.Split('\n'), line => line.Contains("missing here") && line.Contains(missing));
        var strict = Wts("validate", Path.Combine("experiments", "paper", "alpacaeval-llama3.yaml"), "--require-models");
        Assert.Equal(2, strict.ExitCode);
        Assert.Contains("models.bases[0]", strict.Stderr);
        Assert.Contains("models.gold", strict.Stderr);
        Assert.False(Directory.Exists(Path.Combine(scratch, "paper", "generations.jsonl")));
    }

    [Fact]
    public void ValidateReportsPositionsThroughTheCli()
    {
        var result = WtsNoZoo("validate", WriteConfig(SentimentConfig.Replace("batch_prompts: 4", "batch_prompts: 0\nbeams: 3")));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("smoke.yaml:27:16: batch_prompts: expected an integer in [1, 1024], got 0", result.Stderr);
        Assert.Contains("smoke.yaml:28:1: beams: unknown key", result.Stderr);
    }
}
