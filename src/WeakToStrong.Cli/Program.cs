using System.CommandLine;
using WeakToStrong.Cli.Commands;

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
    DoctorCommand.Create(),
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
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // System.CommandLine would print its messages and the help and exit 1; a parse error is bad input like any
    // other: one line, exit 2. "Required command" only restates an unknown command's error, so it goes when others exist.
    var messages = parsed.Errors.Select(e => e.Message.TrimEnd('.')).Distinct().ToList();
    if (messages.Count > 1) messages.RemoveAll(m => m.StartsWith("Required command was not provided", StringComparison.Ordinal));
    string command = parsed.CommandResult.Command == root ? "wts" : $"wts {parsed.CommandResult.Command.Name}";
    Console.Error.WriteLine($"wts: error: {string.Join("; ", messages)} (see {command} --help)");
    return 2;
}
return parsed.Invoke();
