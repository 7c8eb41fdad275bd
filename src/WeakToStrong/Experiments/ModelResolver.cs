using WeakToStrong.Models;
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

    /// <summary>The model's content fingerprint (<see cref="ContentFingerprints"/>), with the hash cache in its default place.</summary>
    public static string Fingerprint(string directory, Action<string>? log = null) => ContentFingerprints.Default.Fingerprint(directory, log);
}
