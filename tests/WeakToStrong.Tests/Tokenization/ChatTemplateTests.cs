using WeakToStrong.Tokenization;
using WeakToStrong.Tokenization.Jinja;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>Template errors name the template and the line:column; unsupported constructs are refused, not guessed.</summary>
public class JinjaErrorTests
{
    const string Name = "models/x/chat_template.jinja";

    static string ParseError(string source) => Assert.Throws<InvalidInputException>(() => JinjaTemplate.Parse(source, Name)).Message;

    static string RenderError(string source, Dictionary<string, object?>? variables = null) =>
        Assert.Throws<InvalidInputException>(() => JinjaTemplate.Parse(source, Name).Render(variables ?? [])).Message;

    [Theory]
    [InlineData("Hello\n  {% include 'other.jinja' %}", "2:6: unsupported construct '{% include %}'")]
    [InlineData("{% extends 'base' %}", "1:4: unsupported construct '{% extends %}'")]
    [InlineData("{% raw %}x{% endraw %}", "1:4: unsupported construct '{% raw %}'")]
    [InlineData("{% call foo() %}x{% endcall %}", "1:4: unsupported construct '{% call %}'")]
    [InlineData("ab\n{% for x in y recursive %}{% endfor %}", "2:15: unsupported construct: recursive for loops")]
    [InlineData("{% frobnicate %}", "1:4: unknown tag 'frobnicate'")]
    [InlineData("{% if x %}open", "1:15: the template ended where {% elif %} or {% else %} or {% endif %} was expected")]
    [InlineData("x {{ a + }} y", "1:10: expected an expression, found '}}'")]
    [InlineData("{{ 'unterminated }}", "1:4: the string is not closed")]
    [InlineData("{# never closed", "1:1: the comment is not closed with #}")]
    [InlineData("{% break %}", "1:4: 'break' outside a for loop")]
    [InlineData("{{ x ]] }}", "1:6: unexpected ']'")]
    public void Syntax_errors_name_the_template_and_the_place(string source, string expected) =>
        Assert.StartsWith($"{Name}:{expected}", ParseError(source));

    [Fact]
    public void Unknown_filter_is_named_at_its_position() =>
        Assert.Equal($"{Name}:1:8: unsupported filter 'frobnicate' (chat templates are rendered by a Jinja subset; see Tokenization/Jinja)",
            RenderError("{{ x | frobnicate }}", new() { ["x"] = "a" }));

    [Fact]
    public void Attribute_of_undefined_is_an_error_like_jinjas_default_undefined()
    {
        var messages = new List<object?> { new PyDict { ["role"] = "user" } };
        Assert.Equal($"{Name}:2:15: 'list object' has no attribute 5", RenderError("ok\n{{ messages[5].role }}", new() { ["messages"] = messages }));
        Assert.Equal($"{Name}:1:11: 'nothing' is undefined", RenderError("{{ nothing.attr }}"));
    }

    [Fact]
    public void Undefined_is_falsy_prints_empty_and_iterates_empty()
    {
        string rendered = JinjaTemplate.Parse("[{{ nothing }}]{% if not nothing %}F{% endif %}{% for x in nothing %}x{% endfor %}{{ nothing | length }}", Name).Render(new Dictionary<string, object?>());
        Assert.Equal("[]F0", rendered);
    }

    [Fact]
    public void Type_errors_are_positioned() =>
        Assert.Equal($"{Name}:1:8: can only concatenate str (not \"int\") to str", RenderError("{{ 'a' + 1 }}"));

    [Fact]
    public void Sandboxed_templates_cannot_modify_their_inputs() =>
        Assert.Contains("unsafe", RenderError("{% set l = [1] %}{{ l.append(2) }}"));

    [Fact]
    public void Raise_exception_reports_the_templates_message_where_it_was_called()
    {
        var template = new ChatTemplate("{% if messages[0].role == 'system' %}\n  {{ raise_exception('System role not supported') }}\n{% endif %}",
            Name, new Dictionary<string, string>());
        var error = Assert.Throws<InvalidInputException>(() => template.Render([new ChatMessage("system", "s")]));
        Assert.Equal($"{Name}:2:21: the template raised an error: System role not supported", error.Message);
    }
}

/// <summary>Loading a model directory's chat template as transformers does, and the prompt templates the experiments build from it.</summary>
public class ChatTemplateTests
{
    const string Zephyr = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

    static string Fixture(string name) => File.ReadAllText(RepositoryPaths.Fixture("chat-templates", name));

    static string Config(object chatTemplate, string extra = "") =>
        System.Text.Json.JsonSerializer.Serialize(chatTemplate) is var json ? $$"""{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "chat_template": {{json}}{{extra}}}""" : "";

    [Fact]
    public void Config_string_template_renders_with_special_tokens_written_as_objects_or_strings()
    {
        using var directory = new TemporaryModelDirectory().Write("tokenizer_config.json", Config("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"));
        var template = ChatTemplate.Load(directory.Path);
        Assert.Equal("<s>hi</s>", template.Render([new ChatMessage("user", "hi")]));
        Assert.Equal($"{Path.Combine(directory.Path, "tokenizer_config.json")} (chat_template)", template.Source);
    }

    [Fact]
    public void Special_tokens_map_fills_roles_the_config_leaves_out()
    {
        using var directory = new TemporaryModelDirectory()
            .Write("tokenizer_config.json", """{"chat_template": "{{ bos_token }}|{{ unk_token }}"}""")
            .Write("special_tokens_map.json", """{"bos_token": "<s>", "unk_token": {"content": "<unk>"}}""");
        Assert.Equal("<s>|<unk>", ChatTemplate.Load(directory.Path).Render([]));
    }

