using WeakToStrong.Evaluation;
using WeakToStrong.Search;
using WeakToStrong.World;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Experiments;

/// <summary>
/// Turns a run's generations into its tables: one sample row per (table entry, generation) and one summary
/// row per cell pooled over seeds, with 95% bootstrap intervals over prompts (seeds averaged within a prompt
/// first, so repeated seeds narrow nothing they should not). Can rescore with a gold evaluator without regenerating.
/// </summary>
public static class ExperimentEvaluation
{
    public sealed record Tables(IReadOnlyList<SampleRow> Samples, IReadOnlyList<SummaryRow> Summary);

    /// <summary>Reads the run and tabulates it (rescoring gold when <paramref name="rescore"/> is given); writes AlpacaEval outputs for instruction following.</summary>
    public static Tables Evaluate(RunDirectory run, Func<ExperimentConfig, IGoldEvaluator>? rescore = null, Action<string>? log = null)
    {
        var (config, records) = Load(run);
        if (rescore is not null)
        {
            using var gold = rescore(config);
            log?.Invoke($"rescoring {records.Count} responses with {gold.Name}");
            var scores = Gold.ScoreAlone(gold, records.Select(r => r.Prompt).ToArray(), records.Select(r => r.Response).ToArray());
            records = records.Select((r, i) => r with { Gold = scores[i] }).ToArray();
        }
        var tables = Tabulate(config, records);
        if (config.Task == "instruction") WriteAlpacaEvalOutputs(run, config, records);
        return tables;
    }

    /// <summary>The config as it was run and its generations (generations.jsonl, after `wts merge` for a sharded run).</summary>
    public static (ExperimentConfig Config, IReadOnlyList<GenerationRecord> Records) Load(RunDirectory run)
    {
        if (!File.Exists(run.Manifest))
            throw new InvalidInputException(run.ShardLogs().Count > 0
                ? $"{run.Path} holds shards but no manifest.json; combine them first with `wts merge {run.Path}`"
                : $"{run.Path} is not a run directory (no manifest.json); `wts run CONFIG` makes one");
        var manifest = RunManifest.Read(run.Manifest);
        var config = ExperimentConfigParser.Parse(manifest.ConfigText, run.Config);
        var records = GenerationLog.Read(run.Generations);
        var duplicate = records.GroupBy(r => r.Key).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidInputException($"{run.Generations}: cell {duplicate.Key.Cell} has prompt {duplicate.Key.PromptIndex} {duplicate.Count()} times");
        if (records.Count == 0) throw new InvalidInputException($"{run.Generations}: no generations yet");
        return (config, records);
    }

    public static Tables Tabulate(ExperimentConfig config, IReadOnlyList<GenerationRecord> records)
    {
        var byCell = records.ToLookup(r => (r.BaseModel, MethodKey: r.Cell.Split('/')[1]));
        var samples = new List<SampleRow>();
        var summary = new List<SummaryRow>();
        var tabulated = new HashSet<(string Sweep, string? Base, string Method)>();
        foreach (var group in config.Groups)
            foreach (var method in group.Methods)
                foreach (string? baseModel in method.UsesBaseModel ? group.Bases.Cast<string?>() : [null])
                {
                    if (!tabulated.Add((group.Sweep, baseModel, method.Key))) continue;
                    var rows = byCell[(baseModel, method.Key)].OrderBy(r => r.PromptIndex).ThenBy(r => r.Seed).ToArray();
                    if (rows.Length == 0) continue;
                    samples.AddRange(rows.Select(r => Sample(config, group.Sweep, method, r)));
                    summary.Add(Summarize(config, group.Sweep, baseModel, method, rows));
                }
        return new Tables(samples, summary);
    }

    static SampleRow Sample(ExperimentConfig config, string sweep, MethodSpec method, GenerationRecord r) => new(
        config.Task, r.BaseModel ?? "", method.Name, method.Label, sweep, method.W, method.K, method.L, method.N, method.Beta, r.Seed,
        r.PromptId, r.Prompt, r.Response, r.Reference, r.Gold, r.ImplicitValue, r.Win, r.LargeTokens, r.SmallTokens, r.WallSeconds);

