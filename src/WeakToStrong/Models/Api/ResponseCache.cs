using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace WeakToStrong.Models.Api;

/// <summary>
/// Every answered completions request, on disk in the run directory (<c>api-cache/*.jsonl</c>, one line per answer keyed
/// by <see cref="CompletionRequest.CacheKey"/>), so --resume and a rerun after a crash never pay twice. Each writer
/// appends to its own file (one per shard) and flushes each line; a line torn by a crash is dropped when the file is
/// next opened. All files of the directory are read, so shards and reruns share answers.
/// </summary>
public sealed class ResponseCache : IDisposable
{
    public const string DirectoryName = "api-cache";

    readonly Dictionary<string, CompletionResult> answers = new(StringComparer.Ordinal);
    readonly FileStream writer;
    readonly Lock gate = new();

    /// <param name="directory">the cache directory (created if absent)</param>
    /// <param name="fileName">this writer's file in it, e.g. shard-0-of-1.jsonl</param>
    public ResponseCache(string directory, string fileName)
    {
        Directory.CreateDirectory(directory);
        string own = Path.Combine(directory, fileName);
        if (File.Exists(own)) DropTornTail(own);
        foreach (string file in Directory.GetFiles(directory, "*.jsonl").Order(StringComparer.Ordinal))
            foreach (string line in File.ReadLines(file))
                if (ParseLine(line) is { } parsed) answers[parsed.Key] = parsed.Result;
                // else: a torn line of another writer still at work (or killed); its request is simply asked again.
        writer = new FileStream(own, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    public int Count { get { lock (gate) return answers.Count; } }

    public bool TryGet(string key, out CompletionResult result)
    {
        lock (gate) return answers.TryGetValue(key, out result!);
    }

    public void Add(string key, CompletionResult result)
    {
        var line = result.ToJson();
        line.Insert(0, "key", key);
        byte[] bytes = Encoding.UTF8.GetBytes(line.ToJsonString() + "\n");
        lock (gate)
        {
            if (!answers.TryAdd(key, result)) return;
            writer.Write(bytes);
            writer.Flush(flushToDisk: true);
        }
    }

    static (string Key, CompletionResult Result)? ParseLine(string line)
    {
        if (line.Length == 0) return null;
        try
        {
            if (JsonNode.Parse(line) is JsonObject json && json["key"] is JsonValue k && k.TryGetValue(out string? key)
                && json["choices"] is JsonArray && json["completion_tokens"] is JsonValue)
                return (key, CompletionResult.FromJson(json));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { }
        return null;
    }

    /// <summary>Cuts a last line that a crash left without its newline.</summary>
    static void DropTornTail(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        long end = file.Length;
        while (end > 0)
        {
            file.Position = end - 1;
            if (file.ReadByte() == '\n') break;
            end--;
        }
        if (end != file.Length) file.SetLength(end);
    }

    public void Dispose() => writer.Dispose();
}
