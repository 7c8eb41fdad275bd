using System.CommandLine;
using WeakToStrong.Cli.Commands;

WeakToStrong.NativeMemory.ReuseFreedMemory();

var root = new RootCommand("WeakToStrong: weak-to-strong search (Zhou et al., 2024) and its baselines on TorchSharp.")
{
    LogprobsCommand.Create(),
    TemplateCommand.Create(),
    GenerateCommand.Create(),
    RewardCommand.Create(),
    SearchCommand.Create(),
    ScoreCommand.Create(),
    ZooCommand.Create(),
    TrainCommand.Create(),
    BenchCommand.Create(),
    DataCommand.Create(),
};
foreach (var command in ExperimentCommands.Create()) root.Subcommands.Add(command);
try
{
    args = ConfigFileArguments.Expand(root, args);
}
catch (WeakToStrong.InvalidInputException e)
{
    Console.Error.WriteLine($"wts: error: {e.Message}");
    return 2;
}
return root.Parse(args).Invoke();
