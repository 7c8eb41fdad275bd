using System.CommandLine;
using System.Diagnostics;
using WeakToStrong.World;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts zoo build`: the embedded default world's models, trained here, deterministically.</summary>
internal static class ZooCommand
{
    public static Command Create() => new("zoo", "The embedded synthetic world: tokenizers and tiny models the harness trains itself.") { BuildCommand(), CheckCommand() };

    static Command CheckCommand()
    {
        var task = new Option<string?>("--task") { Description = $"one of {string.Join(", ", ZooPlan.Tasks)} (default: all)" };
        var quick = new Option<bool>("--quick") { Description = "check the quick zoo" };
        var directory = new Option<string?>("--dir") { Description = "zoo directory (default $WTS_ZOO_DIR or ~/.cache/weak-to-strong/zoo)" };
        var prompts = new Option<int>("--prompts") { Description = "held-out prompts per method", DefaultValueFactory = _ => 100 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for TorchSharp (0 = its default)", DefaultValueFactory = _ => 0 };
        var command = new Command("check", "Print the numbers that show the world behaves like the paper's: perplexity by size, gold accuracy, tuned vs untuned, search vs sampling.")
            { task, quick, directory, prompts, threads };
        command.SetAction(result => Cli.Run(() =>
        {
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            NativeMemory.ReuseFreedMemory(); // the zoo runs on the CPU
            if (result.GetValue(prompts) <= 0) throw new InvalidInputException("--prompts must be positive");
            string root = result.GetValue(directory) ?? Zoo.DefaultDirectory;
            foreach (var name in result.GetValue(task) is string one ? [one] : ZooPlan.Tasks)
            {
                var zoo = Zoo.Locate(root, name, result.GetValue(quick));
                if (!File.Exists(zoo.Manifest)) throw new InvalidInputException($"{zoo.Directory}: no zoo built here; run `wts zoo build --task {name}{(result.GetValue(quick) ? " --quick" : "")}` first");
                Console.WriteLine($"== {name} ({zoo.Directory})");
                Console.WriteLine(File.ReadAllText(zoo.Manifest).Trim());
                Console.WriteLine($"{"method",-28}  {"gold mean [95% CI]",-28}  win rate vs reference [95% CI]");
                foreach (var row in ZooCheck.Run(zoo, result.GetValue(prompts), message => Console.Error.WriteLine(message)))
                    Console.WriteLine($"{row.Method,-28}  {row.Gold,-28}  {row.WinRate?.ToString() ?? ""}");
            }
            return 0;
        }));
        return command;
    }

    static Command BuildCommand()
    {
        var task = new Option<string?>("--task") { Description = $"one of {string.Join(", ", ZooPlan.Tasks)} (default: all)" };
        var quick = new Option<bool>("--quick") { Description = "fewer steps and documents (tests, smoke runs)" };
        var directory = new Option<string?>("--dir") { Description = "zoo directory (default $WTS_ZOO_DIR or ~/.cache/weak-to-strong/zoo)" };
        var threads = new Option<int>("--threads") { Description = $"models trained side by side, each on one CPU thread (a model's weights do not depend on it; default: the CPU count, at most 4, here {Zoo.DefaultThreads})", DefaultValueFactory = _ => Zoo.DefaultThreads };
        var force = new Option<bool>(OutputPaths.ForceFlag) { Description = "build into a --dir that holds other files (none is ever replaced)" };
        var command = new Command("build", "Build what is missing of the zoo.") { task, quick, directory, threads, force };
        command.SetAction(result => Cli.Run(() =>
        {
            if (result.GetValue(threads) < 1) throw new InvalidInputException($"--threads: expected at least 1, got {result.GetValue(threads)}");
            NativeMemory.ReuseFreedMemory(); // the zoo runs on the CPU
            string root = result.GetValue(directory) ?? Zoo.DefaultDirectory;
            var tasks = result.GetValue(task) is string one ? [one] : ZooPlan.Tasks;
            foreach (var name in tasks) ZooPlan.For(name, result.GetValue(quick)); // validate before any work
            OutputLocations.CheckFolder(root, "--dir");
            Zoo.CheckDirectory(root, tasks, result.GetValue(quick), result.GetValue(force));
            var clock = Stopwatch.StartNew();
            var built = ProgressDisplay.Run(progress => Zoo.Build(root, tasks, result.GetValue(quick), progress, result.GetValue(threads)));
            foreach (var (name, zoo) in tasks.Zip(built)) Console.WriteLine($"{name}: {zoo.Directory}");
            Console.Error.WriteLine($"zoo ready in {clock.Elapsed.TotalSeconds:F0} s");
            return 0;
        }));
        return command;
    }
}
