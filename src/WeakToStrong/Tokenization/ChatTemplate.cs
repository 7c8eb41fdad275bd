using System.Globalization;
using System.Text;
using WeakToStrong.Tokenization.Jinja;

namespace WeakToStrong.Tokenization;

/// <summary>One turn of a conversation: role ("system", "user", "assistant", …) and its text.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>Reads a JSON array of <c>{"role": …, "content": …}</c> objects; any other shape is an error naming the file and the entry.</summary>
    public static List<ChatMessage> ReadJsonFile(string path)
    {
        string text;
        try { text = Data.StrictUtf8.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InvalidInputException($"{path}: cannot be read: {e.Message}", e); }
        System.Text.Json.JsonDocument document;
        try { document = System.Text.Json.JsonDocument.Parse(text); }
        catch (System.Text.Json.JsonException e) { throw new InvalidInputException($"{path}: malformed JSON: {e.Message}", e); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != System.Text.Json.JsonValueKind.Array)
                throw new InvalidInputException($"{path}: expected a JSON array of {{\"role\", \"content\"}} messages, found {root.ValueKind}");
            var messages = new List<ChatMessage>();
            int index = 0;
            foreach (var entry in root.EnumerateArray())
            {
                string where = $"{path}: messages[{index++}]";
                if (entry.ValueKind != System.Text.Json.JsonValueKind.Object) throw new InvalidInputException($"{where} should be an object with \"role\" and \"content\", found {entry.ValueKind}");
                foreach (var property in entry.EnumerateObject())
                    if (property.Name is not ("role" or "content")) throw new InvalidInputException($"{where} has key \"{property.Name}\"; only \"role\" and \"content\" are read");
                string Field(string name) => entry.TryGetProperty(name, out var value)
                    ? value.ValueKind == System.Text.Json.JsonValueKind.String ? value.GetString()! : throw new InvalidInputException($"{where}.{name} should be a string, found {value.ValueKind}")
                    : throw new InvalidInputException($"{where} has no \"{name}\"");
                messages.Add(new ChatMessage(Field("role"), Field("content")));
            }
            return messages;
        }
    }
}

/// <summary>
/// A model's chat template, loaded and rendered as transformers' <c>tokenizer.apply_chat_template(messages,
/// tokenize=False, add_generation_prompt=…)</c> does, with our own Jinja interpreter (Tokenization/Jinja).
/// <para>Loading follows transformers' tokenizer loading: <c>chat_template.jinja</c> (and
/// <c>additional_chat_templates/NAME.jinja</c>) beside tokenizer_config.json win over the config's
/// <c>"chat_template"</c>, which is either a string or a list of <c>{"name", "template"}</c>; with several templates
/// the one named "default" is used, as apply_chat_template does when no template is named and no tools are given.</para>
/// <para>Rendering passes what apply_chat_template passes: <c>messages</c>, <c>add_generation_prompt</c>,
/// <c>tools=None</c>, <c>documents=None</c>, the tokenizer's special tokens as strings (<c>bos_token</c>,
/// <c>eos_token</c>, …, <c>additional_special_tokens</c>; transformers' special_tokens_map), and the globals
/// <c>raise_exception(message)</c> and <c>strftime_now(format)</c> (local time). Special tokens are those named in
/// tokenizer_config.json / special_tokens_map.json; a tokenizer class's built-in defaults for tokens the files leave
/// out are not added.</para>
/// </summary>
public sealed class ChatTemplate
{
    public const string TemplateFile = "chat_template.jinja";
    public const string AdditionalTemplatesDirectory = "additional_chat_templates";
    /// <summary>The placeholder of the paper's prompt templates, filled in later by <c>Search.PromptTemplate</c>.</summary>
    public const string RawPromptPlaceholder = "{raw_prompt}";

    readonly JinjaTemplate _template;
    readonly IReadOnlyDictionary<string, string> _specialTokens;
    readonly IReadOnlyList<string> _additionalSpecialTokens;
    readonly TimeProvider _clock;

