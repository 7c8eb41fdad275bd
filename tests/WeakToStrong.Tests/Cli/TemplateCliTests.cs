using System.Text.Json;
using WeakToStrong.Tests.Tokenization;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Cli;

/// <summary>`wts template` on a GPT-2 tokenizer given zephyr-7b-beta's real chat template and its role tokens as added special tokens.</summary>
public sealed class TemplateCliTests : IDisposable
{
    readonly TemporaryModelDirectory _model = new TemporaryModelDirectory()
        .CopyFrom(RepositoryPaths.Fixture("tokenizers", "gpt2"), "vocab.json", "merges.txt");

    public TemplateCliTests()
    {
        var config = new Dictionary<string, object>
        {
            ["bos_token"] = "<|endoftext|>",
            ["eos_token"] = new Dictionary<string, object> { ["content"] = "<|endoftext|>", ["special"] = true },
            ["unk_token"] = "<|endoftext|>",
            ["added_tokens_decoder"] = new Dictionary<string, object>
            {
                ["50257"] = new Dictionary<string, object> { ["content"] = "<|user|>", ["special"] = true },
                ["50258"] = new Dictionary<string, object> { ["content"] = "<|assistant|>", ["special"] = true },
                ["50259"] = new Dictionary<string, object> { ["content"] = "<|system|>", ["special"] = true },
            },
            ["chat_template"] = File.ReadAllText(RepositoryPaths.Fixture("chat-templates", "zephyr-7b-beta.jinja")),
        };
        _model.Write("tokenizer_config.json", JsonSerializer.Serialize(config));
    }

    public void Dispose() => _model.Dispose();

    [Fact]
    public void Prints_exactly_the_rendered_prompt()
    {
        var run = Wts.Run("template", "--model", _model.Path, "--system", "Be brief.", "--user", "Hi there");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal("<|system|>\nBe brief.<|endoftext|>\n<|user|>\nHi there<|endoftext|>\n<|assistant|>\n", run.Stdout);
    }

    [Fact]
    public void Json_gives_the_text_and_its_ids_with_special_tokens_matched_whole()
    {
        var run = Wts.Run("template", "--model", _model.Path, "--system", "", "--user", "Hi", "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        string text = json.RootElement.GetProperty("text").GetString()!;
        Assert.Equal("<|system|>\n<|endoftext|>\n<|user|>\nHi<|endoftext|>\n<|assistant|>\n", text);
        int[] ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(HfTokenizer.Load(_model.Path).Encode(text, addSpecialTokens: false), ids);
        Assert.Equal([50259, 198, 50256, 198, 50257, 198], ids[..6]);
        Assert.Equal(50258, ids[^2]);
    }

    [Fact]
    public void Messages_file_gives_the_conversation()
    {
        string file = Path.Combine(_model.Path, "chat.json");
        File.WriteAllText(file, """[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]""");

        var run = Wts.Run("template", "--model", _model.Path, "--messages", file);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal("<|user|>\na<|endoftext|>\n<|assistant|>\nb<|endoftext|>\n<|user|>\nc<|endoftext|>\n<|assistant|>\n", run.Stdout);
    }

    [Theory]
    [InlineData("""[{"role": "user"}]""", "messages[0] has no \"content\"")]
    [InlineData("""[{"role": "user", "content": 3}]""", "messages[0].content should be a string, found Number")]
    [InlineData("""{"role": "user", "content": "x"}""", "expected a JSON array")]
    [InlineData("""[{"role": "user", "content": "x", "name": "n"}]""", "messages[0] has key \"name\"")]
    [InlineData("""[{"role": "user", """, "malformed JSON")]
    public void A_bad_messages_file_is_exit_code_2_naming_the_file_and_the_problem(string contents, string expected)
    {
        string file = Path.Combine(_model.Path, "bad.json");
        File.WriteAllText(file, contents);

        var run = Wts.Run("template", "--model", _model.Path, "--messages", file);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"wts: error: {file}: ", run.Stderr);
        Assert.Contains(expected, run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void A_model_without_a_chat_template_is_exit_code_2_naming_the_directory()
    {
        string directory = RepositoryPaths.Fixture("tokenizers", "gpt2");
        var run = Wts.Run("template", "--model", directory, "--user", "x");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"{directory}: the model has no chat template", run.Stderr);
    }

    [Fact]
    public void User_and_messages_together_are_refused()
    {
        var run = Wts.Run("template", "--model", _model.Path, "--user", "x", "--messages", "m.json");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("exactly one of --user and --messages", run.Stderr);
    }

    [Fact]
    public void A_template_error_names_the_config_and_the_place()
    {
        var raising = new Dictionary<string, object> { ["chat_template"] = "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" };
        _model.Write("tokenizer_config.json", JsonSerializer.Serialize(raising));

        var run = Wts.Run("template", "--model", _model.Path, "--system", "s", "--user", "x");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"wts: error: {Path.Combine(_model.Path, "tokenizer_config.json")} (chat_template):1:56: the template raised an error: System role not supported", run.Stderr.Trim());
    }
}
