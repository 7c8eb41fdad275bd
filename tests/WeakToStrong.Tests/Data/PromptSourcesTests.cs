using System.Text;
using System.Text.Json;
using WeakToStrong.Data;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Tests.Data;

/// <summary>
/// The dataset readers against small files in each Hugging Face dataset's real column layout, written by an
/// independent Parquet writer (arrow-rs via parquet-wasm; tests/fixtures/datasets/generator), and a real excerpt of
/// AlpacaEval's gpt4_turbo reference outputs. Every string is compared ordinally, so byte for byte.
/// </summary>
public sealed class PromptSourcesTests : IDisposable
{
    readonly string _directory = Path.Combine(Path.GetTempPath(), "wts-prompt-sources-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    static string Fixture(string name) => RepositoryPaths.Fixture("datasets", name);

    string WriteTemp(string name, byte[] bytes)
    {
        Directory.CreateDirectory(_directory);
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("imdb-test")]             // stanfordnlp/imdb: text, label; three row groups, plain encoding
    [InlineData("imdb_preference-test")]  // ZHZisZZ/imdb_preference: prompt, responses, scores, chosen
    [InlineData("openai_summarize_tldr-test")]  // CarperAI/openai_summarize_tldr: prompt, label; uncompressed
    [InlineData("trl_tldr-test")]         // trl-lib/tldr: prompt, completion; one row per row group
    public void ParquetLayoutsGiveTheExpectedRecords(string fixture)
    {
        using var expected = JsonDocument.Parse(File.ReadAllBytes(Fixture(fixture + ".expected.json")));
        var root = expected.RootElement;
        var format = PromptSources.ParseFormat(root.GetProperty("format").GetString());
        var options = root.GetProperty("options").TryGetProperty(PromptSources.PrefixWordsOption, out var words)
            ? new PromptSourceOptions { PrefixWords = words.GetInt32() } : null;

        var actual = PromptSources.Read(Fixture(fixture + ".parquet"), format, options);

        var records = root.GetProperty("records").EnumerateArray().ToArray();
        Assert.Equal(records.Length, actual.Count);
        for (int i = 0; i < records.Length; i++) AssertRecord(records[i], actual[i]);
    }

    static void AssertRecord(JsonElement expected, TaskPrompt actual)
    {
        Assert.Equal(expected.GetProperty("id").GetString(), actual.Id);
        AssertBytes(expected.GetProperty("prompt").GetString(), actual.Prompt);
        AssertBytes(expected.GetProperty("reference").GetString(), actual.Reference);
        var meta = expected.GetProperty("meta");
        if (meta.ValueKind == JsonValueKind.Null) { Assert.Null(actual.Meta); return; }
        Assert.NotNull(actual.Meta);
        Assert.Equal(meta.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal), actual.Meta.Keys.Order(StringComparer.Ordinal));
        foreach (var property in meta.EnumerateObject()) AssertBytes(property.Value.GetString(), actual.Meta[property.Name]);
    }

    static void AssertBytes(string? expected, string? actual)
    {
        Assert.Equal(expected, actual);  // ordinal; and the UTF-8 bytes, to say it plainly
        if (expected is not null) Assert.Equal(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(actual!));
    }

