using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace WeakToStrong.Experiments;

/// <summary>One generated response: a line of generations*.jsonl.</summary>
public sealed record GenerationRecord(
    string Cell, string? BaseModel, string Method, string Label, int? W, int? K, int? L, int? N, double? Beta, long Seed,
    int PromptIndex, string PromptId, string Prompt, string? Reference, string Response, string? Finish,
    double? ImplicitValue, double Gold, double? Win,
    long LargeTokens, long SmallTokens, int ForwardCalls, double WallSeconds)
{
    /// <summary>What makes a row unique: a rerun must neither duplicate nor drop one.</summary>
    public (string Cell, int PromptIndex) Key => (Cell, PromptIndex);
}

/// <summary>
/// Append-only JSONL of generations. Each record is one write of one complete line, flushed at once, and the
/// file is synced to disk after every batch; so a kill -9 leaves whole lines plus at most one torn last line,
/// which <see cref="Read"/> with repair cuts off (losing only what was in flight).
/// </summary>
public static class GenerationLog
{
    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize(GenerationRecord record) => JsonSerializer.Serialize(record, Json);

    /// <summary>Reads every complete record. With <paramref name="repairTornTail"/>, a last line without its newline (a write cut short) is removed from the file.</summary>
    public static IReadOnlyList<GenerationRecord> Read(string path, bool repairTornTail = false)
    {
        if (!File.Exists(path)) return [];
        var bytes = File.ReadAllBytes(path);
        int end = bytes.Length;
        if (end > 0 && bytes[end - 1] != (byte)'\n')
        {
            end = Array.LastIndexOf(bytes, (byte)'\n') + 1;
            if (!repairTornTail)
                throw new InvalidInputException($"{path}: the last line is incomplete (a run was interrupted mid-write); rerun with --resume to continue from the last complete line");
            using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
            file.SetLength(end);
        }
        var records = new List<GenerationRecord>();
        var lines = Encoding.UTF8.GetString(bytes, 0, end).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            try
            {
                records.Add(JsonSerializer.Deserialize<GenerationRecord>(lines[i], Json)
                    ?? throw new JsonException("null record"));
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"{path}:{i + 1}: not a generation record ({e.Message})");
            }
        }
        return records;
    }

    /// <summary>Appends records to the log.</summary>
    public sealed class Writer(string path) : IDisposable
    {
        readonly FileStream stream = new(path, FileMode.Append, FileAccess.Write, FileShare.Read);

        public void Append(IEnumerable<GenerationRecord> records)
        {
            foreach (var record in records)
            {
                stream.Write(Encoding.UTF8.GetBytes(Serialize(record) + "\n"));
                stream.Flush();
            }
            stream.Flush(flushToDisk: true);
        }

        public void Dispose() => stream.Dispose();
    }
}