    /// <param name="text">The Jinja source of the template.</param>
    /// <param name="source">Where it came from, named in errors (a file, or "tokenizer_config.json (chat_template)").</param>
    /// <param name="specialTokens">Role → token text, e.g. "bos_token" → "&lt;s&gt;".</param>
    /// <param name="additionalSpecialTokens">The tokenizer's additional_special_tokens, passed when not empty.</param>
    /// <param name="clock">The time strftime_now reads (local time of the provider); the system clock by default.</param>
    public ChatTemplate(string text, string source, IReadOnlyDictionary<string, string> specialTokens,
        IReadOnlyList<string>? additionalSpecialTokens = null, TimeProvider? clock = null)
    {
        Text = text;
        Source = source;
        _template = JinjaTemplate.Parse(text, source);
        _specialTokens = specialTokens;
        _additionalSpecialTokens = additionalSpecialTokens ?? [];
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The Jinja source.</summary>
    public string Text { get; }

    /// <summary>Where the template came from, as named in errors.</summary>
    public string Source { get; }

    public IReadOnlyDictionary<string, string> SpecialTokens => _specialTokens;

    /// <summary>True when the model directory has a chat template (chat_template.jinja or tokenizer_config.json's "chat_template").</summary>
    public static bool Exists(string modelDirectory) =>
        File.Exists(Path.Combine(modelDirectory, TemplateFile))
        || Directory.Exists(Path.Combine(modelDirectory, AdditionalTemplatesDirectory))
        || TokenizerSettings.Load(modelDirectory).ChatTemplates is not null;

    /// <summary>Loads the chat template of a model directory (see the class summary); none is an error naming the directory.</summary>
    public static ChatTemplate Load(string modelDirectory, TimeProvider? clock = null)
    {
        if (!Directory.Exists(modelDirectory)) throw new InvalidInputException($"{modelDirectory}: model directory does not exist");
        var settings = TokenizerSettings.Load(modelDirectory);
        var (text, source) = SelectTemplate(modelDirectory, settings);
        var tokens = settings.SpecialTokens.ToDictionary(p => p.Key, p => p.Value.Content);
        return new ChatTemplate(text, source, tokens, settings.AdditionalSpecialTokens.Select(t => t.Content).ToList(), clock);
    }

    static (string Text, string Source) SelectTemplate(string directory, TokenizerSettings settings)
    {
        // Files first: transformers reads chat_template.jinja as "default" and additional_chat_templates/*.jinja by
        // name, and they replace whatever tokenizer_config.json says.
        var named = new List<(string Name, string Text, string Source)>();
        string file = Path.Combine(directory, TemplateFile);
        if (File.Exists(file)) named.Add(("default", ReadText(file), file));
        string extra = Path.Combine(directory, AdditionalTemplatesDirectory);
        if (Directory.Exists(extra))
            foreach (string path in Directory.GetFiles(extra, "*.jinja").Order(StringComparer.Ordinal))
                named.Add((Path.GetFileNameWithoutExtension(path), ReadText(path), path));

        if (named.Count == 0 && settings.ChatTemplates is { } fromConfig)
        {
            if (fromConfig is [{ Name: null } single]) return (single.Template, $"{settings.ConfigPath} (chat_template)");
            named.AddRange(fromConfig.Select(t => (t.Name!, t.Template, $"{settings.ConfigPath} (chat_template \"{t.Name}\")")));
        }
        if (named.Count == 0)
            throw new InvalidInputException($"{directory}: the model has no chat template (looked for {TemplateFile} and \"chat_template\" in {TokenizerSettings.ConfigFile})");
        if (named.Count == 1 && named[0].Name == "default") return (named[0].Text, named[0].Source);
        foreach (var (name, text, source) in named)
            if (name == "default") return (text, source);
        throw new InvalidInputException($"{directory}: the model has several chat templates ({string.Join(", ", named.Select(n => n.Name))}) and none named \"default\"");
    }

    static string ReadText(string path)
    {
        try { return Data.StrictUtf8.ReadAllText(path); }
        catch (IOException e) { throw new InvalidInputException($"{path}: cannot be read: {e.Message}", e); }
    }

    /// <summary>The prompt text for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> it ends where the assistant's reply begins.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var conversation = new List<object?>();
        foreach (var message in messages)
        {
            var turn = new PyDict { ["role"] = message.Role, ["content"] = message.Content };
            conversation.Add(turn);
        }
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (role, token) in _specialTokens) variables[role] = token;
        if (_additionalSpecialTokens.Count > 0) variables["additional_special_tokens"] = _additionalSpecialTokens.Cast<object?>().ToList();
        variables["messages"] = conversation;
        variables["tools"] = null;
        variables["documents"] = null;
        variables["add_generation_prompt"] = addGenerationPrompt;
        return RenderRaw(_template, variables, _clock);
    }

    /// <summary>Renders with transformers' two globals added: raise_exception(message) and strftime_now(format).</summary>
    internal static string RenderRaw(JinjaTemplate template, IReadOnlyDictionary<string, object?> variables, TimeProvider clock)
    {
        var all = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["raise_exception"] = new JinjaCallable("raise_exception", args =>
                throw new JinjaRuntimeError($"the template raised an error: {PythonValues.ToStr(args.Allow(1).Get(0, "message"))}")),
            ["strftime_now"] = new JinjaCallable("strftime_now", args =>
                PythonStrftime.Format(clock.GetLocalNow().DateTime, PythonValues.ToStr(args.Allow(1).Required(0, "format")))),
        };
        foreach (var (name, value) in variables) all[name] = value;
        return template.Render(all);
    }

    /// <summary>
    /// The paper's prompt template: the conversation [system (when <paramref name="systemPrompt"/> is not null; ""
    /// allowed), user "{raw_prompt}"] rendered with add_generation_prompt=True, as the reference implementation builds
    /// it before <c>.format(raw_prompt=…)</c>. The result contains the literal <see cref="RawPromptPlaceholder"/>.
    /// </summary>
    public string PromptTemplateFor(string? systemPrompt)
    {
        var messages = new List<ChatMessage>();
        if (systemPrompt is not null) messages.Add(new ChatMessage("system", systemPrompt));
        messages.Add(new ChatMessage("user", RawPromptPlaceholder));
        string rendered = Render(messages, addGenerationPrompt: true);
        if (!rendered.Contains(RawPromptPlaceholder, StringComparison.Ordinal))
            throw new InvalidInputException($"{Source}: the rendered prompt template lost the placeholder {RawPromptPlaceholder}: \"{rendered}\"");
        return rendered;
    }
}

