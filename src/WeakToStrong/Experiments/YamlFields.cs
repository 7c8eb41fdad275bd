using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace WeakToStrong.Experiments;

/// <summary>
/// Strict, position-aware reading of a YAML document: every error names file:line:column, the field's path
/// and what was expected. Errors are collected so one run of `wts validate` reports all of them.
/// </summary>
public sealed class YamlFields(string file)
{
    readonly List<string> errors = [];

    public IReadOnlyList<string> Errors => errors;

    /// <summary>Aliases a config may use at most: enough for any real config, too few for an alias bomb to cost time.</summary>
    public const int MaxAliases = 32;

    public static YamlNode? LoadDocument(string file, string text, out string? syntaxError)
    {
        syntaxError = null;
        var scanner = new Scanner(new StringReader(text));
        try
        {
            var stream = new YamlStream();
            stream.Load(new AliasLimitingParser(new Parser(scanner), MaxAliases));
            return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        }
        catch (YamlException e)
        {
            // YamlDotNet's message repeats the position; keep its reason only.
            string reason = e.InnerException?.Message ?? e.Message;
            int close = reason.IndexOf("): ", StringComparison.Ordinal);
            if (reason.StartsWith("(Line:", StringComparison.Ordinal) && close > 0) reason = reason[(close + 3)..];
            var (line, column) = reason.Contains("tab character", StringComparison.Ordinal) && FirstIndentingTab(text) is { } tab
                ? tab : (e.Start.Line, e.Start.Column);
            syntaxError = $"{file}:{line}:{column}: YAML syntax error: {reason}";
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails this way when the text ends inside an open flow collection or quote.
            syntaxError = $"{file}:{scanner.CurrentPosition.Line}:{scanner.CurrentPosition.Column}: YAML syntax error: " +
                "the document ends inside an unclosed {…}, […] or quoted string";
            return null;
        }
    }

    /// <summary>Where a tab first indents a line (YAML forbids tabs in indentation): its 1-based line and column.</summary>
    static (long Line, long Column)? FirstIndentingTab(string text)
    {
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int column = 0;
            while (column < lines[i].Length && lines[i][column] is ' ' or '\t')
            {
                if (lines[i][column] == '\t') return (i + 1, column + 1);
                column++;
            }
        }
        return null;
    }

    /// <summary>
    /// Refuses a document with more than a few aliases: nested aliases (worse, as mapping keys, which are hashed
    /// whole) make a document of under a kilobyte take minutes to load. Our own guard: YamlDotNet has no limit.
    /// </summary>
    sealed class AliasLimitingParser(IParser inner, int maxAliases) : IParser
    {
        int aliases;

        public YamlDotNet.Core.Events.ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            bool moved = inner.MoveNext();
            if (moved && inner.Current is YamlDotNet.Core.Events.AnchorAlias alias && ++aliases > maxAliases)
                throw new YamlException(alias.Start, alias.End, $"more than {maxAliases} aliases (*name); a config needs few, and nested ones can make loading explode");
            return moved;
        }
    }

    public string Where(YamlNode node) => $"{file}:{node.Start.Line}:{node.Start.Column}";

    public void Error(YamlNode node, string path, string message) => errors.Add($"{Where(node)}: {(path.Length == 0 ? "(top level)" : path)}: {message}");

    public static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode s => s.Value is null or "" or "~" or "null" ? "nothing (null)" : $"\"{s.Value}\"",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => "an alias",
    };

    public Mapping? AsMapping(YamlNode? node, string path)
    {
        if (node is null) return null;
        if (node is YamlMappingNode mapping) return new Mapping(this, mapping, path);
        Error(node, path, $"expected a mapping (key: value lines), got {Describe(node)}");
        return null;
    }

    public IReadOnlyList<YamlNode> AsList(YamlNode? node, string path, bool allowScalar = false)
    {
        if (node is null) return [];
        if (node is YamlSequenceNode sequence) return sequence.Children.ToArray();
        if (allowScalar && node is YamlScalarNode) return [node];
        Error(node, path, $"expected a list, got {Describe(node)}");
        return [];
    }

    public string? AsString(YamlNode node, string path)
    {
        if (node is YamlScalarNode { Value: not null } scalar && !(scalar.Style == ScalarStyle.Plain && scalar.Value is "" or "~" or "null"))
            return scalar.Value;
        Error(node, path, $"expected a string, got {Describe(node)}");
        return null;
    }

    public long? AsInteger(YamlNode node, string path, long min, long max)
    {
        if (node is YamlScalarNode { Value: string text } && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            if (value >= min && value <= max) return value;
            Error(node, path, $"expected an integer {Range(min, max)}, got {value}");
            return null;
        }
        Error(node, path, $"expected an integer {Range(min, max)}, got {Describe(node)}");
        return null;
    }

    public double? AsNumber(YamlNode node, string path, Func<double, bool> valid, string expected)
    {
        if (node is YamlScalarNode { Value: string text }
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value))
        {
            if (valid(value)) return value;
            Error(node, path, $"expected {expected}, got {text}");
            return null;
        }
        Error(node, path, $"expected {expected}, got {Describe(node)}");
        return null;
    }

    static string Range(long min, long max) =>
        max == long.MaxValue ? $"≥ {min}" : $"in [{min}, {max}]";

    /// <summary>A mapping whose keys must all be known: reading marks a key as used; <see cref="RejectUnknown"/> reports the rest.</summary>
    public sealed class Mapping(YamlFields fields, YamlMappingNode node, string path)
    {
        readonly HashSet<string> known = [];

        public YamlMappingNode Node => node;
        public string Path => path;

        public string Child(string key) => path.Length == 0 ? key : $"{path}.{key}";

        public YamlNode? Optional(string key)
        {
            known.Add(key);
            foreach (var (k, v) in node.Children)
                if (k is YamlScalarNode { Value: string name } && name == key) return v;
            return null;
        }

        public YamlNode? Required(string key, string expected)
        {
            var value = Optional(key);
            if (value is null) fields.Error(node, path, $"missing required key \"{key}\" ({expected})");
            return value;
        }

        public void RejectUnknown()
        {
            foreach (var (k, _) in node.Children)
            {
                string name = (k as YamlScalarNode)?.Value ?? "";
                if (!known.Contains(name))
                    fields.Error(k, Child(name), $"unknown key; expected one of: {string.Join(", ", known)}");
            }
        }
    }
}
