using System.CommandLine;
using WeakToStrong.Cli.Commands;

// Before anything loads libtorch: its OpenMP threads read their waiting policy once, at load.
WeakToStrong.NativeThreads.ShortenOpenMpSpinning();

var root = new RootCommand("WeakToStrong: weak-to-strong search (Zhou et al., 2024) and its baselines on TorchSharp.")
{
    LogprobsCommand.Create(),
    TemplateCommand.Create(),
    GenerateCommand.Create(),
    ServeCommand.Create(),
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
var verbose = new Option<bool>("--verbose") { Description = "print an error's stack trace (also WTS_VERBOSE=1)", Recursive = true };
root.Options.Add(verbose);
// Known before parsing, so that an error while reading --config gets its trace too.
Cli.Verbose |= args.Contains(verbose.Name);
return Cli.Run(() =>
{
    var parsed = root.Parse(ConfigFileArguments.Expand(root, args));
    if (parsed.Errors.Count > 0)
    {
        // System.CommandLine would print its messages and the help and exit 1; a parse error is bad input like any
        // other: one line, exit 2. "Required command" only restates an unknown command's error, so it goes when others exist.
        var messages = parsed.Errors.Select(e => e.Message.TrimEnd('.')).Distinct().ToList();
        if (messages.Count > 1) messages.RemoveAll(m => m.StartsWith("Required command was not provided", StringComparison.Ordinal));
        string command = parsed.CommandResult.Command == root ? "wts" : $"wts {parsed.CommandResult.Command.Name}";
        throw new WeakToStrong.InvalidInputException($"{string.Join("; ", messages)} (see {command} --help)");
    }
    // Every action runs through Cli.Run; System.CommandLine's own handler (a trace, exit 1) must never be reached.
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
});
