using System.CommandLine;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts data generate`: write a synthetic task's datasets as JSONL.</summary>
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
        var generate = new Command("generate", "Generate pretraining texts, train/test prompts and preference pairs (and, for sentiment, classifier data).")
        {
            task, output, count, pretrainCount, seed, prefix,
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
            var sizes = new DatasetSizes(pretraining, records, records, records);
            bool all = name == "all";
            var tasks = all ? TaskGenerators.All : [TaskGenerators.Get(name)];
            foreach (var generator in tasks)
            {
                string target = all ? Path.Combine(directory, generator.Name) : directory;
                foreach (string path in TaskDatasets.Generate(generator, target, sizes, result.GetValue(seed), filePrefix))
                    Console.WriteLine(path);
            }
            return 0;
        }));
        return new Command("data", "Synthetic task datasets.") { generate };
    }
}
