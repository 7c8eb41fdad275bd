using System.Globalization;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Data;

/// <summary>How a prompt dataset file is laid out; see <see cref="PromptSources"/> and datasets/README.md.</summary>
public enum DatasetFormat
{
    /// <summary>Our prompt JSONL (datasets/README.md), as written by <see cref="TaskDatasets.WritePrompts"/>.</summary>
    Jsonl,

    /// <summary>Parquet of stanfordnlp/imdb (text, label) or of ZHZisZZ/imdb_preference (prompt, responses, scores, chosen).</summary>
    ImdbParquet,

    /// <summary>Parquet of CarperAI/openai_summarize_tldr (prompt, label) or of trl-lib/tldr (prompt, completion).</summary>
    TldrParquet,

    /// <summary>JSON of tatsu-lab/alpaca_eval: an array of {instruction, output, generator, dataset}.</summary>
    AlpacaEvalJson,
}

/// <summary>Options that some formats take; a format refuses an option it does not use.</summary>
public sealed record PromptSourceOptions
{
    public static PromptSourceOptions None { get; } = new();

    /// <summary>
    /// imdb-parquet, stanfordnlp/imdb layout only (required there): the prompt is the review up to the end of its
    /// first <c>PrefixWords</c> whitespace-separated words, the reference the rest. YAML: <c>prefix_words</c>.
    /// </summary>
    public int? PrefixWords { get; init; }
}

/// <summary>
/// Reads prompt datasets as they are distributed on the Hugging Face hub into <see cref="TaskPrompt"/> records
/// (id, prompt, reference, meta). Text is kept byte for byte: nothing is trimmed or normalized; the only cut is the
/// imdb review rule below. Ids are <c>&lt;source&gt;-&lt;row&gt;</c>, with the 0-based row (or array index) in the
/// file, so they are stable for a given file and unique within it (JSONL keeps its own ids).
/// Every problem with the file (missing, unreadable, a missing column, a wrong type, a null, invalid UTF-8) is an
/// <see cref="InvalidInputException"/> naming the file and the column and row, or the line and column, at fault.
/// </summary>
public static class PromptSources
{
    /// <summary>The YAML key of <see cref="PromptSourceOptions.PrefixWords"/>.</summary>
    public const string PrefixWordsOption = "prefix_words";

    static readonly (DatasetFormat Format, string Name, string[] Options)[] Formats =
    [
        (DatasetFormat.Jsonl, "jsonl", []),
        (DatasetFormat.ImdbParquet, "imdb-parquet", [PrefixWordsOption]),
        (DatasetFormat.TldrParquet, "tldr-parquet", []),
        (DatasetFormat.AlpacaEvalJson, "alpaca-eval-json", []),
    ];

    /// <summary>Every format's name, as written in a config's <c>dataset.format</c>.</summary>
    public static IReadOnlyList<string> FormatNames { get; } = Formats.Select(f => f.Name).ToArray();

    /// <summary>"jsonl, imdb-parquet, tldr-parquet or alpaca-eval-json": for error messages.</summary>
    public static string ExpectedFormats { get; } = string.Join(", ", FormatNames.SkipLast(1)) + " or " + FormatNames[^1];

    public static string NameOf(DatasetFormat format) =>
        Formats.First(f => f.Format == format).Name;

    /// <summary>The option keys <paramref name="format"/> accepts (for example <c>prefix_words</c> for imdb-parquet).</summary>
    public static IReadOnlyList<string> OptionNamesOf(DatasetFormat format) =>
        Formats.First(f => f.Format == format).Options;

    public static bool TryParseFormat(string? name, out DatasetFormat format)
    {
        foreach (var entry in Formats)
            if (entry.Name == name) { format = entry.Format; return true; }
        format = default;
        return false;
    }

    /// <summary>The format named <paramref name="name"/>; an unknown name is an error that lists the valid ones.</summary>
    public static DatasetFormat ParseFormat(string? name) =>
        TryParseFormat(name, out var format) ? format
        : throw new InvalidInputException($"unknown dataset format \"{name}\"; expected {ExpectedFormats}");

