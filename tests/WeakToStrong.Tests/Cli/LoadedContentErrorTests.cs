using System.Security.Cryptography;
using System.Text.Json.Nodes;
using WeakToStrong.Models.Safetensors;
using WeakToStrong.Tests.Search;

namespace WeakToStrong.Tests.Cli;

/// <summary>
/// What a command loads is checked before it is used (issue 13, item 3): non-finite weights, a tokenizer with ids beyond
/// the model's vocabulary, malformed UTF-8 in any text file, an over-long dataset prompt. Each bad input, made in a copy of
/// a real model directory or dataset, ends in exit code 2 with one `wts: error:` line naming the tensor / file / line,
/// no stack trace, every pre-existing file unchanged and no run directory created.
/// </summary>
public sealed class LoadedContentErrorTests(TinyWorld world) : IClassFixture<TinyWorld>, IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("wts-loaded-content-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    // ---- non-finite weights

    [Theory]
    [InlineData("logprobs")]
    [InlineData("generate")]
    [InlineData("search")]
    public void NanWeightsAreRefusedNamingTheTensor(string command)
    {
        string model = CopyModel(world.Dir("large"), "nan-large");
        string tensor = Poison(model, ".h.0.attn.c_attn.weight", float.NaN);

        AssertRefused(RunOn(command, model), $"{tensor} in {Path.Combine(model, "model.safetensors")} holds 1 NaN and 0 infinite value(s)");
    }

    [Fact]
    public void InfiniteWeightsAreRefusedNamingTheTensor()
    {
        string model = CopyModel(world.Dir("large"), "inf-large");
        string tensor = Poison(model, "ln_f.weight", float.NegativeInfinity);

        AssertRefused(RunOn("logprobs", model), $"{tensor} in {Path.Combine(model, "model.safetensors")} holds 0 NaN and 1 infinite value(s)");
    }

    [Fact]
    public void NanWeightsOfARewardModelAreRefused()
    {
        string model = CopyModel(RepositoryPaths.Fixture("distilbert-cls"), "nan-reward");
        string tensor = Poison(model, "layer.0.attention.q_lin.weight", float.NaN);

        AssertRefused(() => Wts.Run("reward", "--model", model, "--text", "a good film"),
            $"{tensor} in {Path.Combine(model, "model.safetensors")} holds 1 NaN and 0 infinite value(s)");
    }

    // ---- tokenizer ids beyond the model's vocabulary

    [Theory]
    [InlineData("logprobs")]
    [InlineData("generate")]
    [InlineData("search")]
    public void ATokenizerWithIdsBeyondVocabSizeIsRefused(string command)
    {
        string model = CopyModel(world.Dir("large"), "added-large");
        int vocabSize = VocabSize(model);
        File.WriteAllText(Path.Combine(model, "added_tokens.json"), $$"""{"<|extra|>": {{vocabSize}}}""");

        AssertRefused(RunOn(command, model),
            $"{Path.Combine(model, "vocab.json")} with its added tokens: the tokenizer has 1 token id(s) at or beyond {vocabSize} (up to {vocabSize}, added token \"<|extra|>\"), " +
            $"but {Path.Combine(model, "config.json")} has vocab_size {vocabSize}");
    }

    [Fact]
    public void ARewardModelsTokenizerWithIdsBeyondVocabSizeIsRefused()
    {
        string model = CopyModel(RepositoryPaths.Fixture("distilbert-cls"), "added-reward");
        File.WriteAllText(Path.Combine(model, "added_tokens.json"), """{"[EXTRA]": 100}""");

        AssertRefused(() => Wts.Run("reward", "--model", model, "--text", "a good film"),
            $"{Path.Combine(model, "vocab.txt")} with its added tokens: the tokenizer has 1 token id(s) at or beyond 100 (up to 100, added token \"[EXTRA]\"), " +
            $"but {Path.Combine(model, "config.json")} has vocab_size 100");
    }

    [Fact]
    public void GivenIdsInRangeNeedNoTokenizerCheck()
    {
        string model = CopyModel(world.Dir("large"), "added-ids");
        File.WriteAllText(Path.Combine(model, "added_tokens.json"), $$"""{"<|extra|>": {{VocabSize(model)}}}""");

        var run = Wts.Run("logprobs", "--model", model, "--ids", "5,6,7", "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
    }

    // ---- malformed UTF-8

    [Fact]
    public void MalformedUtf8InATokenizerFileIsRefusedAtItsLine()
    {
        string model = CopyModel(world.Dir("large"), "utf8-tokenizer");
        string file = Path.Combine(model, "tokenizer_config.json");
        string text = File.ReadAllText(file);
        int at = text.IndexOf("\"errors\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        var bytes = System.Text.Encoding.UTF8.GetBytes(text[..at]).Concat(new byte[] { 0xFF }).Concat(System.Text.Encoding.UTF8.GetBytes(text[at..])).ToArray();
        File.WriteAllBytes(file, bytes);
        var (line, column) = LineColumn(text, at);

        AssertRefused(RunOn("generate", model), $"{file}:{line}:{column}: invalid UTF-8 (byte 0xFF)");
    }

    [Fact]
    public void MalformedUtf8InAConfigJsonIsRefusedAtItsLine()
    {
        string model = CopyModel(world.Dir("large"), "utf8-config");
        string file = Path.Combine(model, "config.json");
        File.WriteAllBytes(file, [.. File.ReadAllBytes(file).Take(1), (byte)'\n', (byte)'"', 0xC3, (byte)'"', (byte)':', (byte)'1', (byte)',', .. File.ReadAllBytes(file).Skip(1)]);

        AssertRefused(RunOn("logprobs", model), $"{file}:2:2: invalid UTF-8 (byte 0xC3)");
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("run")]
    public void MalformedUtf8InAYamlConfigIsRefusedAtItsLine(string command)
    {
        string config = Path.Combine(scratch, "bad.yaml");
        File.WriteAllBytes(config, [.. System.Text.Encoding.UTF8.GetBytes("name: x\ntask: sentiment\n# caf"), 0xE9, .. System.Text.Encoding.UTF8.GetBytes("\n")]);
        string output = Path.Combine(scratch, "out");

        AssertRefused(() => command == "run" ? Wts.Run("run", config, "--output", output) : Wts.Run("validate", config), $"{config}:3:6: invalid UTF-8 (byte 0xE9)");
        Assert.False(Directory.Exists(output));
    }

    // ---- length refusals before anything is written

    [Fact]
    public void AnOverlongDatasetPromptIsRefusedAtItsLineBeforeTheRunDirectoryExists()
    {
        string dataset = Path.Combine(scratch, "prompts.jsonl");
        string longPrompt = string.Join(' ', Enumerable.Repeat("the cat sat on a mat", 60));
        File.WriteAllText(dataset, $$"""
            {"id": "short", "prompt": "the cat"}

            {"id": "long", "prompt": "{{longPrompt}}"}

            """);
        string config = Path.Combine(scratch, "long.yaml");
        File.WriteAllText(config, $$"""
            name: long-prompt
            task: sentiment
            dataset: {path: {{dataset}}, format: jsonl, prompts: 2}
            models:
              bases: [{name: big, path: {{world.Dir("large")}}}]
              tuned: {{world.Dir("tuned")}}
              untuned: {{world.Dir("untuned")}}
              gold: {{world.Dir("untuned")}}
            methods:
              - base
            generation: {max_new_tokens: 4}
            """);
        string output = Path.Combine(scratch, "long-run");

        AssertRefused(() => Wts.Run("run", config, "--output", output), $"{dataset}:3: prompt long in model big's template plus max_new_tokens 4 is ");
        Assert.False(Directory.Exists(output));
    }

    // ---- helpers

    Func<Wts.Result> RunOn(string command, string model) => command switch
    {
        "logprobs" => () => Wts.Run("logprobs", "--model", model, "--text", "the cat sat"),
        "generate" => () => Wts.Run("generate", "--model", model, "--prompt", "the cat", "--max-new-tokens", "4", "--seed", "1"),
        "search" => () => Wts.Run("search", "--method", "cbs", "--large", model, "--tuned", world.Dir("tuned"), "--untuned", world.Dir("untuned"),
            "--prompt", "the cat", "--w", "2", "--k", "2", "--l", "2", "--max-new-tokens", "4", "--seed", "1"),
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    };

    /// <summary>Runs <paramref name="run"/> and checks the refusal: exit 2, one error line holding <paramref name="expected"/>, no trace, no file changed.</summary>
    void AssertRefused(Func<Wts.Result> run, string expected)
    {
        var before = Checksums();
        var result = run();
        var errors = result.Stderr.Split('\n').Where(l => l.StartsWith("wts: error:", StringComparison.Ordinal)).ToList();

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Stderr}");
        Assert.True(errors.Count == 1, result.Stderr);
        Assert.Contains(expected, errors[0]);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.DoesNotContain("Exception", result.Stderr);
        Assert.Equal(before, Checksums());
    }

    /// <summary>SHA-256 of every file in the scratch directory (the model copies, datasets and configs of the test).</summary>
    SortedDictionary<string, string> Checksums() => new(
        Directory.EnumerateFiles(scratch, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(scratch, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))),
        StringComparer.Ordinal);

    string CopyModel(string source, string name)
    {
        string target = Path.Combine(scratch, name);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.EnumerateFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    /// <summary>Writes <paramref name="value"/> over the fourth element of the float32 tensor whose name ends with <paramref name="suffix"/>; returns its name.</summary>
    static string Poison(string model, string suffix, float value)
    {
        string path = Path.Combine(model, "model.safetensors");
        long offset;
        string name;
        using (var file = SafetensorsFile.Open(path))
        {
            var entry = file.Entries.Values.Single(e => e.Name.EndsWith(suffix, StringComparison.Ordinal));
            Assert.Equal("F32", entry.DType);
            (offset, name) = (file.DataStart + entry.Begin + 3 * sizeof(float), entry.Name);
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Position = offset;
        stream.Write(BitConverter.GetBytes(value));
        return name;
    }

    static int VocabSize(string model) => (int)JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!["vocab_size"]!;

    static (int Line, int Column) LineColumn(string text, int index)
    {
        string before = text[..index];
        return (1 + before.Count(c => c == '\n'), index - before.LastIndexOf('\n'));
    }
}
