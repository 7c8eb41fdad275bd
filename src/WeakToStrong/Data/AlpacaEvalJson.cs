using System.Text.Json;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Data;

/// <summary>
/// tatsu-lab/alpaca_eval's JSON files (alpaca_eval.json, alpaca_eval_gpt4_baseline.json, and AlpacaEval's
/// model_outputs.json): one JSON array of objects with string fields <c>instruction</c>, <c>output</c>,
/// <c>generator</c> and <c>dataset</c>; other fields (such as <c>datasplit</c>) are ignored.
/// Record i becomes prompt <c>alpaca_eval-i</c>: the instruction exactly as given (some carry leading or trailing
/// whitespace that the reference outputs were generated from), the output as reference, generator and dataset in meta.
/// </summary>
/// <remarks>
/// Read with <see cref="Utf8JsonReader"/> rather than <see cref="JsonDocument"/> so that every error names the
/// file's line and column (1-based; columns count characters).
/// </remarks>
internal static class AlpacaEvalJson
{
    public const string IdPrefix = "alpaca_eval";

    static readonly string[] Fields = ["instruction", "output", "generator", "dataset"];

    public static IReadOnlyList<TaskPrompt> Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: no such file");
        byte[] file = File.ReadAllBytes(path);
        StrictUtf8.RequireValidFile(path, file);
        ReadOnlySpan<byte> bytes = file;
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];  // a byte-order mark is no value

        var prompts = new List<TaskPrompt>();
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read()) throw new InvalidInputException($"{path}: empty file; expected a JSON array of records");
            if (reader.TokenType != JsonTokenType.StartArray)
                throw Error(path, bytes, reader.TokenStartIndex, $"expected a JSON array of records, found {Describe(reader.TokenType)}");
            while (true)
            {
                Next(ref reader, path);
                if (reader.TokenType == JsonTokenType.EndArray) break;
                prompts.Add(ReadRecord(ref reader, path, bytes, prompts.Count));
            }
            if (reader.Read())
                throw Error(path, bytes, reader.TokenStartIndex, "unexpected content after the array");
        }
        catch (JsonException e)
        {
            // The reader's own position: LineNumber and BytePositionInLine, both 0-based.
            int line = (int)(e.LineNumber ?? 0) + 1;
            int column = ColumnOf(bytes, line, (int)(e.BytePositionInLine ?? 0));
            throw new InvalidInputException($"{path}:{line}:{column}: not valid JSON ({e.Message})", e);
        }
        catch (InvalidOperationException e)
        {
            // GetString on an escape that is no text, such as a lone surrogate "\ud800".
            throw Error(path, bytes, reader.TokenStartIndex, $"a string that is not valid text ({e.Message})");
        }
        return prompts;
    }

    static TaskPrompt ReadRecord(ref Utf8JsonReader reader, string path, ReadOnlySpan<byte> bytes, int index)
    {
        long start = reader.TokenStartIndex;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Error(path, bytes, start, $"record {index} is {Describe(reader.TokenType)}, expected an object");
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string name = reader.GetString()!;
            long nameAt = reader.TokenStartIndex;
            Next(ref reader, path);
            if (!Fields.Contains(name))
            {
                reader.Skip();
                continue;
            }
            if (values.ContainsKey(name))
                throw Error(path, bytes, nameAt, $"record {index} has \"{name}\" twice");
            values[name] = reader.TokenType switch
            {
                JsonTokenType.String => reader.GetString()!,
                JsonTokenType.Null => null,
                _ => throw Error(path, bytes, reader.TokenStartIndex, $"record {index}: \"{name}\" is {Describe(reader.TokenType)}, expected a string"),
            };
        }
        string instruction = values.GetValueOrDefault("instruction")
            ?? throw Error(path, bytes, start, $"record {index} has no string \"instruction\"");
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string key in (string[])["generator", "dataset"])
            if (values.GetValueOrDefault(key) is string value) meta[key] = value;
        return new TaskPrompt($"{IdPrefix}-{index}", instruction, values.GetValueOrDefault("output"), meta.Count > 0 ? meta : null);
    }

    static void Next(ref Utf8JsonReader reader, string path)
    {
        if (!reader.Read()) throw new InvalidInputException($"{path}: the JSON ends before the array is closed");
    }

    static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    static InvalidInputException Error(string path, ReadOnlySpan<byte> bytes, long offset, string message)
    {
        var (line, column) = StrictUtf8.LineColumn(bytes, (int)offset);
        return new InvalidInputException($"{path}:{line}:{column}: {message}");
    }

    /// <summary>The 1-based character column of a 0-based byte position within 1-based line <paramref name="line"/>.</summary>
    static int ColumnOf(ReadOnlySpan<byte> bytes, int line, int bytePosition)
    {
        int lineStart = 0;
        for (int l = 1; l < line; l++)
        {
            int newline = bytes[lineStart..].IndexOf((byte)'\n');
            if (newline < 0) break;
            lineStart += newline + 1;
        }
        int offset = Math.Min(bytes.Length, lineStart + bytePosition);
        return StrictUtf8.LineColumn(bytes, offset).Column;
    }
}
