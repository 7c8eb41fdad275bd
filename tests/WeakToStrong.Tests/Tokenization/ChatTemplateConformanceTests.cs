using System.Diagnostics;
using System.Text.Json;
using WeakToStrong.Tokenization;
using WeakToStrong.Tokenization.Jinja;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>
/// Our Jinja interpreter against two references: Python's Jinja2 set up as transformers sets it up (the engine
/// apply_chat_template renders with; goldens.python.json) and Hugging Face's JavaScript engine @huggingface/jinja
/// (goldens.json). Real chat templates (tests/fixtures/chat-templates, sources in its README) on conversations, and
/// small snippets for filters, tests and statements, compared byte for byte. We must equal Python everywhere, and
/// JavaScript everywhere except where it differs from Python, each such case listed with its reason in
/// engine-differences.json (the list must be exactly the cases where the two references disagree).
/// </summary>
public class ChatTemplateConformanceTests
{
    static readonly string Fixtures = RepositoryPaths.Fixture("chat-templates");

    /// <summary>The clock both reference scripts give strftime_now: 2024-07-26 10:30:00, in UTC as local time.</summary>
    internal sealed class FixedClock() : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2024, 7, 26, 10, 30, 0, TimeSpan.Zero);
        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }

    internal sealed record TemplateFixture(string Name, string File, Dictionary<string, string> SpecialTokens);

    internal sealed record Conversation(string Name, bool AddGenerationPrompt, List<ChatMessage> Messages);

    internal sealed record EngineDifference(string Kind, string Name, string Reason);

    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    static T Read<T>(string file) => JsonSerializer.Deserialize<T>(File.ReadAllText(Path.Combine(Fixtures, file)), Snake)!;

    static readonly List<TemplateFixture> Templates = Read<List<TemplateFixture>>("templates.json");
    static readonly List<Conversation> Conversations = Read<List<Conversation>>("conversations.json");
    static readonly JsonElement SnippetSources = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures, "snippets.json"))).RootElement;
    static readonly HashSet<string> JavaScriptDiffers = Read<List<EngineDifference>>("engine-differences.json").Select(d => $"{d.Kind} {d.Name}").ToHashSet();
    static readonly Outcomes Python = Outcomes.Read(Path.Combine(Fixtures, "goldens.python.json"));
    static readonly Outcomes JavaScript = Outcomes.Read(Path.Combine(Fixtures, "goldens.json"));

    /// <summary>The outcomes a reference engine recorded, keyed "chat TEMPLATE × CONVERSATION" or "snippet NAME".</summary>
    internal sealed class Outcomes(Dictionary<string, JsonElement> byCase)
    {
        public IReadOnlyDictionary<string, JsonElement> ByCase => byCase;

        public static Outcomes Read(string path)
        {
            var root = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
            var cases = new Dictionary<string, JsonElement>();
            foreach (var chat in root.GetProperty("chats").EnumerateArray())
                cases[ChatKey(chat.GetProperty("template").GetString()!, chat.GetProperty("conversation").GetString()!)] = chat;
            foreach (var snippet in root.GetProperty("snippets").EnumerateArray()) cases[$"snippet {snippet.GetProperty("name").GetString()}"] = snippet;
            return new Outcomes(cases);
        }

        /// <summary>The outcome without its key fields, for comparing two engines.</summary>
        public string Result(string key) => string.Join(",", byCase[key].EnumerateObject()
            .Where(p => p.Name is "output" or "raised" or "error").Select(p => p.Name == "error" ? "error" : $"{p.Name}={p.Value.GetRawText()}"));
    }

    static string ChatKey(string template, string conversation) => $"chat {template} × {conversation}";

    public static TheoryData<string, string> Chats()
    {
        var data = new TheoryData<string, string>();
        foreach (var template in Templates)
            foreach (var conversation in Conversations) data.Add(template.Name, conversation.Name);
        return data;
    }

    public static TheoryData<string> Snippets()
    {
        var data = new TheoryData<string>();
        foreach (var snippet in SnippetSources.EnumerateArray()) data.Add(snippet.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Chats))]
    public void Chat_template_renders_as_transformers_does(string template, string conversation)
    {
        string key = ChatKey(template, conversation);
        var render = RenderChat(template, conversation, out string source);
        CheckOutcome(Python.ByCase[key], render, source);
        if (!JavaScriptDiffers.Contains(key)) CheckOutcome(JavaScript.ByCase[key], render, source);
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Snippet_renders_as_transformers_does(string snippet)
    {
        string key = $"snippet {snippet}";
        var render = RenderSnippet(snippet, out string source);
        CheckOutcome(Python.ByCase[key], render, source);
        if (!JavaScriptDiffers.Contains(key)) CheckOutcome(JavaScript.ByCase[key], render, source);
    }

    [Fact]
    public void The_listed_engine_differences_are_exactly_where_the_references_disagree()
    {
        var expectedCases = Templates.SelectMany(t => Conversations.Select(c => ChatKey(t.Name, c.Name)))
            .Concat(SnippetSources.EnumerateArray().Select(s => $"snippet {s.GetProperty("name").GetString()}")).Order().ToList();
        Assert.Equal(expectedCases, Python.ByCase.Keys.Order().ToList());
        Assert.Equal(expectedCases, JavaScript.ByCase.Keys.Order().ToList());
        var disagreements = expectedCases.Where(key => Python.Result(key) != JavaScript.Result(key)).ToList();
        Assert.Equal(JavaScriptDiffers.Order().ToList(), disagreements);
    }

    [NodeReferenceFact("@huggingface/jinja")]
    public void Live_huggingface_jinja_reproduces_the_committed_goldens() =>
        CompareLive(output => NodeReference.Check(NodeReference.Run("tests/reference/chat_templates/render.mjs", "--out", output)), JavaScript);

    [PythonJinjaFact]
    public void Live_python_jinja2_reproduces_the_committed_goldens() =>
        CompareLive(output => PythonJinja.Run("tests/reference/chat_templates/render_python.py", "--out", output), Python);

    static void CompareLive(Action<string> writeGoldens, Outcomes committed)
    {
        string output = Path.Combine(Path.GetTempPath(), $"w2s-chat-goldens-{Guid.NewGuid():N}.json");
        try
        {
            writeGoldens(output);
            var live = Outcomes.Read(output);
            Assert.Equal(committed.ByCase.Keys.Order(), live.ByCase.Keys.Order());
            foreach (string key in committed.ByCase.Keys) Assert.True(committed.Result(key) == live.Result(key), $"{key}: committed {committed.Result(key)}, live {live.Result(key)}");
        }
        finally
        {
            File.Delete(output);
        }
    }

    static Func<string> RenderChat(string templateName, string conversationName, out string source)
    {
        var fixture = Templates.Single(t => t.Name == templateName);
        var conversation = Conversations.Single(c => c.Name == conversationName);
        source = Path.Combine(Fixtures, fixture.File);
        var template = new ChatTemplate(File.ReadAllText(source), source, fixture.SpecialTokens, clock: new FixedClock());
        return () => template.Render(conversation.Messages, conversation.AddGenerationPrompt);
    }

    static Func<string> RenderSnippet(string name, out string source)
    {
        var snippet = SnippetSources.EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);
        var variables = new Dictionary<string, object?>();
        if (snippet.TryGetProperty("variables", out var given))
            foreach (var property in given.EnumerateObject()) variables[property.Name] = PythonValues.FromJson(property.Value);
        // The snippets use the same globals as a chat template: render them through one, with the fixed clock.
        string text = snippet.GetProperty("template").GetString()!;
        string where = source = $"snippet {name}";
        return () => ChatTemplate.RenderRaw(JinjaTemplate.Parse(text, where), variables, new FixedClock());
    }

    /// <summary>An output must match exactly; a template's raise_exception must raise with its message; an engine error must be an error.</summary>
    static void CheckOutcome(JsonElement golden, Func<string> render, string source)
    {
        if (golden.TryGetProperty("output", out var output))
        {
            Assert.Equal(output.GetString(), render());
            return;
        }
        var error = Assert.Throws<InvalidInputException>(() => render());
        Assert.StartsWith(source + ":", error.Message);
        if (golden.TryGetProperty("raised", out var raised)) Assert.EndsWith("the template raised an error: " + raised.GetString(), error.Message);
    }
}

