using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace WeakToStrong.World.Tasks;

/// <summary>
/// JSONL for the task datasets: one object per line, keys in a fixed order (meta keys sorted), UTF-8 without BOM,
/// "\n" line ends. Schemas are documented in datasets/README.md.
/// </summary>
public static class TaskDatasets
{
    // Relaxed escaping keeps apostrophes and quotes readable; the files are never embedded in HTML.
    static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void WriteTexts(string path, IEnumerable<string> texts) =>
        Write(path, texts, (w, text) => w.WriteString("text", text));

    public static void WritePrompts(string path, IEnumerable<TaskPrompt> prompts) => Write(path, prompts, (w, p) =>
    {
        w.WriteString("id", p.Id);
        w.WriteString("prompt", p.Prompt);
        if (p.Reference is null) w.WriteNull("reference"); else w.WriteString("reference", p.Reference);
        if (p.Meta is null) w.WriteNull("meta");
        else
        {
            w.WriteStartObject("meta");
            foreach (var (key, value) in p.Meta.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(key, value);
            w.WriteEndObject();
        }
    });

    public static void WritePairs(string path, IEnumerable<PreferencePair> pairs) => Write(path, pairs, (w, p) =>
    {
        w.WriteString("prompt", p.Prompt);
        w.WriteString("chosen", p.Chosen);
        w.WriteString("rejected", p.Rejected);
    });

    public static void WriteClassifierExamples(string path, IEnumerable<ClassifierExample> examples) => Write(path, examples, (w, e) =>
    {
        w.WriteString("text", e.Text);
        w.WriteString("label", e.Label);
        w.WriteBoolean("corrupted", e.Corrupted);
    });

    public static IReadOnlyList<string> ReadTexts(string path) => Read(path, (o, at) => RequiredString(o, "text", at));

    public static IReadOnlyList<TaskPrompt> ReadPrompts(string path) => Read(path, (o, at) =>
    {
        Dictionary<string, string>? meta = null;
        if (o.TryGetProperty("meta", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{at}: \"meta\" must be an object of strings");
            meta = new Dictionary<string, string>();
            foreach (var property in m.EnumerateObject())
                meta[property.Name] = property.Value.ValueKind == JsonValueKind.String
                    ? property.Value.GetString()!
                    : throw new InvalidInputException($"{at}: meta \"{property.Name}\" must be a string");
        }
        return new TaskPrompt(RequiredString(o, "id", at), RequiredString(o, "prompt", at), OptionalString(o, "reference", at), meta);
    });

    public static IReadOnlyList<PreferencePair> ReadPairs(string path) => Read(path, (o, at) =>
        new PreferencePair(RequiredString(o, "prompt", at), RequiredString(o, "chosen", at), RequiredString(o, "rejected", at)));

    public static IReadOnlyList<ClassifierExample> ReadClassifierExamples(string path) => Read(path, (o, at) =>
    {
        bool corrupted = o.TryGetProperty("corrupted", out var c) && c.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidInputException($"{at}: \"corrupted\" must be true or false"),
        };
        return new ClassifierExample(RequiredString(o, "text", at), RequiredString(o, "label", at), corrupted);
    });

    static void Write<T>(string path, IEnumerable<T> records, Action<Utf8JsonWriter, T> writeFields)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        var buffer = new MemoryStream();
        foreach (var record in records)
        {
            buffer.SetLength(0);
            using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            {
                writer.WriteStartObject();
                writeFields(writer, record);
                writer.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
            file.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
    }

    static List<T> Read<T>(string path, Func<JsonElement, string, T> parse)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: no such file");
        // Strictly: .NET's UTF-8 reader would turn malformed bytes into U+FFFD and so change the data unseen.
        byte[] bytes = File.ReadAllBytes(path);
        Data.StrictUtf8.RequireValidFile(path, bytes);
        var result = new List<T>();
        int lineNumber = 0;
        int bom = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        foreach (string line in Encoding.UTF8.GetString(bytes, bom, bytes.Length - bom).Split('\n').Select(l => l.TrimEnd('\r')))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            string at = $"{path}:{lineNumber}";
            JsonDocument document;
            try { document = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new InvalidInputException($"{at}: not a JSON object ({e.Message})", e); }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{at}: expected a JSON object");
                result.Add(parse(document.RootElement, at));
            }
        }
        return result;
    }

    static string RequiredString(JsonElement o, string key, string at) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new InvalidInputException($"{at}: expected a string \"{key}\"");

    static string? OptionalString(JsonElement o, string key, string at) =>
        !o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw new InvalidInputException($"{at}: \"{key}\" must be a string or null");

    /// <summary>
    /// Writes one task's files into <paramref name="directory"/>: {prefix}pretrain.jsonl, {prefix}prompts-train.jsonl,
    /// {prefix}prompts-test.jsonl, {prefix}preferences.jsonl and, for sentiment, {prefix}classifier.jsonl.
    /// Returns the paths written.
    /// </summary>
    /// <summary>The files <see cref="Generate"/> writes into its directory.</summary>
    public static IReadOnlyList<string> FileNames(ITaskGenerator task, string prefix = "") =>
        new[] { "pretrain", "prompts-train", "prompts-test", "preferences" }.Concat(task is SentimentTask ? ["classifier"] : [])
            .Select(name => prefix + name + ".jsonl").ToArray();

    public static IReadOnlyList<string> Generate(ITaskGenerator task, string directory, DatasetSizes sizes, ulong seed, string prefix = "")
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        string PathOf(string name) { string p = Path.Combine(directory, prefix + name + ".jsonl"); written.Add(p); return p; }
        WriteTexts(PathOf("pretrain"), task.PretrainingTexts(sizes.Pretraining, seed));
        WritePrompts(PathOf("prompts-train"), task.Prompts(TaskSplit.Train, sizes.Prompts, seed));
        WritePrompts(PathOf("prompts-test"), task.Prompts(TaskSplit.Test, sizes.Prompts, seed));
        WritePairs(PathOf("preferences"), task.PreferencePairs(sizes.Pairs, seed));
        if (task is SentimentTask sentiment)
            WriteClassifierExamples(PathOf("classifier"), sentiment.ClassifierExamples(sizes.Classifier, seed));
        return written;
    }
}

/// <summary>How many records of each kind <see cref="TaskDatasets.Generate"/> writes (prompts: per split).</summary>
public sealed record DatasetSizes(int Pretraining, int Prompts, int Pairs, int Classifier)
{
    public static DatasetSizes All(int count) => new(count, count, count, count);
}
