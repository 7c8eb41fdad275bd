using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp;

namespace WeakToStrong.Models.Safetensors;

/// <summary>
/// Writes safetensors files. Output is deterministic: header tensor entries and metadata keys in
/// ordinal name order, the JSON header compact and padded with spaces to a multiple of 8 bytes, data
/// packed back to back with no gaps, ordered by element size (largest first) and then by name, so
/// every tensor starts at a multiple of its element size (readers that view mapped bytes in place,
/// such as Hugging Face's safetensors with torch, need that). Each file is written to "<c>path</c>.tmp", flushed to disk,
/// then renamed over <c>path</c>, so a crash never leaves a half-written file in place of a good one.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Name of the single-file checkpoint in a model directory.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>Name of the shard index in a sharded model directory.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private static readonly Regex ShardNamePattern = new(@"^model-\d{5}-of-\d{5}\.safetensors$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Saves <paramref name="tensors"/> (each in its own dtype; copied to CPU and made contiguous as
    /// needed) and optional string metadata to <paramref name="path"/>, atomically.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var tmp = WriteTemp(path, tensors, metadata);
        Commit(tmp, path);
    }

    /// <summary>
    /// Saves <paramref name="tensors"/> into <paramref name="directory"/> in the Hugging Face layout:
    /// a single "model.safetensors" when everything fits in <paramref name="maxShardBytes"/> of tensor
    /// data, otherwise "model-0000i-of-0000n.safetensors" shards (tensors in name order, a new shard
    /// started whenever the next tensor would overflow the current one; a tensor bigger than the limit
    /// gets a shard of its own) plus "model.safetensors.index.json". Files of an earlier save in the
    /// other layout, or shards no longer used, are removed afterwards. Each file is replaced
    /// atomically; the directory as a whole is not (all new shards are renamed into place just before
    /// the index).
    /// </summary>
    public static void SaveSharded(string directory, IReadOnlyDictionary<string, torch.Tensor> tensors, long maxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (string.IsNullOrWhiteSpace(directory))
        {
            throw new InvalidInputException("safetensors output directory is empty; expected a directory path.");
        }
        if (maxShardBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "maximum shard size must be positive.");
        }
        if (File.Exists(directory))
        {
            throw new InvalidInputException($"safetensors output directory '{directory}' is an existing file; expected a directory.");
        }
        Directory.CreateDirectory(directory);

        var names = tensors.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList();
        var shards = new List<List<string>>();
        long currentBytes = 0;
        long totalBytes = 0;
        foreach (var name in names)
        {
            var tensor = tensors[name] ?? throw new InvalidInputException($"safetensors output '{directory}': tensor '{name}' is null.");
            long bytes = checked(tensor.NumberOfElements * tensor.ElementSize);
            if (shards.Count == 0 || (shards[^1].Count > 0 && currentBytes + bytes > maxShardBytes))
            {
                shards.Add(new List<string>());
                currentBytes = 0;
            }
            shards[^1].Add(name);
            currentBytes += bytes;
            totalBytes += bytes;
        }

        if (shards.Count <= 1)
        {
            Save(System.IO.Path.Combine(directory, SingleFileName), tensors);
            DeleteIfExists(System.IO.Path.Combine(directory, IndexFileName));
            RemoveStaleShards(directory, keep: new HashSet<string>());
            return;
        }

        int n = shards.Count;
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var pending = new List<(string Tmp, string Final)>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                string fileName = $"model-{i + 1:D5}-of-{n:D5}.safetensors";
                var subset = shards[i].ToDictionary(k => k, k => tensors[k], StringComparer.Ordinal);
                string final = System.IO.Path.Combine(directory, fileName);
                pending.Add((WriteTemp(final, subset, null), final));
                foreach (var name in shards[i]) weightMap[name] = fileName;
            }

            string indexPath = System.IO.Path.Combine(directory, IndexFileName);
            pending.Add((WriteTempBytes(indexPath, BuildIndexJson(totalBytes, weightMap)), indexPath));
        }
        catch
        {
            foreach (var (tmp, _) in pending) DeleteIfExists(tmp);
            throw;
        }

        // The index goes last, so a reader never sees a new index naming shards not yet in place.
        for (int i = 0; i < pending.Count; i++)
        {
            try
            {
                Commit(pending[i].Tmp, pending[i].Final);
            }
            catch
            {
                for (int j = i + 1; j < pending.Count; j++) DeleteIfExists(pending[j].Tmp);
                throw;
            }
        }

        DeleteIfExists(System.IO.Path.Combine(directory, SingleFileName));
        RemoveStaleShards(directory, keep: new HashSet<string>(weightMap.Values, StringComparer.Ordinal));
    }

    private static byte[] BuildIndexJson(long totalBytes, IReadOnlyDictionary<string, string> weightMap)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteNumber("total_size", totalBytes);
            w.WriteEndObject();
            w.WriteStartObject("weight_map");
            foreach (var kv in weightMap) w.WriteString(kv.Key, kv.Value);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    /// <summary>Builds the 8-byte prefix plus padded JSON header for the given layout.</summary>
    internal static byte[] BuildHeader(
        IReadOnlyList<(string Name, string DType, long[] Shape, long Begin, long End)> entries,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WriteString(kv.Key, kv.Value);
                }
                w.WriteEndObject();
            }
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType);
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(e.Begin);
                w.WriteNumberValue(e.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }

        int jsonLength = (int)ms.Length;
        int padded = (jsonLength + 7) / 8 * 8;
        var header = new byte[SafetensorsFile.PrefixBytes + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        ms.GetBuffer().AsSpan(0, jsonLength).CopyTo(header.AsSpan(SafetensorsFile.PrefixBytes));
        header.AsSpan(SafetensorsFile.PrefixBytes + jsonLength).Fill((byte)' ');
        return header;
    }

    private static string WriteTemp(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidInputException("safetensors output path is empty; expected a file path.");
        }
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Writing safetensors data requires a little-endian machine.");
        }
        if (metadata is not null)
        {
            foreach (var kv in metadata)
            {
                if (kv.Value is null)
                {
                    throw new InvalidInputException($"safetensors output '{path}': metadata value for key '{kv.Key}' is null; expected a string.");
                }
            }
        }

        foreach (var (name, tensor) in tensors)
        {
            if (name.Length == 0 || name == "__metadata__")
            {
                throw new InvalidInputException($"safetensors output '{path}': tensor name '{name}' is not allowed; expected a non-empty name other than \"__metadata__\".");
            }
            if (tensor is null)
            {
                throw new InvalidInputException($"safetensors output '{path}': tensor '{name}' is null.");
            }
            if (SafetensorsDTypes.FromScalarType(tensor.dtype) is null)
            {
                throw new InvalidInputException($"safetensors output '{path}': tensor '{name}' has dtype {tensor.dtype}, which cannot be stored; expected one of {SafetensorsDTypes.SupportedList}.");
            }
        }

        // Element sizes are powers of two, so packing the largest first keeps every tensor aligned.
        var names = tensors.Keys.OrderByDescending(n => tensors[n].ElementSize)
                                .ThenBy(n => n, StringComparer.Ordinal)
                                .ToList();
        var layout = new List<(string Name, string DType, long[] Shape, long Begin, long End)>(names.Count);
        long offset = 0;
        foreach (var name in names)
        {
            var tensor = tensors[name];
            long bytes = checked(tensor.NumberOfElements * tensor.ElementSize);
            layout.Add((name, SafetensorsDTypes.FromScalarType(tensor.dtype)!, tensor.shape, offset, offset + bytes));
            offset += bytes;
        }

        byte[] header = BuildHeader(layout.OrderBy(e => e.Name, StringComparer.Ordinal).ToList(), metadata);

        string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        string tmp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                stream.Write(header);
                foreach (var name in names)
                {
                    WriteTensorData(stream, tensors[name]);
                }
                stream.Flush(flushToDisk: true);
            }
            return tmp;
        }
        catch
        {
            DeleteIfExists(tmp);
            throw;
        }
    }

    private static void WriteTensorData(Stream stream, torch.Tensor tensor)
    {
        if (tensor.NumberOfElements == 0) return;
        using var detached = tensor.detach();
        using var cpu = detached.cpu();
        using var contiguous = cpu.contiguous();
        long total = contiguous.NumberOfElements;
        long elementSize = contiguous.ElementSize;
        long chunkElements = (1L << 30) / elementSize;
        using var flat = contiguous.reshape(-1);
        for (long first = 0; first < total; first += chunkElements)
        {
            long count = Math.Min(chunkElements, total - first);
            using var chunk = flat.narrow(0, first, count);
            stream.Write(chunk.bytes);
        }
    }

    private static string WriteTempBytes(string path, byte[] content)
    {
        string tmp = path + ".tmp";
        try
        {
            using var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None);
            stream.Write(content);
            stream.Flush(flushToDisk: true);
            return tmp;
        }
        catch
        {
            DeleteIfExists(tmp);
            throw;
        }
    }

    private static void Commit(string tmp, string final)
    {
        try
        {
            File.Move(tmp, final, overwrite: true);
        }
        catch
        {
            DeleteIfExists(tmp);
            throw;
        }
    }

    private static void RemoveStaleShards(string directory, HashSet<string> keep)
    {
        foreach (var file in Directory.EnumerateFiles(directory, "model-*-of-*.safetensors"))
        {
            string name = System.IO.Path.GetFileName(file);
            if (ShardNamePattern.IsMatch(name) && !keep.Contains(name))
            {
                File.Delete(file);
            }
        }
    }

    private static void DeleteIfExists(string path)
    {
        try
        {
            if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary or stale file is harmless to readers.
        }
    }
}