/// <summary>Python's <c>datetime.strftime</c> for the directives chat templates use, in the C locale.</summary>
internal static class PythonStrftime
{
    static readonly string[] Days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    public static string Format(DateTime time, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length) { sb.Append(format[i]); continue; }
            char directive = format[++i];
            sb.Append(directive switch
            {
                'a' => Days[(int)time.DayOfWeek][..3],
                'A' => Days[(int)time.DayOfWeek],
                'b' or 'h' => Months[time.Month - 1][..3],
                'B' => Months[time.Month - 1],
                'd' => time.Day.ToString("00", CultureInfo.InvariantCulture),
                'e' => time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2),
                'm' => time.Month.ToString("00", CultureInfo.InvariantCulture),
                'y' => (time.Year % 100).ToString("00", CultureInfo.InvariantCulture),
                'Y' => time.Year.ToString(CultureInfo.InvariantCulture),
                'H' => time.Hour.ToString("00", CultureInfo.InvariantCulture),
                'I' => ((time.Hour + 11) % 12 + 1).ToString("00", CultureInfo.InvariantCulture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'M' => time.Minute.ToString("00", CultureInfo.InvariantCulture),
                'S' => time.Second.ToString("00", CultureInfo.InvariantCulture),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture),
                'j' => time.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                'w' => ((int)time.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new JinjaRuntimeError($"strftime_now: unsupported directive %{directive}"),
            });
        }
        return sb.ToString();
    }
}
