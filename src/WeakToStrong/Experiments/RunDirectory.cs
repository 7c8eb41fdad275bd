using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using WeakToStrong.Models.Api;

namespace WeakToStrong.Experiments;

/// <summary>
/// The files of one run: manifest, the config as run, generations (one log per shard), tables, figures.
/// A run with n = 1 shard writes generations.jsonl; shard i of n writes generations.shard-i-of-n.jsonl and
/// `wts merge` combines them.
/// </summary>
public sealed record RunDirectory(string Path)
{
    public string Manifest => Join("manifest.json");
    public string Config => Join("config.yaml");
    /// <summary>Answers of a base model behind an API, one file per shard (<see cref="ResponseCache"/>).</summary>
    public string ApiCache => Join(ResponseCache.DirectoryName);
    public string Generations => Join("generations.jsonl");
    public string Samples => Join("samples.csv");
    public string Summary => Join("summary.csv");
    public string Figures => Join("figures");
    public string AlpacaEval => Join("alpaca_eval");

    public string ShardGenerations(int index, int count) => count == 1 ? Generations : Join($"generations.shard-{index}-of-{count}.jsonl");
    public string ShardManifest(int index, int count) => count == 1 ? Manifest : Join($"manifest.shard-{index}-of-{count}.json");

    public IReadOnlyList<string> ShardLogs() =>
        Directory.Exists(Path) ? Directory.GetFiles(Path, "generations.shard-*-of-*.jsonl").Order(StringComparer.Ordinal).ToArray() : [];

    /// <summary>Every manifest here: manifest.json (an unsharded or merged run) and each shard's.</summary>
    public IReadOnlyList<string> Manifests() =>
        Directory.Exists(Path) ? Directory.GetFiles(Path, "manifest*.json").Where(f => IsManifestName(System.IO.Path.GetFileName(f))).Order(StringComparer.Ordinal).ToArray() : [];

    /// <summary>The lock a writer of shard i of n holds (n = 1: the whole run, also held by merge and evaluate).</summary>
    public string ShardLock(int index, int count) => Join(count == 1 ? ".wts-run.lock" : $".wts-shard-{index}-of-{count}.lock");

    /// <summary>Takes the writer's lock of shard i of n, or refuses at once naming the process that holds it.</summary>
    public WriterLock Lock(int index, int count) =>
        WriterLock.Acquire(ShardLock(index, count), count == 1 ? $"run directory {Path}" : $"shard {index}/{count} of run directory {Path}");

    /// <summary>The names a run writes: anything else in its directory is someone else's.</summary>
    public static bool IsRunFileName(string name) =>
        name is "config.yaml" or "generations.jsonl" or "samples.csv" or "summary.csv" or "figures" or "alpaca_eval" or ResponseCache.DirectoryName
        || IsManifestName(name) || WriterLock.IsLockFile(name) || name.EndsWith(".tmp", StringComparison.Ordinal)
        || (name.StartsWith("generations.shard-", StringComparison.Ordinal) && name.EndsWith(".jsonl", StringComparison.Ordinal));

    static bool IsManifestName(string name) =>
        name == "manifest.json" || (name.StartsWith("manifest.shard-", StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal));

    string Join(string name) => System.IO.Path.Combine(Path, name);

    public static void WriteAtomically(string path, string text) => OutputLocations.WriteAtomically(path, text);
}

/// <summary>
/// What a run was: the config (text and hash), code version, model fingerprints, machine and options; and, once it has
/// generated, the seconds it spent outside the search (<see cref="Setup"/>).
/// </summary>
public sealed record RunManifest(
    string ConfigName, string ConfigFile, string ConfigSha256, string ConfigText, string CodeVersion, string CreatedUtc,
    IReadOnlyDictionary<string, string> Machine, IReadOnlyDictionary<string, ModelFingerprint> Models,
    int ShardIndex, int ShardCount, bool Quick, int? Limit, SetupSeconds? Setup = null)
{
    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // the config text stays readable
    };

    public static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>The assembly's informational version, which the SDK suffixes with the git commit (+sha).</summary>
    public static string CodeVersionNow =>
        typeof(RunManifest).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static IReadOnlyDictionary<string, string> MachineNow() => new SortedDictionary<string, string>
    {
        ["host"] = Environment.MachineName,
        ["os"] = RuntimeInformation.OSDescription,
        ["architecture"] = RuntimeInformation.OSArchitecture.ToString(),
        ["processors"] = Environment.ProcessorCount.ToString(),
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["torch_threads"] = TorchSharp.torch.get_num_threads().ToString(),
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static RunManifest Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), Json) ?? throw new JsonException("null");
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new InvalidInputException($"{path}: not a run manifest ({e.Message})");
        }
    }

    /// <summary>Why a run with this manifest cannot continue the run recorded in <paramref name="recorded"/>, or null.</summary>
    public string? Conflict(RunManifest recorded)
    {
        if (recorded.ConfigSha256 != ConfigSha256) return "the config changed since (its SHA-256 differs)";
        if (recorded.Quick != Quick) return $"it was run {(recorded.Quick ? "with" : "without")} --quick";
        if (recorded.Limit != Limit) return $"it was run with --limit {recorded.Limit?.ToString() ?? "(none)"}";
        return ChangedModels(recorded) is [var changed, ..] ? changed : null;
    }

    /// <summary>One line per model whose content differs from the one <paramref name="recorded"/> ran with (none: the same weights).</summary>
    public IReadOnlyList<string> ChangedModels(RunManifest recorded) =>
        Models.Where(m => recorded.Models.TryGetValue(m.Key, out var before) && before.Fingerprint != m.Value.Fingerprint)
            .Select(m => $"model {m.Key} ({m.Value.Reference} at {m.Value.Path}) is not the one the run used: its weights, config or tokenizer changed " +
                $"(fingerprint {recorded.Models[m.Key].Fingerprint[..12]}… recorded, {m.Value.Fingerprint[..12]}… here)")
            .ToArray();
}

public sealed record ModelFingerprint(string Reference, string Path, string Fingerprint);

/// <summary>
/// Seconds a run spent outside the search, which its seconds per sample leave out: reading models (weights, tokenizer)
/// and warming them up (each method's first call on each base model: the JIT compiling the search, libtorch's first
/// allocations). Summed over every invocation that generated (a resumed run adds its own) and over shards.
/// </summary>
public sealed record SetupSeconds(double Load, double WarmUp)
{
    public static SetupSeconds operator +(SetupSeconds a, SetupSeconds b) => new(a.Load + b.Load, a.WarmUp + b.WarmUp);

    public override string ToString() =>
        FormattableString.Invariant($"load/warm-up: {Load:F1} s loading models, {WarmUp:F1} s warming them up (not in s/sample)");
}