    [Fact]
    public void Chat_template_jinja_wins_over_the_config_and_errors_name_it()
    {
        using var directory = new TemporaryModelDirectory()
            .Write("tokenizer_config.json", Config("from config"))
            .Write("chat_template.jinja", "from file {{ bos_token }}\n{{ x.y }}\n");
        var template = ChatTemplate.Load(directory.Path);
        string file = Path.Combine(directory.Path, "chat_template.jinja");
        Assert.Equal(file, template.Source);
        var error = Assert.Throws<InvalidInputException>(() => template.Render([]));
        Assert.Equal($"{file}:2:5: 'x' is undefined", error.Message);
    }

    [Fact]
    public void Named_templates_use_default()
    {
        using var directory = new TemporaryModelDirectory().Write("tokenizer_config.json",
            Config(new[] { new { name = "tool_use", template = "tools" }, new { name = "default", template = "plain {{ messages | length }}" } }));
        var template = ChatTemplate.Load(directory.Path);
        Assert.Equal("plain 1", template.Render([new ChatMessage("user", "x")]));
        Assert.EndsWith("(chat_template \"default\")", template.Source);
    }

    [Fact]
    public void Named_templates_without_default_are_an_error_listing_them()
    {
        using var directory = new TemporaryModelDirectory().Write("tokenizer_config.json", Config(new[] { new { name = "tool_use", template = "tools" }, new { name = "rag", template = "rag" } }));
        var error = Assert.Throws<InvalidInputException>(() => ChatTemplate.Load(directory.Path));
        Assert.Contains("tool_use, rag", error.Message);
        Assert.Contains("\"default\"", error.Message);
    }

    [Fact]
    public void Additional_template_files_sit_beside_chat_template_jinja()
    {
        using var directory = new TemporaryModelDirectory().Write("chat_template.jinja", "main");
        Directory.CreateDirectory(Path.Combine(directory.Path, "additional_chat_templates"));
        directory.Write(Path.Combine("additional_chat_templates", "tool_use.jinja"), "tools");
        Assert.Equal("main", ChatTemplate.Load(directory.Path).Render([]));
    }

    [Fact]
    public void A_model_without_a_template_is_an_error_naming_the_directory()
    {
        using var directory = new TemporaryModelDirectory().Write("tokenizer_config.json", """{"eos_token": "</s>"}""");
        Assert.False(ChatTemplate.Exists(directory.Path));
        var error = Assert.Throws<InvalidInputException>(() => ChatTemplate.Load(directory.Path));
        Assert.StartsWith($"{directory.Path}: the model has no chat template", error.Message);
    }

    [Fact]
    public void A_malformed_chat_template_entry_names_the_config()
    {
        using var directory = new TemporaryModelDirectory().Write("tokenizer_config.json", """{"chat_template": 3}""");
        var error = Assert.Throws<InvalidInputException>(() => ChatTemplate.Load(directory.Path));
        Assert.Contains("tokenizer_config.json: \"chat_template\" should be a string or a list", error.Message);
    }

    [Fact]
    public void Prompt_templates_match_the_paper_configs()
    {
        // experiments/paper/alpacaeval-llama3.yaml writes these by hand; rendering the real templates without a system turn gives them.
        var zephyr = new ChatTemplate(Fixture("zephyr-7b-beta.jinja"), "zephyr", new Dictionary<string, string> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" });
        Assert.Equal("<|user|>\n{raw_prompt}</s>\n<|assistant|>\n", zephyr.PromptTemplateFor(null));
        var llama3 = new ChatTemplate(Fixture("llama-3-8b-instruct.jinja"), "llama3", new Dictionary<string, string> { ["bos_token"] = "<|begin_of_text|>" });
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{raw_prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", llama3.PromptTemplateFor(null));
    }

    [Fact]
    public void Prompt_template_with_an_empty_system_prompt_keeps_the_system_turn()
    {
        // The paper's reference implementation renders [{"role": "system", "content": ""}, {"role": "user", "content": "{raw_prompt}"}].
        var zephyr = new ChatTemplate(Zephyr, "zephyr", new Dictionary<string, string> { ["eos_token"] = "</s>" });
        Assert.Equal("<|system|>\n</s>\n<|user|>\n{raw_prompt}</s>\n<|assistant|>\n", zephyr.PromptTemplateFor(""));
        var llama2 = new ChatTemplate(Fixture("llama-2-7b-chat.jinja"), "llama2", new Dictionary<string, string> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" });
        Assert.Equal("<s>[INST] <<SYS>>\n\n<</SYS>>\n\n{raw_prompt} [/INST]", llama2.PromptTemplateFor(""));
    }

    [Fact]
    public void A_template_that_drops_the_placeholder_is_an_error()
    {
        var template = new ChatTemplate("{{ messages | length }}", "t.jinja", new Dictionary<string, string>());
        Assert.Contains("lost the placeholder {raw_prompt}", Assert.Throws<InvalidInputException>(() => template.PromptTemplateFor(null)).Message);
    }

    [Fact]
    public void Strftime_now_reads_the_given_clock() =>
        Assert.Equal("26 Jul 2024 10:30", new ChatTemplate("{{ strftime_now('%d %b %Y %H:%M') }}", "t", new Dictionary<string, string>(),
            clock: new ChatTemplateConformanceTests.FixedClock()).Render([]));
}
