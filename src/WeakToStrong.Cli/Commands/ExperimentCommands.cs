using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Rendering;
using WeakToStrong.Evaluation;
using WeakToStrong.Experiments;
using WeakToStrong.Models;
using WeakToStrong.Reporting;
using WeakToStrong.World;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts validate|run|merge|evaluate|plot|report`: YAML experiments from config to tables and figures.</summary>
internal static class ExperimentCommands
{
    public static IEnumerable<Command> Create() => [Validate(), Run(), Merge(), ChangedModels(), Evaluate(), Plot(), Report()];

    static Option<double?> DeviceMemoryOption() => new("--device-memory")
        { Description = "GiB of memory per device, when the queried figure is missing or wrong (default: MemAvailable for cpu, nvidia-smi for cuda)" };

    static Option<string?> ZooDirectory() => new("--zoo") { Description = "zoo directory for zoo:NAME models (default $WTS_ZOO_DIR or ~/.cache/weak-to-strong/zoo)" };

    static Command Validate()
    {
        var configs = new Argument<string[]>("CONFIG") { Description = "experiment YAML file(s)", Arity = ArgumentArity.OneOrMore };
        var quick = new Option<bool>("--quick") { Description = "look for zoo models in the quick zoo" };
        var requireModels = new Option<bool>("--require-models") { Description = "fail when a model is not available here (default: report it)" };
        var zoo = ZooDirectory();
        var device = new Option<string>("--device") { Description = "the device(s) the run will use, for the memory estimate: cpu, cuda, cuda:N or a list cuda:0,cuda:1 (default: the config's device_map, else cpu)", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string?>("--dtype") { Description = "the run's dtype, for the memory estimate: float32 (default), bfloat16 or float16" };
        var deviceMemory = DeviceMemoryOption();
        var command = new Command("validate", "Check experiment configs: schema, values, the models they name where available, and whether the run fits the device's memory.")
            { configs, quick, requireModels, zoo, device, dtype, deviceMemory };
        command.SetAction(result => Cli.Run(() =>
        {
            foreach (string path in result.GetValue(configs)!)
            {
                var config = ExperimentConfigParser.Load(path);
                var runner = new ExperimentRunner(config, new RunOptions { Quick = result.GetValue(quick), ZooRoot = result.GetValue(zoo) ?? Zoo.DefaultDirectory });
                Console.WriteLine($"{path}: valid: {config.Name} ({config.Task}), {runner.Cells.Count} cells " +
                    $"({config.Bases.Count} base models, {config.Groups.Sum(g => g.Methods.Count)} method settings, {config.Seeds.Count} seeds) × {config.Dataset.Prompts} prompts");
                var missing = runner.MissingInputs();
                if (missing.Count > 0)
                {
                    if (result.GetValue(requireModels))
                        throw new InvalidInputException($"{path}: {missing.Count} input(s) missing here: {string.Join("; ", missing)}");
                    foreach (string line in missing) Console.WriteLine($"{path}: missing here: {line}");
                    continue;
                }
                var models = runner.ResolveModels(Console.Error.WriteLine);
                runner.CheckVocabularies(models);
                Console.WriteLine($"{path}: every model found; vocabularies fit the methods");
                var estimate = runner.EstimateMemory(models, runner.Prompts(), ModelOptions.ParseDType(result.GetValue(dtype)));
                foreach (string line in estimate.Lines()) Console.WriteLine($"{path}: {line}");
                string devices = result.GetResult(device) is { Implicit: false } ? result.GetValue(device)! : config.DeviceMap ?? "cpu";
                if (devices == "auto") devices = new ModelOptions(TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.Float32) { Devices = ModelOptions.ParseDevices("auto", "device_map") }.DeviceNames;
                var memory = DeviceMemory.Of(devices, result.GetValue(deviceMemory));
                try { Console.WriteLine($"{path}: {estimate.CheckFits(memory, path)}"); }
                catch (InvalidInputException) when (!result.GetValue(requireModels))
                {
                    Console.WriteLine($"{path}:   device {memory.Device}: {MemoryEstimate.Gib(memory.Bytes!.Value)} ({memory.Source}); does NOT fit (an error with --require-models and in wts run)");
                }
            }
            return 0;
        }));
        return command;
    }

    static Command Run()
    {
        var config = new Argument<string>("CONFIG") { Description = "experiment YAML file" };
        var shard = new Option<string>("--shard") { Description = "i/n: run prompts p with p mod n = i (Slurm arrays, several GPUs); combine with `wts merge`", DefaultValueFactory = _ => "0/1" };
        var resume = new Option<bool>("--resume") { Description = "continue a run in its output directory, skipping what is done" };
        var limit = new Option<int?>("--limit") { Description = "only the first N prompts" };
        var quick = new Option<bool>("--quick") { Description = $"smoke run: the quick zoo, at most {RunOptions.QuickPrompts} prompts, the first seed" };
        var output = new Option<string?>("--output") { Description = "run directory (default: the config's output); refused if it holds another run or files wts did not write" };
        var force = new Option<bool>(OutputPaths.ForceFlag) { Description = "run into a directory that holds other files (none is ever replaced)" };
        var zoo = ZooDirectory();
        var deviceMemory = DeviceMemoryOption();
        var runtime = new RuntimeOptions();
        var command = new Command("run", "Generate every cell of an experiment (then evaluate and plot, unless sharded).") { config, shard, resume, limit, quick, output, force, zoo, deviceMemory };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            var (index, count) = ParseShard(result.GetValue(shard)!);
            var experiment = ExperimentConfigParser.Load(result.GetValue(config)!);
            var options = new RunOptions
            {
                OutputOverride = result.GetValue(output), ShardIndex = index, ShardCount = count, Resume = result.GetValue(resume),
                Limit = result.GetValue(limit), Quick = result.GetValue(quick), ForceIntoNonEmpty = result.GetValue(force), ZooRoot = result.GetValue(zoo) ?? Zoo.DefaultDirectory,
                Models = runtime.Apply(result, experiment.DeviceMap), DeviceMemoryGiB = result.GetValue(deviceMemory),
            };
            options.Validate();
            var clock = Stopwatch.StartNew();
            var runner = new ExperimentRunner(experiment, options);
            OutputLocations.CheckFolder(runner.Directory.Path, result.GetValue(output) is null ? $"{result.GetValue(config)}: output" : "--output");
            using var writing = ProgressDisplay.Run(runner.Run); // kept through evaluation: the tables and figures are the run's files too
            if (count > 1)
            {
                Console.Error.WriteLine($"shard {index}/{count} done in {clock.Elapsed.TotalSeconds:F0} s; when every shard is done: wts merge {runner.Directory.Path}");
                return 0;
            }
            Finish(runner.Directory, experiment.Name);
            Console.Error.WriteLine($"{experiment.Name}: done in {clock.Elapsed.TotalSeconds:F0} s; results in {runner.Directory.Path}");
            return 0;
        }));
        return command;
    }

    static Command Merge()
    {
        var directory = new Argument<string>("RUN_DIR");
        var command = new Command("merge", "Combine the shards of a run (generations.shard-I-of-N.jsonl) into generations.jsonl, then tables and figures as an unsharded run makes them.") { directory };
        command.SetAction(result => Cli.Run(() =>
        {
            var run = new RunDirectory(result.GetValue(directory)!);
            ShardMerge.Merge(run, Console.Error.WriteLine);
            using var writing = run.Lock(0, 1);
            Finish(run, Path.GetFileName(Path.GetFullPath(run.Path)));
            return 0;
        }));
        return command;
    }

    static Command ChangedModels()
    {
        var directory = new Argument<string>("RUN_DIR");
        var zoo = ZooDirectory();
        var command = new Command("changed-models",
            "Print one line per model whose content here (weights, config, tokenizer) differs from what the run in RUN_DIR used; nothing when it is the same.") { directory, zoo };
        command.SetAction(result => Cli.Run(() =>
        {
            foreach (string line in StaleRuns.ChangedModels(new RunDirectory(result.GetValue(directory)!), result.GetValue(zoo) ?? Zoo.DefaultDirectory, Console.Error.WriteLine))
                Console.WriteLine(line);
            return 0;
        }));
        return command;
    }

    static Command Evaluate()
    {
        var directory = new Argument<string>("RUN_DIR");
        var rescore = new Option<bool>("--rescore") { Description = "score every response again with the config's gold evaluator (or --gold)" };
        var gold = new Option<string?>("--gold") { Description = "rescore with this reward model / classifier instead" };
        var zoo = ZooDirectory();
        var runtime = new RuntimeOptions();
        var command = new Command("evaluate", "Tables (samples.csv, summary.csv) and AlpacaEval outputs from a run's generations, without regenerating.") { directory, rescore, gold, zoo };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            var run = new RunDirectory(result.GetValue(directory)!);
            var modelOptions = runtime.Apply(result);
            if (Directory.Exists(run.Path)) OutputLocations.CheckFolder(run.Path, "RUN_DIR"); // rescoring is long; its tables go here
            using var writing = File.Exists(run.Manifest) ? run.Lock(0, 1) : null; // not a run directory: Evaluate says so, and nothing is written
            Func<ExperimentConfig, IGoldEvaluator>? rescorer = result.GetValue(rescore) || result.GetValue(gold) is not null
                ? config =>
                {
                    var spec = result.GetValue(gold) is string other ? config.Gold with { Reference = other } : config.Gold;
                    var resolver = new ModelResolver(result.GetValue(zoo) ?? Zoo.DefaultDirectory, config.Task, RunManifest.Read(run.Manifest).Quick);
                    return Gold.Open(spec, spec.IsInstructionJudge ? null : resolver.Resolve(spec.Reference, "--gold"), modelOptions);
                }
                : null;
            var tables = WriteTables(run, ExperimentEvaluation.Evaluate(run, rescorer, Console.Error.WriteLine));
            PrintSummary(Path.GetFileName(Path.GetFullPath(run.Path)), tables.Summary, RunManifest.Read(run.Manifest).Setup);
            return 0;
        }));
        return command;
    }

    static Command Plot()
    {
        var directory = new Argument<string>("RUN_DIR");
        var command = new Command("plot", "Figures (PNG and SVG) from a run's summary.csv.") { directory };
        command.SetAction(result => Cli.Run(() =>
        {
            var run = new RunDirectory(result.GetValue(directory)!);
            if (!File.Exists(run.Summary)) throw new InvalidInputException($"{run.Summary} not found; run `wts evaluate {run.Path}` first");
            foreach (string figure in Figures.WriteAll(ResultTables.ReadSummary(run.Summary), run.Figures)) Console.WriteLine(figure);
            return 0;
        }));
        return command;
    }

    static Command Report()
    {
        var directories = new Argument<string[]>("RUN_DIR") { Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "the markdown file to write", Required = true };
        var command = new Command("report", "A README with every run's summary table and figures inline.") { directories, output };
        command.SetAction(result => Cli.Run(() =>
        {
            string readme = result.GetValue(output)!;
            OutputLocations.CheckFile(readme, "--out");
            var experiments = result.GetValue(directories)!.Select(d =>
            {
                var run = new RunDirectory(d);
                if (!File.Exists(run.Summary)) throw new InvalidInputException($"{run.Summary} not found; run `wts evaluate {d}` first");
                var manifest = RunManifest.Read(run.Manifest);
                var figures = Directory.Exists(run.Figures) ? Directory.GetFiles(run.Figures, "*.png").Order(StringComparer.Ordinal).ToArray() : [];
                return (manifest.ConfigName, manifest.ConfigFile, ResultTables.ReadSummary(run.Summary), (IReadOnlyList<string>)figures, manifest.Setup);
            }).ToArray();
            RunDirectory.WriteAtomically(readme, ResultsReadme.Render(experiments, Path.GetDirectoryName(Path.GetFullPath(readme))!));
            Console.Error.WriteLine($"wrote {readme}");
            return 0;
        }));
        return command;
    }

    /// <summary>A run's generations are all there: its tables, figures and summary (what `wts evaluate` and `wts plot` make).</summary>
    static void Finish(RunDirectory run, string title)
    {
        var tables = WriteTables(run, ExperimentEvaluation.Evaluate(run, log: Console.Error.WriteLine));
        Figures.WriteAll(tables.Summary, run.Figures);
        PrintSummary(title, tables.Summary, RunManifest.Read(run.Manifest).Setup);
    }

    static ExperimentEvaluation.Tables WriteTables(RunDirectory run, ExperimentEvaluation.Tables tables)
    {
        ResultTables.WriteSamples(run.Samples, tables.Samples);
        ResultTables.WriteSummary(run.Summary, tables.Summary);
        return tables;
    }

    static (int Index, int Count) ParseShard(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], out int index) && int.TryParse(parts[1], out int count) && count >= 1 && index >= 0 && index < count)
            return (index, count);
        throw new InvalidInputException($"--shard: expected i/n with 0 ≤ i < n (e.g. 0/4), got \"{text}\"");
    }

    /// <param name="setup">the run's seconds outside the search, said under the table (null: an older run that did not record them)</param>
    static void PrintSummary(string title, IReadOnlyList<SummaryRow> rows, SetupSeconds? setup)
    {
        // Cells are plain text: labels and intervals contain brackets, which Spectre would read as markup.
        static IRenderable[] Cells(params string[] texts) => texts.Select(t => (IRenderable)new Text(t)).ToArray();
        bool winRates = rows.Any(r => r.WinRate is not null);
        var table = new Table().Title(Markup.Escape(title));
        foreach (var header in winRates
            ? new[] { "sweep", "base model", "method", "n", "gold [95% CI]", "win rate [95% CI]", "LC win rate [95% CI]", "large tok", "s/sample" }
            : new[] { "sweep", "base model", "method", "n", "gold [95% CI]", "large tok", "s/sample" })
            table.AddColumn(new TableColumn(new Text(header)));
        foreach (var r in rows)
        {
            var cells = new List<string> { r.Sweep.Length == 0 ? "main" : r.Sweep, r.BaseModel.Length == 0 ? "—" : r.BaseModel, r.Label, r.Count.ToString(),
                $"{r.GoldMean:F3} [{r.GoldLow:F3}, {r.GoldHigh:F3}]" };
            if (winRates)
                cells.AddRange([Percent(r.WinRate, r.WinRateLow, r.WinRateHigh), Percent(r.LcWinRate, r.LcWinRateLow, r.LcWinRateHigh)]);
            cells.AddRange([$"{r.LargeTokens:F0}", $"{r.WallSeconds:F2}"]);
            table.AddRow(Cells([.. cells]));
        }
        // A log file is not a terminal: do not wrap the table at 80 columns.
        if (!AnsiConsole.Profile.Capabilities.Interactive) AnsiConsole.Profile.Width = 200;
        AnsiConsole.Write(table);
        if (setup is not null) AnsiConsole.WriteLine(setup.ToString());
    }

    static string Percent(double? mean, double? low, double? high) =>
        mean is double m ? FormattableString.Invariant($"{100 * m:F1}% [{100 * low:F1}, {100 * high:F1}]") : "";
}
