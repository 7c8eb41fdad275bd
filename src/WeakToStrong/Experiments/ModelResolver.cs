using System.Security.Cryptography;
using WeakToStrong.Models;
using WeakToStrong.Models.Safetensors;
using WeakToStrong.World;

namespace WeakToStrong.Experiments;

/// <summary>
/// Turns a config's model references into directories: zoo:NAME is the embedded world's model for the
/// experiment's task (the quick zoo with --quick), anything else a directory or a hub id in the local cache.
/// </summary>
public sealed class ModelResolver(string zooRoot, string task, bool quickZoo)
{
    public const string ZooPrefix = "zoo:";

    public ZooTask Zoo { get; } = World.Zoo.Locate(zooRoot, task, quickZoo);

    public string Resolve(string reference, string field)
    {
        if (!reference.StartsWith(ZooPrefix, StringComparison.Ordinal))
        {
            try { return ModelLocator.Resolve(reference); }
            catch (InvalidInputException e) { throw new InvalidInputException($"{field}: {e.Message}"); }
        }
        string name = reference[ZooPrefix.Length..];
        string directory = Zoo.Model(name);
        if (File.Exists(Path.Combine(directory, "config.json"))) return directory;
        string known = Directory.Exists(Zoo.Directory)
            ? string.Join(", ", Directory.GetDirectories(Zoo.Directory).Where(d => File.Exists(Path.Combine(d, "config.json"))).Select(Path.GetFileName).Order())
            : "";
        throw new InvalidInputException(Directory.Exists(Zoo.Directory) && known.Length > 0
            ? $"{field}: the {task} zoo at {Zoo.Directory} has no model \"{name}\"; it has: {known}"
            : $"{field}: the {task} zoo is not built at {Zoo.Directory}; run `wts zoo build --task {task}{(Zoo.Plan.Quick ? " --quick" : "")}` (or ./run-all.sh), or set WTS_ZOO_DIR");
    }

    /// <summary>
    /// SHA-256 of config.json and every safetensors header (names, dtypes, shapes, offsets) with the file's
    /// length: identifies a checkpoint in a run manifest without reading gigabytes of weights.
    /// </summary>
    public static string Fingerprint(string directory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string file in new[] { "config.json" }.Concat(Directory.GetFiles(directory, "*.safetensors").Select(f => Path.GetFileName(f)).Order()))
        {
            string path = Path.Combine(directory, file);
            if (!File.Exists(path)) continue;
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(file + "\n"));
            if (file.EndsWith(".safetensors", StringComparison.Ordinal))
            {
                using var safetensors = SafetensorsFile.Open(path);
                hash.AppendData(safetensors.RawHeader);
                hash.AppendData(BitConverter.GetBytes(safetensors.FileLength));
            }
            else hash.AppendData(File.ReadAllBytes(path));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
