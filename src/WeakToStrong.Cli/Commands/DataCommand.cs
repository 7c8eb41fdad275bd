using System.CommandLine;
using WeakToStrong.Experiments;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.World;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts data generate`: a synthetic task's datasets as JSONL; `wts data on-policy-pairs`: the paper's DPO data recipe.</summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "sentiment, summarization, instruction, or all (one subdirectory per task)", Required = true };
        var output = new Option<string>("--out") { Description = "output directory", Required = true };
        var count = new Option<int>("--count") { Description = "records per kind (prompts: per split)", DefaultValueFactory = _ => 20 };
        var pretrainCount = new Option<int?>("--pretrain-count") { Description = "pretraining texts (default: --count)" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var prefix = new Option<string>("--prefix") { Description = "file name prefix, e.g. sample-", DefaultValueFactory = _ => "" };
        var force = new Option<bool>(OutputPaths.ForceFlag) { Description = "write into a non-empty --out directory (no existing file is ever replaced)" };
        var generate = new Command("generate", "Generate pretraining texts, train/test prompts and preference pairs (and, for sentiment, classifier data).")
        {
            task, output, count, pretrainCount, seed, prefix, force,
        };
        generate.SetAction(result => Cli.Run(() =>
        {
            int records = result.GetValue(count);
            int pretraining = result.GetValue(pretrainCount) ?? records;
            if (records <= 0) throw new InvalidInputException($"--count must be positive, got {records}");
            if (pretraining <= 0) throw new InvalidInputException($"--pretrain-count must be positive, got {pretraining}");
            string filePrefix = result.GetValue(prefix)!;
            if (filePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0) throw new InvalidInputException($"--prefix \"{filePrefix}\" is not usable in a file name");
            string name = result.GetValue(task)!;
            string directory = result.GetValue(output)!;
            OutputLocations.CheckFolder(directory, "--out");
            var sizes = new DatasetSizes(pretraining, records, records, records);
            bool all = name == "all";
            var tasks = all ? TaskGenerators.All : [TaskGenerators.Get(name)];
            const string whatToDo = "choose an empty or new --out directory, or another --prefix";
            bool intoNonEmpty = result.GetValue(force);
            if (all) OutputPaths.RequireWritable(directory, "--out", intoNonEmpty, entry => tasks.Any(t => t.Name == entry), [], whatToDo);
            foreach (var generator in tasks) // every target checked before anything is written
                OutputPaths.RequireWritable(all ? Path.Combine(directory, generator.Name) : directory, "--out", intoNonEmpty, _ => false,
                    TaskDatasets.FileNames(generator, filePrefix), whatToDo);
            foreach (var generator in tasks)
            {
                string target = all ? Path.Combine(directory, generator.Name) : directory;
                foreach (string path in TaskDatasets.Generate(generator, target, sizes, result.GetValue(seed), filePrefix))
                    Console.WriteLine(path);
            }
            return 0;
        }));
        return new Command("data", "Synthetic task datasets, and on-policy preference pairs for DPO.") { generate, OnPolicyPairs() };
    }

    static Command OnPolicyPairs()
    {
        var policy = new Option<string>("--policy") { Description = "model the pairs are sampled from (the untuned / SFT model DPO starts from)", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "JSONL with a \"prompt\" per line (e.g. prompts-train.jsonl of `wts data generate`)", Required = true };
        var gold = new Option<string>("--gold") { Description = $"reward model / classifier that labels the pairs (reads prompt + response), or {GoldSpec.InstructionJudge}", Required = true };
        var output = new Option<string>("--out") { Description = "JSONL of {\"prompt\", \"chosen\", \"rejected\"} for `wts train dpo`; must not exist", Required = true };
        var maxNewTokens = new Option<int>("--max-new-tokens") { DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "0 = off", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var runtime = new RuntimeOptions();
        var command = new Command("on-policy-pairs",
            "Two responses per prompt sampled from --policy, labelled by --gold under Bradley–Terry (chosen with probability σ(r₁ − r₂)), as the paper built imdb_preference.")
        {
            policy, prompts, gold, output, maxNewTokens, temperature, topK, topP, seed,
        };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            string target = result.GetValue(output)!;
            if (File.Exists(target)) throw new InvalidInputException($"--out {target}: already exists; choose another path (nothing was overwritten)");
            OutputLocations.CheckFile(target, "--out");
            var generation = new GenerationOptions(result.GetValue(maxNewTokens),
                new SamplingOptions(result.GetValue(temperature), result.GetValue(topK), result.GetValue(topP)), null, result.GetValue(seed));
            generation.Validate();
            var texts = TaskDatasets.ReadPrompts(result.GetValue(prompts)!).Select(p => p.Prompt).ToArray();
            if (texts.Length == 0) throw new InvalidInputException($"--prompts {result.GetValue(prompts)}: no prompts");
            var options = runtime.Apply(result);
            var goldSpec = GoldSpec.WithDefaultTemplate(result.GetValue(gold)!);
            using var judge = Gold.Open(goldSpec, goldSpec.IsInstructionJudge ? null : ModelLocator.Resolve(goldSpec.Reference), options, Cli.Warn);
            string policyReference = result.GetValue(policy)!;
            using var model = PretrainedModels.LoadCausalLM(policyReference, options, Cli.Warn);
            var sampler = new PromptedModel("policy", model, Cli.LoadTokenizer(policyReference), PromptTemplate.Raw);
            var made = OnPolicyPreferences.Sample(sampler, judge, texts, generation,
                progress: done => Console.Error.Write($"\rsampling: {done}/{2 * texts.Length} responses"));
            Console.Error.WriteLine();
            TaskDatasets.WritePairs(target, made.Pairs.Select(p => new PreferencePair(p.Prompt, p.Chosen, p.Rejected)));
            Console.WriteLine($"{target}: {made.Pairs.Count} pairs from {texts.Length} prompts ({made.Ties} without a preference: equal responses or scores)");
            return 0;
        }));
        return command;
    }
}