    [Fact]
    public void AlpacaEvalExcerptKeepsInstructionsExactly()
    {
        var prompts = PromptSources.Read(Fixture("alpaca_eval-gpt4_turbo-excerpt.json"), DatasetFormat.AlpacaEvalJson);
        // The excerpt is records 133, 158, 161, 223 and 254 of the 805; ids count within the file read.
        Assert.Equal(["alpaca_eval-0", "alpaca_eval-1", "alpaca_eval-2", "alpaca_eval-3", "alpaca_eval-4"], prompts.Select(p => p.Id));
        Assert.Equal("convert December 21 \u00b7 1:00 \u2013 1:50pm pacific to asia/taipei time", prompts[0].Prompt);
        Assert.Equal("Can a boy and girl be just be best friends only ever\n", prompts[1].Prompt);          // trailing newline kept
        Assert.Equal("Tell me something I don\u2019t know", prompts[2].Prompt);
        Assert.EndsWith("do you have suggestions? ", prompts[3].Prompt);                                  // trailing space kept
        Assert.StartsWith("Please summarise in point form \"Challenges for\nAfrican Agriculture\" by Jean-Claude Dev\u00e8ze", prompts[4].Prompt);
        Assert.All(prompts, p => Assert.Equal("gpt4_turbo", p.Meta!["generator"]));
        Assert.Equal(["koala", "koala", "koala", "koala", "koala"], prompts.Select(p => p.Meta!["dataset"]));
        Assert.StartsWith("To convert the time from Pacific Time (PT) to Asia/Taipei time", prompts[0].Reference);

        // Independently: the same values through JsonDocument.
        using var document = JsonDocument.Parse(File.ReadAllBytes(Fixture("alpaca_eval-gpt4_turbo-excerpt.json")));
        var rows = document.RootElement.EnumerateArray().ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            AssertBytes(rows[i].GetProperty("instruction").GetString(), prompts[i].Prompt);
            AssertBytes(rows[i].GetProperty("output").GetString(), prompts[i].Reference);
        }
    }

    [Theory]
    [InlineData("[{\"instruction\":\"a\"},\n {\"instruction\": 3}]", ":2:18: record 1: \"instruction\" is a number, expected a string")]
    [InlineData("[{\"instruction\":\"a\"},\n  {\"output\":\"b\"}]", ":2:3: record 1 has no string \"instruction\"")]
    [InlineData("[\n  \"text\"\n]", ":2:3: record 0 is a string, expected an object")]
    [InlineData("{\"instruction\":\"a\"}", ":1:1: expected a JSON array of records, found an object")]
    [InlineData("[{\"instruction\":\"a\",\"instruction\":\"b\"}]", ":1:21: record 0 has \"instruction\" twice")]
    [InlineData("[{\"instruction\":\"a\"},\n  {\"instruction\":\"\u00e9\",}]", ":2:22: not valid JSON")]  // columns count characters
    [InlineData("[{\"instruction\":\"a\"}] x", ":1:23: not valid JSON")]
    public void AlpacaEvalJsonErrorsNameLineAndColumn(string json, string expected)
    {
        string path = WriteTemp("outputs.json", Encoding.UTF8.GetBytes(json));
        var error = Assert.Throws<InvalidInputException>(() => PromptSources.Read(path, DatasetFormat.AlpacaEvalJson));
        Assert.Contains(path + expected, error.Message);
    }

    [Fact]
    public void AlpacaEvalIgnoresOtherFieldsAndAllowsAMissingOutput()
    {
        string path = WriteTemp("outputs.json", Encoding.UTF8.GetBytes(
            "\uFEFF[{\"instruction\":\"  spaced  \",\"datasplit\":\"eval\",\"extra\":{\"a\":[1,2]}}]"));
        var prompt = Assert.Single(PromptSources.Read(path, DatasetFormat.AlpacaEvalJson));
        Assert.Equal("  spaced  ", prompt.Prompt);
        Assert.Null(prompt.Reference);
        Assert.Null(prompt.Meta);
    }

    [Fact]
    public void InvalidUtf8InJsonNamesLineAndColumn()
    {
        byte[] bytes = [.. "[{\"instruction\":\"ok\"},\n {\"instruction\":\"b"u8, 0xFF, .. "\"}]"u8];
        string path = WriteTemp("outputs.json", bytes);
        var error = Assert.Throws<InvalidInputException>(() => PromptSources.Read(path, DatasetFormat.AlpacaEvalJson));
        Assert.Contains(path + ":2:19: invalid UTF-8 (byte 0xFF)", error.Message);

        string jsonl = WriteTemp("prompts.jsonl", [.. "{\"id\":\"a\",\"prompt\":\"caf"u8, 0xC3, .. "\"}\n"u8]);
        error = Assert.Throws<InvalidInputException>(() => PromptSources.Read(jsonl, DatasetFormat.Jsonl));
        Assert.Contains(jsonl + ":1:24: invalid UTF-8 (byte 0xC3)", error.Message);
    }

    [Fact]
    public void JsonlIsOurPromptSchema()
    {
        Directory.CreateDirectory(_directory);
        string path = Path.Combine(_directory, "prompts.jsonl");
        var prompts = new SentimentTask().Prompts(TaskSplit.Test, 5, 0);
        TaskDatasets.WritePrompts(path, prompts);
        var read = PromptSources.Read(path, DatasetFormat.Jsonl);
        Assert.Equal(prompts.Select(p => (p.Id, p.Prompt, p.Reference)), read.Select(p => (p.Id, p.Prompt, p.Reference)));
    }

    [Fact]
    public void ParquetFilesTheReaderRefuses()
    {
        string Message(string fixture, DatasetFormat format, PromptSourceOptions? options = null) =>
            Assert.Throws<InvalidInputException>(() => PromptSources.Read(Fixture(fixture), format, options)).Message;

        Assert.Contains(Fixture("bad-imdb-label-string.parquet") + ": column \"label\" is string, expected an integer column (int32 or int64)",
            Message("bad-imdb-label-string.parquet", DatasetFormat.ImdbParquet, new PromptSourceOptions { PrefixWords = 3 }));
        Assert.Contains(Fixture("bad-no-prompt.parquet") + ": expected the columns of stanfordnlp/imdb (text, label) or of ZHZisZZ/imdb_preference (prompt, responses, scores, chosen); the file has: post, summary",
            Message("bad-no-prompt.parquet", DatasetFormat.ImdbParquet));
        Assert.Contains(Fixture("bad-no-prompt.parquet") + ": no column \"prompt\"",
            Message("bad-no-prompt.parquet", DatasetFormat.TldrParquet));
        Assert.Contains(Fixture("bad-null-prompt.parquet") + ": column \"prompt\", row 1: null, expected a string",
            Message("bad-null-prompt.parquet", DatasetFormat.TldrParquet));
        Assert.Contains(Fixture("bad-invalid-utf8.parquet") + ": column \"prompt\", row 1: invalid UTF-8 at byte 7 of the value (0xC3); expected UTF-8 text",
            Message("bad-invalid-utf8.parquet", DatasetFormat.TldrParquet));
        Assert.Contains(Fixture("missing.parquet") + ": no such file", Message("missing.parquet", DatasetFormat.TldrParquet));
        Assert.Contains(": not a readable Parquet file", Message("alpaca_eval-gpt4_turbo-excerpt.json", DatasetFormat.TldrParquet));
    }

    [Fact]
    public void PrefixWordsIsRequiredForReviewsAndRefusedElsewhere()
    {
        string Message(string fixture, DatasetFormat format, int? words) =>
            Assert.Throws<InvalidInputException>(() => PromptSources.Read(Fixture(fixture), format, new PromptSourceOptions { PrefixWords = words })).Message;

        Assert.Contains("stanfordnlp/imdb reviews need prefix_words", Message("imdb-test.parquet", DatasetFormat.ImdbParquet, null));
        Assert.Contains("prefix_words must be at least 1, got 0", Message("imdb-test.parquet", DatasetFormat.ImdbParquet, 0));
        Assert.Contains("prefix_words cuts stanfordnlp/imdb reviews, but this file has prompts already", Message("imdb_preference-test.parquet", DatasetFormat.ImdbParquet, 3));
        Assert.Contains("prefix_words applies only to imdb-parquet, not to tldr-parquet", Message("trl_tldr-test.parquet", DatasetFormat.TldrParquet, 3));
    }

    [Theory]
    [InlineData("one two three four", 2, "one two", " three four")]
    [InlineData("  lead\u00a0nbsp\ttab rest", 2, "  lead\u00a0nbsp", "\ttab rest")]
    [InlineData("few words ", 5, "few words", " ")]
    [InlineData("a\u200bb c", 1, "a\u200bb", " c")]     // U+200B ZERO WIDTH SPACE is not White_Space
    [InlineData("a\u0085b\u2028c d", 3, "a\u0085b\u2028c", " d")]
    [InlineData("   ", 2, "", "   ")]
    public void SplitAfterWordsKeepsEveryCharacter(string text, int words, string prompt, string reference)
    {
        var (p, r) = PromptSources.SplitAfterWords(text, words);
        Assert.Equal(prompt, p);
        Assert.Equal(reference, r);
        Assert.Equal(text, p + r);
    }

    [Fact]
    public void FormatNamesParseAndAnUnknownNameListsThem()
    {
        foreach (string name in PromptSources.FormatNames)
            Assert.Equal(name, PromptSources.NameOf(PromptSources.ParseFormat(name)));
        Assert.Equal(["jsonl", "imdb-parquet", "tldr-parquet", "alpaca-eval-json"], PromptSources.FormatNames);
        Assert.Equal([PromptSources.PrefixWordsOption], PromptSources.OptionNamesOf(DatasetFormat.ImdbParquet));
        Assert.Empty(PromptSources.OptionNamesOf(DatasetFormat.TldrParquet));
        var error = Assert.Throws<InvalidInputException>(() => PromptSources.ParseFormat("parquet"));
        Assert.Equal("unknown dataset format \"parquet\"; expected jsonl, imdb-parquet, tldr-parquet or alpaca-eval-json", error.Message);
        Assert.False(PromptSources.TryParseFormat("IMDB-parquet", out _));
    }
}
