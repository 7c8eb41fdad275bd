using System.CommandLine;
using YamlDotNet.RepresentationModel;

namespace WeakToStrong.Cli.Commands;

/// <summary>
/// `--config FILE.yaml` for commands whose settings are flags (`wts train ...`): each key is a flag's name
/// without its dashes (`batch-size: 16` or `batch_size: 16` for --batch-size), lists repeat a flag, true
/// sets a switch. Flags given on the command line win over the file. Unknown keys and non-scalar values are
/// errors with file:line:column.
/// </summary>
internal static class ConfigFileArguments
{
    public const string OptionName = "--config";

    public static Option<string?> Option() => new(OptionName) { Description = "YAML file of this command's flags (key: value; command-line flags win)" };

    /// <summary>The arguments with the config file's settings spliced in, or the arguments unchanged when no --config is given.</summary>
    public static string[] Expand(RootCommand root, string[] args)
    {
        int at = Array.IndexOf(args, OptionName);
        if (at < 0) return args;
        if (at + 1 >= args.Length) throw new InvalidInputException($"{OptionName}: expected a YAML file");
        string path = args[at + 1];
        var command = root.Parse(args).CommandResult.Command;
        var options = command.Options.Where(o => o.Name.StartsWith("--", StringComparison.Ordinal) && o.Name != OptionName)
            .ToDictionary(o => o.Name[2..], StringComparer.Ordinal);
        if (!File.Exists(path)) throw new InvalidInputException($"{OptionName}: {path} not found");
        var node = WeakToStrong.Experiments.YamlFields.LoadDocument(path, WeakToStrong.Data.StrictUtf8.ReadAllText(path), out string? syntaxError);
        if (syntaxError is not null) throw new InvalidInputException(syntaxError);
        if (node is not YamlMappingNode mapping)
            throw new InvalidInputException($"{path}: expected a mapping of flag names to values (e.g. steps: 200)");

        var given = args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a[2..].Split('=')[0]).ToHashSet();
        var expanded = new List<string>(args);
        foreach (var (keyNode, value) in mapping.Children)
        {
            string key = (keyNode as YamlScalarNode)?.Value ?? "";
            string name = key.Replace('_', '-');
            string where = $"{path}:{keyNode.Start.Line}:{keyNode.Start.Column}";
            if (!options.TryGetValue(name, out var option))
                throw new InvalidInputException($"{where}: {key}: not a flag of `{command.Name}`; expected one of: {string.Join(", ", options.Keys.Order())}");
            if (given.Contains(name)) continue;
            var values = value switch
            {
                YamlScalarNode scalar => [scalar.Value ?? ""],
                YamlSequenceNode sequence => sequence.Children.Select(c => (c as YamlScalarNode)?.Value
                    ?? throw new InvalidInputException($"{path}:{c.Start.Line}:{c.Start.Column}: {key}: expected a scalar value")).ToArray(),
                _ => throw new InvalidInputException($"{where}: {key}: expected a value or a list of values, got a mapping"),
            };
            foreach (string v in values)
            {
                if (option.ValueType == typeof(bool))
                {
                    if (v is not ("true" or "false")) throw new InvalidInputException($"{where}: {key}: expected true or false, got \"{v}\"");
                    if (v == "true") expanded.Add("--" + name);
                    continue;
                }
                expanded.Add("--" + name);
                expanded.Add(v);
            }
        }
        return expanded.ToArray();
    }
}