    static SummaryRow Summarize(ExperimentConfig config, string sweep, string? baseModel, MethodSpec method, IReadOnlyList<GenerationRecord> rows)
    {
        ulong seed = StableHash.Fnv1a($"{config.Name}/{sweep}/{baseModel}/{method.Key}");
        var prompts = rows.GroupBy(r => r.PromptIndex).ToArray();
        var gold = Estimate.Bootstrap(prompts.Select(p => p.Average(r => r.Gold)).ToArray(), seed);
        Estimate? win = null, lengthControlled = null;
        if (rows.All(r => r.Win is not null))
        {
            win = WinRates.Pairwise(prompts.Select(p => p.Average(r => r.Win!.Value)).ToArray(), seed ^ 1);
            lengthControlled = LengthControlled(rows, seed ^ 2);
        }
        double? implicitValue = rows.All(r => r.ImplicitValue is not null) ? rows.Average(r => r.ImplicitValue!.Value) : null;
        return new SummaryRow(config.Task, baseModel ?? "", method.Name, method.Label, sweep, method.W, method.K, method.L, method.N, method.Beta,
            rows.Select(r => r.Seed).Distinct().Count(), rows.Count, gold.Mean, gold.Low, gold.High, implicitValue,
            win?.Mean, win?.Low, win?.High, lengthControlled?.Mean, lengthControlled?.Low, lengthControlled?.High,
            rows.Average(r => (double)r.LargeTokens), rows.Average(r => (double)r.SmallTokens), rows.Average(r => r.WallSeconds));
    }

    /// <summary>
    /// AlpacaEval 2.0's length-controlled win rate against the reference outputs, fitted on every (prompt, seed); its
    /// interval resamples prompts with all their seeds, as the gold and win-rate intervals do.
    /// </summary>
    static Estimate? LengthControlled(IReadOnlyList<GenerationRecord> rows, ulong seed) =>
        rows.All(r => r.Reference is not null)
            ? LengthControlledWinRate.Bootstrap(rows.Select(r => r.Win!.Value).ToArray(),
                rows.Select(r => LengthControlledWinRate.OutputLength(r.Response)).ToArray(),
                rows.Select(r => LengthControlledWinRate.OutputLength(r.Reference!)).ToArray(), seed,
                instructionOfRow: rows.Select(r => r.PromptIndex).ToArray())
            : null;

    /// <summary>
    /// One model_outputs.json per cell (a generator, in AlpacaEval's terms) and the references as
    /// reference_outputs.json (generator "reference"), so that <c>alpaca_eval --model_outputs … --reference_outputs …</c>
    /// runs on them as they are. Instructions are written exactly as given: alpaca_eval joins on their text.
    /// </summary>
    static void WriteAlpacaEvalOutputs(RunDirectory run, ExperimentConfig config, IReadOnlyList<GenerationRecord> records)
    {
        foreach (var cell in records.GroupBy(r => r.Cell))
        {
            string generator = $"{config.Name}/{cell.Key}";
            string directory = Path.Combine(run.AlpacaEval, cell.Key.Replace('/', '_'));
            AlpacaEvalOutputs.Write(Path.Combine(directory, "model_outputs.json"),
                cell.OrderBy(r => r.PromptIndex).Select(r => (InstructionTask.ExactInstructionOf(r.Prompt), r.Response, generator)), config.Name);
        }
        var references = records.Where(r => r.Reference is not null).GroupBy(r => r.PromptIndex).OrderBy(g => g.Key).Select(g => g.First()).ToArray();
        if (references.Length > 0)
            AlpacaEvalOutputs.Write(Path.Combine(run.AlpacaEval, "reference_outputs.json"),
                references.Select(r => (InstructionTask.ExactInstructionOf(r.Prompt), r.Reference!, "reference")), config.Name);
    }
}
