using System.Security.Cryptography;
using System.Text;
using WeakToStrong;
using WeakToStrong.Experiments;
using WeakToStrong.Tests.World;

namespace WeakToStrong.Tests.Experiments;

/// <summary>
/// Model fingerprints identify content: different weights behind identical safetensors headers differ, the Hugging Face
/// cache's blob names are used as they are, local files are hashed once per size and time, and `wts run --resume` and
/// `wts merge` refuse generations of other weights.
/// </summary>
public class ContentFingerprintTests : IDisposable
{
    protected readonly string scratch = Directory.CreateTempSubdirectory("wts-fingerprints-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }

    protected ContentFingerprints Fingerprints() => new(Path.Combine(scratch, "cache", "fingerprints.json"));

    string CopyFixture(string name, string to)
    {
        string target = Path.Combine(scratch, to);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "tests", "fixtures", name)))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    /// <summary>Changes one byte of the tensor data (after the header), so the header and the file's length stay as they were.</summary>
    internal static void ChangeOneWeightByte(string safetensors)
    {
        var bytes = File.ReadAllBytes(safetensors);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        bytes[8 + headerLength + 5] ^= 0x40;
        var modified = File.GetLastWriteTimeUtc(safetensors);
        File.WriteAllBytes(safetensors, bytes);
        File.SetLastWriteTimeUtc(safetensors, modified.AddSeconds(3)); // a filesystem with coarse times still sees the change
    }

    static byte[] Header(string safetensors)
    {
        var bytes = File.ReadAllBytes(safetensors);
        return bytes[..(8 + (int)BitConverter.ToInt64(bytes, 0))];
    }

    internal static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    static string Listing(IEnumerable<(string Sha256, string Name)> files) =>
        Sha256(Encoding.UTF8.GetBytes(string.Concat(files.OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => $"{f.Sha256}  {f.Name}\n"))));

    [Fact]
    public void WeightsBehindTheSameHeaderGiveAnotherFingerprint()
    {
        string original = CopyFixture("gpt2-tied", "original"), changed = CopyFixture("gpt2-tied", "changed");
        ChangeOneWeightByte(Path.Combine(changed, "model.safetensors"));
        Assert.Equal(Header(Path.Combine(original, "model.safetensors")), Header(Path.Combine(changed, "model.safetensors")));
        Assert.NotEqual(Fingerprints().Fingerprint(original), Fingerprints().Fingerprint(changed));
        // The fingerprint is sha256sum's listing of the files, hashed: anyone can check it without our code.
        Assert.Equal(Listing(Directory.GetFiles(original).Select(f => (Sha256(File.ReadAllBytes(f)), Path.GetFileName(f)))), Fingerprints().Fingerprint(original));
    }

    [Fact]
    public void HubCacheBlobNamesAreReadNotHashed()
    {
        string fixture = Path.Combine(RepositoryPaths.Root, "tests", "fixtures", "gpt2-tied");
        string repository = Path.Combine(scratch, "hub", "models--org--tiny");
        string blobs = Path.Combine(repository, "blobs"), snapshot = Path.Combine(repository, "snapshots", "0123abcd");
        Directory.CreateDirectory(blobs);
        Directory.CreateDirectory(snapshot);
        // An LFS blob is named by its content's SHA-256; this one's name is deliberately not its content's hash, so a
        // fingerprint that hashed the file instead of reading the name would come out different.
        string claimed = new('a', 64);
        File.Copy(Path.Combine(fixture, "model.safetensors"), Path.Combine(blobs, claimed));
        File.CreateSymbolicLink(Path.Combine(snapshot, "model.safetensors"), Path.Combine("..", "..", "blobs", claimed));
        // Small files are plain git blobs, named by their git SHA-1: those are hashed.
        string gitBlob = new('b', 40);
        File.Copy(Path.Combine(fixture, "config.json"), Path.Combine(blobs, gitBlob));
        File.CreateSymbolicLink(Path.Combine(snapshot, "config.json"), Path.Combine("..", "..", "blobs", gitBlob));

        var fingerprints = Fingerprints();
        string fingerprint = fingerprints.Fingerprint(snapshot);
        Assert.Equal(1, fingerprints.FilesHashed);
        Assert.Equal(Listing([(claimed, "model.safetensors"), (Sha256(File.ReadAllBytes(Path.Combine(fixture, "config.json"))), "config.json")]), fingerprint);
        Assert.DoesNotContain(claimed, File.ReadAllText(fingerprints.CacheFile));

        // With an honest blob name, a model in the cache and a plain copy of it have one fingerprint.
        string honest = Sha256(File.ReadAllBytes(Path.Combine(fixture, "model.safetensors")));
        File.Move(Path.Combine(blobs, claimed), Path.Combine(blobs, honest));
        File.Delete(Path.Combine(snapshot, "model.safetensors"));
        File.CreateSymbolicLink(Path.Combine(snapshot, "model.safetensors"), Path.Combine("..", "..", "blobs", honest));
        string copy = Path.Combine(scratch, "copy");
        Directory.CreateDirectory(copy);
        foreach (string name in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(fixture, name), Path.Combine(copy, name));
        Assert.Equal(Fingerprints().Fingerprint(copy), Fingerprints().Fingerprint(snapshot));
    }

    [Fact]
    public void LocalFilesAreHashedOncePerSizeAndModificationTime()
    {
        string model = CopyFixture("gpt2-tied", "model");
        string weights = Path.Combine(model, "model.safetensors");
        var first = Fingerprints();
        string fingerprint = first.Fingerprint(model);
        Assert.Equal(Directory.GetFiles(model).Length, first.FilesHashed);
        Assert.Contains(Path.GetFullPath(weights), File.ReadAllText(first.CacheFile));

        var again = Fingerprints();
        Assert.Equal(fingerprint, again.Fingerprint(model));
        Assert.Equal(0, again.FilesHashed);

        // Same size and time: the cache answers without reading the file (so a hit is really a hit).
        var bytes = File.ReadAllBytes(weights);
        var modified = File.GetLastWriteTimeUtc(weights);
        bytes[^1] ^= 1;
        File.WriteAllBytes(weights, bytes);
        File.SetLastWriteTimeUtc(weights, modified);
        var stale = Fingerprints();
        Assert.Equal(fingerprint, stale.Fingerprint(model));
        Assert.Equal(0, stale.FilesHashed);

        // A new modification time: that file, and only it, is hashed again.
        File.SetLastWriteTimeUtc(weights, modified.AddSeconds(3));
        var changed = Fingerprints();
        Assert.NotEqual(fingerprint, changed.Fingerprint(model));
        Assert.Equal(1, changed.FilesHashed);

        // A damaged cache costs a rehash, never an error or a wrong fingerprint.
        string expected = changed.Fingerprint(model);
        File.WriteAllText(first.CacheFile, "{ not json");
        var rebuilt = Fingerprints();
        var warnings = new List<string>();
        Assert.Equal(expected, rebuilt.Fingerprint(model, warnings.Add));
        Assert.Equal(Directory.GetFiles(model).Length, rebuilt.FilesHashed);
        Assert.Single(warnings, w => w.Contains(first.CacheFile));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(first.CacheFile)!, "*.tmp"));
    }
}