/// <summary>A fact that is skipped, saying why, when no python3 with jinja2 ≥ 3.1 is at hand.</summary>
public sealed class PythonJinjaFactAttribute : FactAttribute
{
    public PythonJinjaFactAttribute()
    {
        if (PythonJinja.Unavailable is { } why) Skip = $"Python jinja2 reference unavailable: {why}";
    }
}

/// <summary>Runs tests/reference/chat_templates/render_python.py with a python3 that has jinja2 (Debian: python3-jinja2).</summary>
internal static class PythonJinja
{
    static readonly Lazy<string?> WhyUnavailable = new(() =>
    {
        try
        {
            var (code, _, error) = Execute("-c", "import jinja2, sys; sys.exit(0 if tuple(map(int, jinja2.__version__.split('.')[:2])) >= (3, 1) else 1)");
            return code == 0 ? null : $"python3 cannot import jinja2 >= 3.1 (apt-get install python3-jinja2): {error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"python3 is not on PATH ({e.Message})";
        }
    });

    public static string? Unavailable => WhyUnavailable.Value;

    public static void Run(params string[] arguments)
    {
        var (code, stdout, stderr) = Execute(arguments);
        if (code != 0) throw new InvalidOperationException($"python3 {string.Join(' ', arguments)} failed ({code}): {stderr}{stdout}");
    }

    static (int Code, string Stdout, string Stderr) Execute(params string[] arguments) => ReferenceProcess.Execute("python3", arguments);
}
