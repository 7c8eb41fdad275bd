using WeakToStrong.Evaluation;
using WeakToStrong.Experiments;
using WeakToStrong.Search;

namespace WeakToStrong.Tests.Experiments;

public class ExperimentEvaluationTests
{
    static readonly ExperimentConfig Config = ExperimentConfigParser.Parse("""
        name: tabulate
        task: sentiment
        dataset: {prompts: 3}
        models:
          bases: [{name: big, path: zoo:base-large}]
          tuned: zoo:small-tuned
          untuned: zoo:small-untuned
          gold: zoo:gold
        methods: [small-tuned, {method: cbs, w: 2, k: 2, l: 4}]
        sweeps:
          - {name: chunk, method: cbs, w: 2, k: 2, l: [4, 8]}
        generation: {max_new_tokens: 8}
        seeds: [0, 1]
        """, "tabulate.yaml");

    static GenerationRecord Record(Cell cell, int prompt, double gold, long largeTokens = 10) => new(
        cell.Key, cell.BaseModel, cell.Method.Name, cell.Method.Label, cell.Method.W, cell.Method.K, cell.Method.L, cell.Method.N, cell.Method.Beta,
        cell.Seed, prompt, $"id{prompt}", $"prompt {prompt}", null, $"response {prompt}", "Eos", gold / 2, gold, null, largeTokens, 20, 3, 0.5);

    [Fact]
    public void SeedsAreAveragedWithinAPromptAndCellsAppearInEveryTableTheyBelongTo()
    {
        var cells = Config.Cells();
        Assert.Equal(2 * (1 + 2), cells.Count); // small-tuned, CBS(2,2,4) (main and sweep), CBS(2,2,8); × 2 seeds
        var records = cells.SelectMany(c => Enumerable.Range(0, 3).Select(p => Record(c, p, gold: p + 10 * c.Seed + (c.Method.L ?? 0)))).ToArray();
        var tables = ExperimentEvaluation.Tabulate(Config, records);

        Assert.Equal(["|Small tuned", "|CBS(2,2,4)", "chunk|CBS(2,2,4)", "chunk|CBS(2,2,8)"], tables.Summary.Select(s => $"{s.Sweep}|{s.Label}"));
        var main = tables.Summary[1];
        // per prompt: mean over seeds of p + 10·seed + 4 = p + 9; over prompts 0..2: 10.
        Assert.Equal((6, 2, 10.0), (main.Count, main.Seeds, main.GoldMean));
        Assert.Equal(5.0, main.ImplicitValueMean);
        Assert.InRange(main.GoldLow, 9.0, 10.0); // the bootstrap resamples the three per-prompt means 9, 10, 11
        Assert.InRange(main.GoldHigh, 10.0, 11.0);
        Assert.Equal("big", main.BaseModel);
        Assert.Equal("", tables.Summary[0].BaseModel);
        Assert.Null(main.WinRate);
        Assert.Equal(4 * 6, tables.Samples.Count);
        Assert.Equal(6, tables.Samples.Count(s => s.Sweep == "chunk" && s.L == 4));
    }

    [Fact]
    public void MissingCellsAreLeftOutRatherThanInvented()
    {
        var cell = Config.Cells().First(c => c.Method.Kind == MethodKind.Cbs);
        var tables = ExperimentEvaluation.Tabulate(Config, [Record(cell, 0, 1.0), Record(cell, 1, 3.0)]);
        Assert.All(tables.Summary, s => Assert.Equal("CBS(2,2,4)", s.Label));
        Assert.Equal(2, tables.Summary.Count); // the main table and the sweep's
        Assert.All(tables.Summary, s => Assert.Equal(2.0, s.GoldMean));
    }

    [Fact]
    public void AlpacaEvalFilesKeepInstructionsExactlyAndCarryTheReferences()
    {
        const string yaml = """
            name: alpaca
            task: instruction
            dataset: {path: prompts.jsonl, prompts: 2}
            models:
              bases: [{name: big, path: zoo:base-large}]
              tuned: zoo:small-tuned
              untuned: zoo:small-untuned
              gold: instruction-judge
            methods: [base]
            generation: {max_new_tokens: 8}
            seeds: [0, 1]
            """;
        var config = ExperimentConfigParser.Parse(yaml, "alpaca.yaml");
        string[] instructions = ["  Write a haiku about rain.\n", "List three primes. "];
        var cell = config.Cells().Single(c => c.Seed == 0);
        var records = new[] { 0L, 1L }.SelectMany(seed => instructions.Select((text, p) => new GenerationRecord(
            (cell with { Seed = seed }).Key, "big", "base", "Base", null, null, null, null, null, seed, p, $"id{p}", text, $"reference {p}",
            $"answer {p} seed {seed}", "Eos", null, 0.5, p == 0 ? 1.0 : 0.0, 5, 0, 1, 0.1))).ToArray();
        var run = new RunDirectory(Directory.CreateTempSubdirectory("wts-alpaca-run-").FullName);
        try
        {
            File.WriteAllText(run.Config, yaml);
            RunDirectory.WriteAtomically(run.Manifest, new RunManifest("alpaca", "alpaca.yaml", RunManifest.Hash(yaml), yaml, "test", "2026-01-01T00:00:00Z",
                RunManifest.MachineNow(), new Dictionary<string, ModelFingerprint>(), 0, 1, false, null).ToJson());
            using (var log = new GenerationLog.Writer(run.Generations)) log.Append(records);

            ExperimentEvaluation.Evaluate(run);

            var outputs = AlpacaEvalOutputs.Read(Path.Combine(run.AlpacaEval, "big_base_seed1", "model_outputs.json"));
            Assert.Equal(instructions, outputs.Select(o => o.Instruction));
            Assert.Equal(["answer 0 seed 1", "answer 1 seed 1"], outputs.Select(o => o.Output));
            var references = AlpacaEvalOutputs.Read(Path.Combine(run.AlpacaEval, "reference_outputs.json"));
            Assert.Equal(instructions, references.Select(o => o.Instruction));
            Assert.Equal(["reference 0", "reference 1"], references.Select(o => o.Output));
            Assert.All(references, r => Assert.Equal("reference", r.Generator));
        }
        finally
        {
            Directory.Delete(run.Path, recursive: true);
        }
    }

    [Theory]
    [InlineData("generations.shard-1-of-x.jsonl")]
    [InlineData("generations.shard-3-of-2.jsonl")]
    public void MergeNamesAShardLogItDoesNotRecognise(string name)
    {
        var run = new RunDirectory(Directory.CreateTempSubdirectory("wts-merge-").FullName);
        try
        {
            File.WriteAllText(Path.Combine(run.Path, "generations.shard-0-of-2.jsonl"), "");
            File.WriteAllText(Path.Combine(run.Path, name), "");

            var error = Assert.Throws<InvalidInputException>(() => ShardMerge.Merge(run));

            Assert.Contains(name, error.Message);
            Assert.Contains("expected generations.shard-I-of-N.jsonl", error.Message);
        }
        finally
        {
            Directory.Delete(run.Path, recursive: true);
        }
    }
}
