using System.Security.Cryptography;
using System.Text.Json;
using TorchSharp;

namespace WeakToStrong.Models.Safetensors;

/// <summary>
/// A model checkpoint made of one or more safetensors files: a Hugging Face model directory
/// (sharded with "model.safetensors.index.json", or a single "model.safetensors") or one file.
/// Pickle checkpoints (pytorch_model.bin, *.bin, *.pt, *.pth, *.ckpt) are refused: loading them can
/// execute arbitrary code, and we never do.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    /// <summary>Largest accepted index file, in bytes.</summary>
    public const long MaxIndexBytes = 100_000_000;

    private static readonly string[] PickleExtensions = { ".bin", ".pt", ".pth", ".ckpt" };

    private readonly IReadOnlyList<SafetensorsFile> _files;      // in ordinal file-name order
    private readonly Dictionary<string, SafetensorsFile> _fileOf; // tensor name -> file
    private readonly string[] _names;                             // ordinal order
    private string? _fingerprint;
    private bool _disposed;

    private SafetensorsCheckpoint(string location, string? indexPath, IReadOnlyList<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOf)
    {
        Location = location;
        IndexPath = indexPath;
        _files = files;
        _fileOf = fileOf;
        _names = fileOf.Keys.OrderBy(n => n, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The directory or file the checkpoint was opened from.</summary>
    public string Location { get; }

    /// <summary>The shard index file, or null for a single-file checkpoint.</summary>
    public string? IndexPath { get; }

    /// <summary>The open safetensors files, in ordinal file-name order.</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>All tensor names (for a sharded checkpoint: the index's weight_map keys), in ordinal order.</summary>
    public IReadOnlyCollection<string> Names => _names;

    /// <summary>
    /// Opens a model directory: "model.safetensors.index.json" with its shards if present, else
    /// "model.safetensors". A path to a .safetensors file or an index file is accepted too.
    /// Throws <see cref="InvalidInputException"/> when there is no usable checkpoint, including when only
    /// pickle checkpoints are present.
    /// </summary>
    public static SafetensorsCheckpoint Open(string modelDirectory)
    {
        if (string.IsNullOrWhiteSpace(modelDirectory))
        {
            throw new InvalidInputException("model directory path is empty; expected a directory holding model.safetensors or model.safetensors.index.json.");
        }

        if (File.Exists(modelDirectory))
        {
            string file = modelDirectory;
            if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return OpenFile(file);
            if (IsPickleName(Path.GetFileName(file)))
            {
                throw new InvalidInputException(PickleMessage($"checkpoint '{file}' is a PyTorch pickle file", Path.GetDirectoryName(Path.GetFullPath(file))!));
            }
            if (file.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)) return OpenIndex(file);
            throw new InvalidInputException($"checkpoint '{file}' is neither a .safetensors file nor a safetensors index (.index.json) nor a model directory.");
        }

        if (!Directory.Exists(modelDirectory))
        {
            throw new InvalidInputException($"model directory '{modelDirectory}' does not exist.");
        }

        string index = Path.Combine(modelDirectory, SafetensorsWriter.IndexFileName);
        if (File.Exists(index)) return OpenIndex(index);

        string single = Path.Combine(modelDirectory, SafetensorsWriter.SingleFileName);
        if (File.Exists(single)) return OpenFile(single);

        var present = Directory.EnumerateFiles(modelDirectory).Select(Path.GetFileName).OfType<string>()
                               .OrderBy(n => n, StringComparer.Ordinal).ToList();
        var pickles = present.Where(IsPickleName).ToList();
        if (pickles.Count > 0)
        {
            throw new InvalidInputException(PickleMessage(
                $"model directory '{modelDirectory}' has no safetensors checkpoint, only PyTorch pickle checkpoint files ({string.Join(", ", pickles)})",
                modelDirectory));
        }

        var otherSafetensors = present.Where(n => n.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)).ToList();
        string hint = otherSafetensors.Count > 0
            ? $" It has other .safetensors files ({string.Join(", ", otherSafetensors)}); pass one of them as a file path if that is the checkpoint."
            : "";
        throw new InvalidInputException(
            $"model directory '{modelDirectory}' has no checkpoint: looked for {SafetensorsWriter.IndexFileName} and {SafetensorsWriter.SingleFileName} (and for pickle files *.bin/*.pt/*.pth/*.ckpt, which would be refused).{hint}");
    }

    /// <summary>Opens a single .safetensors file as a checkpoint.</summary>
    public static SafetensorsCheckpoint OpenFile(string path)
    {
        var file = SafetensorsFile.Open(path);
        var fileOf = file.Entries.Keys.ToDictionary(n => n, _ => file, StringComparer.Ordinal);
        return new SafetensorsCheckpoint(path, null, new[] { file }, fileOf);
    }

    private static SafetensorsCheckpoint OpenIndex(string indexPath)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var weightMap = ReadWeightMap(indexPath);

        var opened = new SortedDictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var group in weightMap.GroupBy(kv => kv.Value, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                string shardName = group.Key;
                string shardPath = Path.Combine(directory, shardName);
                if (!File.Exists(shardPath))
                {
                    var first = group.First().Key;
                    int others = group.Count() - 1;
                    throw new InvalidInputException(
                        $"safetensors index '{indexPath}': shard file '{shardName}' (named for tensor '{first}'{(others > 0 ? $" and {others} others" : "")}) does not exist in '{directory}'.");
                }
                opened.Add(shardName, SafetensorsFile.Open(shardPath));
            }

            var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shardName) in weightMap)
            {
                var shard = opened[shardName];
                if (!shard.Contains(tensor))
                {
                    throw new InvalidInputException(
                        $"safetensors index '{indexPath}': tensor '{tensor}' is mapped to shard '{shardName}', but is not present in shard file '{shard.Path}'.");
                }
                fileOf.Add(tensor, shard);
            }

            return new SafetensorsCheckpoint(indexPath, indexPath, opened.Values.ToList(), fileOf);
        }
        catch
        {
            foreach (var f in opened.Values) f.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        InvalidInputException Bad(string what) => new($"safetensors index '{indexPath}': {what}");

        byte[] bytes;
        try
        {
            long length = new FileInfo(indexPath).Length;
            if (length > MaxIndexBytes)
            {
                throw Bad($"file is {length} bytes, more than the {MaxIndexBytes}-byte limit for an index.");
            }
            bytes = File.ReadAllBytes(indexPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Bad($"cannot be read: {ex.Message}");
        }

        // JsonDocument accepts malformed UTF-8 inside strings and only fails later, when a name is read.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw Bad("is not valid UTF-8; expected a UTF-8 JSON object with a \"weight_map\".");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Bad($"is not valid JSON ({ex.Message}); expected an object with a \"weight_map\".");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Bad("must be a JSON object with a \"weight_map\" member.");
            }
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw Bad("has no \"weight_map\" object mapping tensor names to shard file names.");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in map.EnumerateObject())
            {
                if (kv.Value.ValueKind != JsonValueKind.String)
                {
                    throw Bad($"weight_map entry for tensor '{kv.Name}' must be a shard file name string.");
                }
                string shard = kv.Value.GetString()!;
                if (shard.Length == 0 || shard == "." || shard == ".." || Path.GetFileName(shard) != shard
                    || shard.IndexOfAny(new[] { '/', '\\' }) >= 0 || Path.IsPathRooted(shard))
                {
                    throw Bad($"weight_map entry for tensor '{kv.Name}' names shard '{shard}'; expected a plain file name in the index's directory.");
                }
                if (!result.TryAdd(kv.Name, shard))
                {
                    throw Bad($"weight_map names tensor '{kv.Name}' twice.");
                }
            }
            if (result.Count == 0)
            {
                throw Bad("weight_map is empty; expected at least one tensor.");
            }
            return result;
        }
    }

    private static bool IsPickleName(string fileName) =>
        PickleExtensions.Any(ext => fileName.EndsWith(ext, StringComparison.OrdinalIgnoreCase))
        || fileName.Equals("pytorch_model.bin.index.json", StringComparison.OrdinalIgnoreCase);

    private static string PickleMessage(string what, string directory) =>
        $"{what}. Pickle checkpoints are refused: loading one can execute arbitrary code, and this program never runs pickle. " +
        "Convert the model to safetensors once, e.g. in Python with the transformers package: " +
        $"`from transformers import AutoModelForCausalLM; AutoModelForCausalLM.from_pretrained(\"{directory}\").save_pretrained(\"{directory}\", safe_serialization=True)` " +
        "(use the Auto class that matches the model, e.g. AutoModel), then point this program at the directory again.";

    /// <summary>True when the checkpoint has a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _fileOf.ContainsKey(name);

    /// <summary>The header entry of tensor <paramref name="name"/>; throws <see cref="InvalidInputException"/> when absent.</summary>
    public SafetensorsEntry Entry(string name) => FileOf(name).Entry(name);

    /// <summary>Reads tensor <paramref name="name"/> converted to <paramref name="dtype"/> on <paramref name="device"/> (CPU when null).</summary>
    public torch.Tensor ReadTensor(string name, torch.ScalarType dtype, torch.Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return FileOf(name).ReadTensor(name, dtype, device);
    }

    /// <summary>The path of the file that stores tensor <paramref name="name"/>.</summary>
    public string PathOf(string name) => FileOf(name).Path;

    private SafetensorsFile FileOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_fileOf.TryGetValue(name, out var file))
        {
            throw new InvalidInputException($"checkpoint '{Location}': no tensor named '{name}' (it has {_names.Length} tensors).");
        }
        return file;
    }

    /// <summary>
    /// Lower-case hex SHA-256 over the raw header bytes (8-byte length prefix and JSON header, exactly
    /// as stored) of every file, in ordinal file-name order. It identifies the checkpoint's layout —
    /// tensor names, dtypes, shapes, offsets and metadata — without reading tensor data.
    /// </summary>
    public string HeaderFingerprint()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_fingerprint is null)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var file in _files.OrderBy(f => Path.GetFileName(f.Path), StringComparer.Ordinal))
            {
                sha.AppendData(file.RawHeader);
            }
            _fingerprint = Convert.ToHexStringLower(sha.GetHashAndReset());
        }
        return _fingerprint;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var f in _files) f.Dispose();
    }
}