    /// <summary>Reads every record of <paramref name="path"/>, in file order.</summary>
    public static IReadOnlyList<TaskPrompt> Read(string path, DatasetFormat format, PromptSourceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= PromptSourceOptions.None;
        if (options.PrefixWords is not null && format != DatasetFormat.ImdbParquet)
            throw new InvalidInputException($"{path}: {PrefixWordsOption} applies only to imdb-parquet, not to {NameOf(format)}");
        return format switch
        {
            DatasetFormat.Jsonl => TaskDatasets.ReadPrompts(path), // strict about UTF-8 itself
            DatasetFormat.ImdbParquet => ReadImdb(path, options.PrefixWords),
            DatasetFormat.TldrParquet => ReadTldr(path),
            DatasetFormat.AlpacaEvalJson => AlpacaEvalJson.Read(path),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
        };
    }

    /// <summary>
    /// Where record <paramref name="index"/> of <paramref name="path"/> (as <see cref="Read"/> numbers them) is, for an error
    /// about it: file:line for JSONL (whose blank lines hold no record), else the record's 1-based number. Reads the file
    /// again, so it is for error messages only.
    /// </summary>
    public static string Location(string path, DatasetFormat format, int index)
    {
        if (format == DatasetFormat.Jsonl)
        {
            int line = 0, records = 0;
            foreach (string text in File.ReadAllText(path).Split('\n')) // Read has refused malformed UTF-8 already
            {
                line++;
                if (text.TrimEnd('\r').Length > 0 && records++ == index) return $"{path}:{line}";
            }
        }
        return $"{path}: record {index + 1}";
    }

    // ---- imdb-parquet

    const string ReviewLayout = "stanfordnlp/imdb (text, label)";
    const string PreferenceLayout = "ZHZisZZ/imdb_preference (prompt, responses, scores, chosen)";

    static IReadOnlyList<TaskPrompt> ReadImdb(string path, int? prefixWords)
    {
        using var table = ParquetTable.Open(path);
        if (table.Has("prompt"))
        {
            if (prefixWords is not null)
                throw new InvalidInputException(
                    $"{path}: {PrefixWordsOption} cuts stanfordnlp/imdb reviews, but this file has prompts already (the layout of {PreferenceLayout})");
            return ReadImdbPreference(table);
        }
        if (table.Has("text"))
        {
            if (prefixWords is not int words)
                throw new InvalidInputException(
                    $"{path}: stanfordnlp/imdb reviews need {PrefixWordsOption} (how many words of each review form the prompt)");
            if (words < 1) throw new InvalidInputException($"{path}: {PrefixWordsOption} must be at least 1, got {words}");
            return ReadImdbReviews(table, words);
        }
        throw new InvalidInputException(
            $"{path}: expected the columns of {ReviewLayout} or of {PreferenceLayout}; the file has: {string.Join(", ", table.ColumnNames)}");
    }

    /// <summary>stanfordnlp/imdb: the review cut after <paramref name="words"/> words; label 0 neg, 1 pos, -1 unlabelled.</summary>
    static IReadOnlyList<TaskPrompt> ReadImdbReviews(ParquetTable table, int words)
    {
        var texts = table.Strings("text");
        var labels = table.Integers("label");
        var prompts = new TaskPrompt[texts.Length];
        for (int row = 0; row < texts.Length; row++)
        {
            string review = Required(texts[row], table, "text", row, "a string");
            var meta = new Dictionary<string, string> { ["review"] = review };
            switch (labels[row])
            {
                case 0: meta["label"] = "negative"; break;
                case 1: meta["label"] = "positive"; break;
                case -1: break;  // the unsupervised split has no label
                case var other:
                    throw new InvalidInputException(
                        $"{table.Path}: column \"label\", row {row}: {other?.ToString(CultureInfo.InvariantCulture) ?? "null"}, expected 0 (neg), 1 (pos) or -1 (unlabelled)");
            }
            var (prompt, reference) = SplitAfterWords(review, words);
            if (prompt.Length == 0)
                throw new InvalidInputException($"{table.Path}: column \"text\", row {row}: the review has no words");
            prompts[row] = new TaskPrompt($"imdb-{row}", prompt, reference, meta);
        }
        return prompts;
    }