/// <summary>Fingerprints of the quick zoo's models, and `wts run --resume`, `wts merge` and `wts changed-models` on a copy whose weights change.</summary>
[Collection(QuickZooCollection.Name)]
public class ContentFingerprintRunTests(QuickZoo zoo) : IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("wts-fingerprint-runs-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }

    ContentFingerprints Fingerprints() => new(Path.Combine(scratch, "cache", "fingerprints.json"));

    static void ChangeOneWeightByte(string safetensors) => ContentFingerprintTests.ChangeOneWeightByte(safetensors);

    static string Sha256(byte[] bytes) => ContentFingerprintTests.Sha256(bytes);

    [Fact]
    public void TheZoosSmallModelsHaveThreeFingerprints()
    {
        var task = zoo.Tasks["sentiment"];
        string[] small = [task.Model("base-small"), task.SmallTuned, task.SmallUntuned];
        Assert.Equal(3, small.Select(d => Fingerprints().Fingerprint(d)).Distinct().Count());
    }

    const string Config = """
        name: fingerprints
        task: sentiment
        dataset: {prompts: 4}
        models:
          bases: [{name: base-small, path: zoo:base-small}]
          tuned: zoo:small-tuned
          untuned: zoo:small-untuned
          gold: zoo:gold
        methods: [base, small-tuned]
        generation: {max_new_tokens: 6}
        batch_prompts: 2
        """;

    /// <summary>A copy of the quick sentiment zoo whose weights a test may change.</summary>
    string CopyZoo()
    {
        string root = Path.Combine(scratch, "zoo");
        string source = zoo.Tasks["sentiment"].Directory, target = Path.Combine(root, Path.GetFileName(source));
        foreach (string directory in Directory.GetDirectories(source, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(directory.Replace(source, target));
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(source, target));
        return root;
    }

    /// <summary>Exit code 2 in one error line (after run's progress), no stack trace: the error line.</summary>
    static string AssertOneErrorLine(Cli.Wts.Result result)
    {
        Cli.CliErrorAssertions.AssertOneErrorLine(result, 2, afterProgress: true);
        return result.Stderr.TrimEnd('\n').Split('\n')[^1];
    }

    [Fact]
    public void ResumeRefusesARunWhoseWeightsChanged()
    {
        string zooRoot = CopyZoo(), config = Path.Combine(scratch, "fingerprints.yaml"), output = Path.Combine(scratch, "run");
        File.WriteAllText(config, Config);
        var first = Cli.Wts.Run("run", config, "--quick", "--limit", "2", "--output", output, "--zoo", zooRoot);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var recorded = RunManifest.Read(new RunDirectory(output).Manifest).Models["tuned"].Fingerprint;
        var before = Cli.CliErrorAssertions.Snapshot(output);

        string weights = Path.Combine(zooRoot, "sentiment-quick", "small-tuned", "model.safetensors");
        ChangeOneWeightByte(weights);
        string now = Fingerprints().Fingerprint(Path.GetDirectoryName(weights)!);
        var refused = Cli.Wts.Run("run", config, "--quick", "--limit", "2", "--output", output, "--zoo", zooRoot, "--resume");
        string error = AssertOneErrorLine(refused);
        Assert.Contains("model tuned (zoo:small-tuned", error);
        Assert.Contains(recorded[..12], error);
        Assert.Contains(now[..12], error);
        Cli.CliErrorAssertions.AssertUnchanged(before, output);

        // What run-all.sh asks before resuming: exactly the changed model, on stdout.
        var changed = Cli.Wts.Run("changed-models", output, "--zoo", zooRoot);
        Assert.True(changed.ExitCode == 0, changed.Stderr);
        var lines = changed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("model tuned (zoo:small-tuned", lines[0]);
        var unchanged = Cli.Wts.Run("changed-models", output, "--zoo", zoo.Root);
        Assert.True(unchanged.ExitCode == 0 && unchanged.Stdout.Length == 0, unchanged.Stdout + unchanged.Stderr);
    }

    [Fact]
    public void ShardsOfTwoSetsOfWeightsAreNeverMerged()
    {
        string zooRoot = CopyZoo(), config = Path.Combine(scratch, "fingerprints.yaml"), output = Path.Combine(scratch, "sharded");
        File.WriteAllText(config, Config);
        var shard0 = Cli.Wts.Run("run", config, "--quick", "--limit", "2", "--shard", "0/2", "--output", output, "--zoo", zooRoot);
        Assert.True(shard0.ExitCode == 0, shard0.Stderr);
        ChangeOneWeightByte(Path.Combine(zooRoot, "sentiment-quick", "base-small", "model.safetensors"));
        // The second shard, on other weights, is refused when it starts or, at the latest, when the shards are merged.
        var shard1 = Cli.Wts.Run("run", config, "--quick", "--limit", "2", "--shard", "1/2", "--output", output, "--zoo", zooRoot);
        var refused = shard1.ExitCode == 0 ? Cli.Wts.Run("merge", output) : shard1;
        Assert.Contains("model base:base-small (zoo:base-small", AssertOneErrorLine(refused));
        Assert.False(File.Exists(new RunDirectory(output).Generations));
    }
}
