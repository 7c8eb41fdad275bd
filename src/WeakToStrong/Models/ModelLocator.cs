using System.Text.RegularExpressions;

namespace WeakToStrong.Models;

/// <summary>
/// Turns a model reference into a directory: a path as given, or a hub id "org/name" found offline in the
/// Hugging Face cache (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), at the snapshot
/// refs/main points to. Nothing is downloaded.
/// </summary>
public static partial class ModelLocator
{
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
    private static partial Regex HubId();

    public static string Resolve(string reference)
    {
        if (Directory.Exists(reference)) return Path.GetFullPath(reference);
        var looked = new List<string> { Path.GetFullPath(reference) };
        if (HubId().IsMatch(reference))
        {
            string folder = "models--" + reference.Replace("/", "--");
            foreach (var root in HubCacheRoots())
            {
                string repository = Path.Combine(root, folder);
                looked.Add(repository);
                if (Snapshot(repository) is string snapshot) return snapshot;
            }
        }
        throw new InvalidInputException(
            $"model \"{reference}\" not found; looked in: {string.Join(", ", looked)}. " +
            "Give a model directory (config.json, *.safetensors, tokenizer files), or place the model in the Hugging Face cache " +
            "on a machine with access to the hub (e.g. huggingface-cli download " + reference + ") and copy the cache here.");
    }

    public static IEnumerable<string> HubCacheRoots()
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } hubCache) roots.Add(hubCache);
        string home = Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } hfHome
            ? hfHome
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface");
        roots.Add(Path.Combine(home, "hub"));
        return roots.Distinct();
    }

    static string? Snapshot(string repository)
    {
        string snapshots = Path.Combine(repository, "snapshots");
        if (!Directory.Exists(snapshots)) return null;
        string mainRef = Path.Combine(repository, "refs", "main");
        if (File.Exists(mainRef))
        {
            string pinned = Path.Combine(snapshots, File.ReadAllText(mainRef).Trim());
            if (File.Exists(Path.Combine(pinned, "config.json"))) return pinned;
        }
        // No usable refs/main: the most recently written snapshot that has a config.
        return new DirectoryInfo(snapshots).GetDirectories()
            .Where(d => File.Exists(Path.Combine(d.FullName, "config.json")))
            .OrderByDescending(d => d.LastWriteTimeUtc)
            .Select(d => d.FullName)
            .FirstOrDefault();
    }
}