    /// <summary>
    /// The imdb-parquet prompt rule (ours: the paper and the dataset card say only that imdb_preference's prompts are
    /// truncated reviews, not how): the prompt runs from the start of <paramref name="text"/> to the end of its
    /// <paramref name="words"/>-th word, or of its last word when it has fewer; the reference is the rest, so
    /// prompt + reference == text. Words are maximal runs of characters that are not Unicode White_Space
    /// (<see cref="char.IsWhiteSpace(char)"/>); the text is never trimmed, and "&lt;br /&gt;" is part of a word.
    /// </summary>
    internal static (string Prompt, string Reference) SplitAfterWords(string text, int words)
    {
        int i = 0, seen = 0, end = 0;
        while (i < text.Length && seen < words)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i == text.Length) break;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            seen++;
            end = i;
        }
        return (text[..end], text[end..]);
    }

    /// <summary>
    /// ZHZisZZ/imdb_preference: the prompt as given (the paper's official code takes the first 200 of the test
    /// split); the preference data go to meta: chosen (the index), response_i, score_i (shortest round-trip text).
    /// </summary>
    static IReadOnlyList<TaskPrompt> ReadImdbPreference(ParquetTable table)
    {
        var prompts = table.Strings("prompt");
        var responses = table.Has("responses") ? table.StringLists("responses") : null;
        var scores = table.Has("scores") ? table.DoubleLists("scores") : null;
        var chosen = table.Has("chosen") ? table.Integers("chosen") : null;
        var records = new TaskPrompt[prompts.Length];
        for (int row = 0; row < prompts.Length; row++)
        {
            var meta = new Dictionary<string, string>();
            var rowResponses = responses is null ? null : Required(responses[row], table, "responses", row, "a list of strings");
            if (rowResponses is not null)
                for (int i = 0; i < rowResponses.Length; i++)
                    meta[$"response_{i}"] = rowResponses[i]
                        ?? throw new InvalidInputException($"{table.Path}: column \"responses\", row {row}: element {i} is null, expected a string");
            if (scores is not null)
            {
                var rowScores = Required(scores[row], table, "scores", row, "a list of numbers");
                if (rowResponses is not null && rowScores.Length != rowResponses.Length)
                    throw new InvalidInputException(
                        $"{table.Path}: row {row}: {rowScores.Length} scores for {rowResponses.Length} responses, expected one score per response");
                for (int i = 0; i < rowScores.Length; i++)
                    meta[$"score_{i}"] = (rowScores[i]
                        ?? throw new InvalidInputException($"{table.Path}: column \"scores\", row {row}: element {i} is null, expected a number"))
                        .ToString("R", CultureInfo.InvariantCulture);
            }
            if (chosen is not null)
            {
                long index = chosen[row] ?? throw new InvalidInputException($"{table.Path}: column \"chosen\", row {row}: null, expected an index");
                if (rowResponses is not null && (index < 0 || index >= rowResponses.Length))
                    throw new InvalidInputException(
                        $"{table.Path}: column \"chosen\", row {row}: {index}, expected the index of one of the {rowResponses.Length} responses");
                meta["chosen"] = index.ToString(CultureInfo.InvariantCulture);
            }
            records[row] = new TaskPrompt($"imdb_preference-{row}", Required(prompts[row], table, "prompt", row, "a string"), null, meta.Count > 0 ? meta : null);
        }
        return records;
    }

    // ---- tldr-parquet

    /// <summary>
    /// CarperAI/openai_summarize_tldr (prompt, label) or trl-lib/tldr (prompt, completion): the prompt as given, the
    /// summary column as reference (trl-lib's completions start with the space that follows "TL;DR:").
    /// A file with only a prompt column gives prompts without references.
    /// </summary>
    static IReadOnlyList<TaskPrompt> ReadTldr(string path)
    {
        using var table = ParquetTable.Open(path);
        if (!table.Has("prompt"))
            throw new InvalidInputException(
                $"{path}: no column \"prompt\"; expected the columns of CarperAI/openai_summarize_tldr (prompt, label) or of trl-lib/tldr (prompt, completion); the file has: {string.Join(", ", table.ColumnNames)}");
        string[] summaryColumns = ["label", "completion"];
        var present = summaryColumns.Where(table.Has).ToArray();
        if (present.Length > 1)
            throw new InvalidInputException($"{path}: both \"label\" and \"completion\"; expected one reference summary column");
        var prompts = table.Strings("prompt");
        var summaries = present.Length == 1 ? table.Strings(present[0]) : null;
        var records = new TaskPrompt[prompts.Length];
        for (int row = 0; row < prompts.Length; row++)
            records[row] = new TaskPrompt($"tldr-{row}", Required(prompts[row], table, "prompt", row, "a string"),
                summaries is null ? null : Required(summaries[row], table, present[0], row, "a string"), null);
        return records;
    }

    static T Required<T>(T? value, ParquetTable table, string column, int row, string expected) where T : class =>
        value ?? throw new InvalidInputException($"{table.Path}: column \"{column}\", row {row}: null, expected {expected}");
}
