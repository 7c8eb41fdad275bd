using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace WeakToStrong.Evaluation;

/// <summary>One row of an AlpacaEval model_outputs.json.</summary>
public sealed record AlpacaEvalOutput(string Instruction, string Output, string Generator, string Dataset);

/// <summary>
/// AlpacaEval's model_outputs.json: a JSON array of objects with the fields <c>instruction</c>, <c>output</c>,
/// <c>generator</c> and <c>dataset</c> (the order of tatsu-lab/alpaca_eval's example/outputs.json), so the file can be
/// passed to <c>alpaca_eval --model_outputs</c>. UTF-8 without a byte-order mark, indented.
/// </summary>
public static class AlpacaEvalOutputs
{
    /// <summary>Writes to "<c>path</c>.tmp" then moves it over <c>path</c>, so a crash never leaves a truncated file.</summary>
    public static void Write(string path, IEnumerable<(string Instruction, string Output, string Generator)> rows, string dataset)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(rows);
        if (dataset is null) throw new InvalidInputException($"{path}: dataset name is null");
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps non-ASCII text readable; JSON readers decode either spelling the same.
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var writer = new Utf8JsonWriter(buffer, options))
        {
            writer.WriteStartArray();
            int index = 0;
            foreach (var (instruction, output, generator) in rows)
            {
                if (instruction is null || output is null || generator is null)
                    throw new InvalidInputException($"{path}: row {index} has a null instruction, output or generator");
                writer.WriteStartObject();
                writer.WriteString("instruction", instruction);
                writer.WriteString("output", output);
                writer.WriteString("generator", generator);
                writer.WriteString("dataset", dataset);
                writer.WriteEndObject();
                index++;
            }
            writer.WriteEndArray();
        }
        buffer.WriteByte((byte)'\n');

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        OutputLocations.WriteAtomically(path, buffer.ToArray());
    }

    /// <summary>Reads a model_outputs.json; every row needs string <c>instruction</c>, <c>output</c>,
    /// <c>generator</c> and <c>dataset</c>; other fields (AlpacaEval's <c>datasplit</c>) are ignored.</summary>
    public static IReadOnlyList<AlpacaEvalOutput> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: model outputs file not found");
        JsonDocument document;
        try { document = JsonDocument.Parse(Data.StrictUtf8.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidInputException($"{path}: not valid JSON ({e.Message})", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidInputException($"{path}: expected a JSON array of model outputs, found {document.RootElement.ValueKind}");
            var result = new List<AlpacaEvalOutput>();
            int index = 0;
            foreach (var row in document.RootElement.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Object)
                    throw new InvalidInputException($"{path}: row {index} is a {row.ValueKind}, expected an object");
                result.Add(new AlpacaEvalOutput(Field(row, "instruction"), Field(row, "output"), Field(row, "generator"), Field(row, "dataset")));
                index++;
            }
            return result;

            string Field(JsonElement row, string name) =>
                row.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
                    ? value.GetString()!
                    : throw new InvalidInputException($"{path}: row {index} has no string field \"{name}\"");
        }
    }
}
