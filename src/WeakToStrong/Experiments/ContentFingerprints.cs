using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using WeakToStrong.Models;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Experiments;

/// <summary>
/// A model directory's fingerprint: the SHA-256 of the listing "SHA256  NAME\n" (sha256sum's format, names in ordinal
/// order) of the files that decide what the model computes: config.json, generation_config.json, the tokenizer files and
/// every *.safetensors. Two directories with the same fingerprint hold the same bytes, so a run's generations can only be
/// continued with the weights that made them; `cd DIR && sha256sum FILES | sha256sum` gives the same hash.
/// A file's SHA-256 is read from its name where the Hugging Face cache already holds it (a snapshot file links to
/// blobs/SHA256 for every LFS file); any other file is hashed once, streamed, and remembered in a small JSON cache keyed by
/// the file's absolute path, size and modification time, so a later run hashes nothing that did not change.
/// </summary>
public sealed partial class ContentFingerprints(string cacheFile)
{
    /// <summary>Files at least this large are announced before they are hashed (about a second each).</summary>
    public const long AnnouncedBytes = 256L << 20;

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Hex();

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>$WTS_CACHE_DIR, else $XDG_CACHE_HOME/weak-to-strong, else ~/.cache/weak-to-strong (the zoo's parent by default).</summary>
    public static string DefaultCacheDirectory =>
        Environment.GetEnvironmentVariable("WTS_CACHE_DIR") is { Length: > 0 } explicitDirectory ? explicitDirectory
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "weak-to-strong");

    public static ContentFingerprints Default => new(Path.Combine(DefaultCacheDirectory, "fingerprints.json"));

    public string CacheFile => cacheFile;

    /// <summary>How many files the last <see cref="Fingerprint"/> call read and hashed (cache misses outside the hub cache).</summary>
    public int FilesHashed { get; private set; }

    /// <summary>The files a fingerprint covers, by name, in the order they are listed.</summary>
    public static IReadOnlyList<string> FilesOf(string directory) =>
        Directory.GetFiles(directory).Select(f => Path.GetFileName(f))
            .Where(name => name is "config.json" || name == TokenizerSettings.GenerationConfigFile || PretrainedModels.TokenizerFiles.Contains(name)
                || name.EndsWith(".safetensors", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();

    public string Fingerprint(string directory, Action<string>? log = null)
    {
        // A directory without safetensors weights is left to the loader, whose error says what it found instead.
        var files = FilesOf(directory);
        FilesHashed = 0;
        var cache = Load(log);
        var hashed = new Dictionary<string, CachedHash>(StringComparer.Ordinal);
        var listing = new StringBuilder();
        foreach (string name in files)
            listing.Append(FileSha256(Path.Combine(directory, name), cache, hashed, log)).Append("  ").Append(name).Append('\n');
        if (hashed.Count > 0) Save(hashed, log);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(listing.ToString())));
    }

    /// <summary>The file's content SHA-256: its blob's name in the Hugging Face cache, a cached hash of the same size and time, or hashed now.</summary>
    string FileSha256(string path, IReadOnlyDictionary<string, CachedHash> cache, Dictionary<string, CachedHash> hashed, Action<string>? log)
    {
        var link = new FileInfo(path);
        var file = link.LinkTarget is null ? link : link.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
        if (file is not { Exists: true }) throw new InvalidInputException($"{path}: a link to {link.LinkTarget}, which does not exist");
        if (file.Directory?.Name == "blobs" && Sha256Hex().IsMatch(file.Name)) return file.Name; // LFS blobs are named by their SHA-256
        var key = new CachedHash(file.Length, file.LastWriteTimeUtc.Ticks, "");
        if (cache.TryGetValue(file.FullName, out var known) && known.Size == key.Size && known.ModifiedTicks == key.ModifiedTicks && Sha256Hex().IsMatch(known.Sha256))
            return known.Sha256;
        var clock = Stopwatch.StartNew();
        if (file.Length >= AnnouncedBytes)
            log?.Invoke($"fingerprinting {path} ({file.Length / 1e9:F1} GB): hashing its content once; later runs find it in {cacheFile}");
        string sha256;
        try
        {
            using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            sha256 = Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidInputException($"{path}: cannot read it to fingerprint the model ({e.Message})");
        }
        if (file.Length >= AnnouncedBytes)
            log?.Invoke($"fingerprinting {path}: {file.Length / 1e9 / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):F1} GB/s");
        FilesHashed++;
        hashed[file.FullName] = key with { Sha256 = sha256 };
        return sha256;
    }

    sealed record CachedHash(long Size, long ModifiedTicks, string Sha256);

    sealed record CacheContents(int Version, Dictionary<string, CachedHash> Files);

    Dictionary<string, CachedHash> Load(Action<string>? log)
    {
        if (!File.Exists(cacheFile)) return new(StringComparer.Ordinal);
        try
        {
            var contents = JsonSerializer.Deserialize<CacheContents>(File.ReadAllText(cacheFile), Json);
            if (contents is { Version: 1, Files: not null }) return new(contents.Files, StringComparer.Ordinal);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException) { }
        // Only a cache: a damaged one costs a rehash, never a wrong fingerprint.
        log?.Invoke($"warning: {cacheFile} is not a fingerprint cache; hashing the models' files again and writing a new one");
        return new(StringComparer.Ordinal);
    }

    /// <summary>
    /// Adds the new hashes to the cache file as it is now (another process may have added some since), dropping files that
    /// no longer exist; written whole and renamed into place, so a reader never sees half a file.
    /// </summary>
    void Save(IReadOnlyDictionary<string, CachedHash> hashed, Action<string>? log)
    {
        string temporary = $"{cacheFile}.{Environment.ProcessId}.tmp";
        try
        {
            var files = Load(null);
            foreach (var (path, hash) in hashed) files[path] = hash;
            foreach (string gone in files.Keys.Where(p => !File.Exists(p)).ToArray()) files.Remove(gone);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cacheFile))!);
            File.WriteAllText(temporary, JsonSerializer.Serialize(new CacheContents(1, new(files.OrderBy(f => f.Key, StringComparer.Ordinal))), Json));
            File.Move(temporary, cacheFile, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The fingerprints are right without the cache; a later run hashes these files again.
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            log?.Invoke($"warning: cannot write the fingerprint cache {cacheFile} ({e.Message}); later runs hash these models again");
        }
    }
}
