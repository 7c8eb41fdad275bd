using System.Text.Json;
using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;
using static WeakToStrong.Tests.Models.Safetensors.SafetensorsBytes;

namespace WeakToStrong.Tests.Models.Safetensors;

/// <summary>Opening checkpoints: single files, sharded directories, pickle refusal and broken indexes.</summary>
public sealed class SafetensorsCheckpointTests : TempDirectoryTest
{
    static readonly byte[] OneTwoFile = Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", Floats(1, 2));
    static readonly byte[] ThreeFile = Build("""{"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}""", Floats(3));

    /// <summary>A directory with two shards (tensor a in the first, b in the second) and the given index JSON.</summary>
    string ShardedDirectory(string indexJson)
    {
        string dir = Path.Combine(Work, "sharded-" + Guid.NewGuid().ToString("N")[..8]);
        WriteFile(Path.Combine(dir, "model-00001-of-00002.safetensors"), OneTwoFile);
        WriteFile(Path.Combine(dir, "model-00002-of-00002.safetensors"), ThreeFile);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), indexJson);
        return dir;
    }

    const string GoodIndex = """{"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}""";

    static InvalidInputException OpenFails(string path, params string[] problem)
    {
        var error = Assert.Throws<InvalidInputException>(() => SafetensorsCheckpoint.Open(path).Dispose());
        foreach (var part in problem) Assert.Contains(part, error.Message);
        return error;
    }

    [Fact]
    public void ShardedFixtureMatchesItsIndexAndItsShards()
    {
        string dir = RepositoryPaths.Fixture("llama-sharded");
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "model.safetensors.index.json")));
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        Assert.Equal(Path.Combine(dir, "model.safetensors.index.json"), checkpoint.IndexPath);
        Assert.Equal(weightMap.Keys.Order(StringComparer.Ordinal), checkpoint.Names);
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"], checkpoint.Files.Select(f => Path.GetFileName(f.Path)));

        var shards = weightMap.Values.Distinct().ToDictionary(s => s, s => Parse(File.ReadAllBytes(Path.Combine(dir, s))));
        Assert.Equal(new[] { "F16", "F32" }, shards.Values.SelectMany(s => s.Tensors.Values.Select(t => t.DType)).Distinct().Order());
        foreach (var (name, shard) in weightMap)
        {
            var expected = shards[shard].Tensors[name];
            Assert.Equal(expected.DType, checkpoint.Entry(name).DType);
            using var actual = checkpoint.ReadTensor(name, ScalarType.Float32);
            Assert.Equal(ScalarType.Float32, actual.dtype);
            Assert.Equal(expected.Shape, actual.shape);
            Assert.Equal(Decode(expected.DType, expected.Data), actual.data<float>().ToArray().Select(v => (double)v));
        }
    }

    [Fact]
    public void Bf16FixtureDirectoryOpensAsASingleFile()
    {
        string dir = RepositoryPaths.Fixture("llama-bf16");
        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        Assert.Null(checkpoint.IndexPath);
        Assert.Equal(Path.Combine(dir, "model.safetensors"), Assert.Single(checkpoint.Files).Path);
        var raw = Parse(File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        var (name, expected) = raw.Tensors.First(t => t.Value.Shape.Length == 2);
        using var actual = checkpoint.ReadTensor(name, ScalarType.Float32);
        Assert.Equal(Decode("BF16", expected.Data), actual.data<float>().ToArray().Select(v => (double)v));
    }

    [Fact]
    public void HandMadeShardsOpenFromTheDirectoryAndFromTheIndexPath()
    {
        string dir = ShardedDirectory(GoodIndex);
        foreach (var location in new[] { dir, Path.Combine(dir, "model.safetensors.index.json") })
        {
            using var checkpoint = SafetensorsCheckpoint.Open(location);
            Assert.Equal(["a", "b"], checkpoint.Names);
            using var a = checkpoint.ReadTensor("a", ScalarType.Float32);
            using var b = checkpoint.ReadTensor("b", ScalarType.Float64);
            Assert.Equal(new[] { 1f, 2f }, a.data<float>().ToArray());
            Assert.Equal(3.0, b.item<double>());
        }
    }

    [Fact]
    public void SingleFilePathOpens()
    {
        string path = WriteFile("weights.safetensors", OneTwoFile);
        using var checkpoint = SafetensorsCheckpoint.Open(path);
        Assert.Equal(["a"], checkpoint.Names);
        Assert.True(checkpoint.Contains("a"));
        Assert.False(checkpoint.Contains("b"));
    }

    [Fact]
    public void UnknownTensorNameNamesTheCheckpoint()
    {
        string dir = ShardedDirectory(GoodIndex);
        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        var error = Assert.Throws<InvalidInputException>(() => checkpoint.ReadTensor("c", ScalarType.Float32));
        Assert.Contains("'c'", error.Message);
        Assert.Contains(dir, error.Message);
    }

    [Fact]
    public void IndexNamingAMissingShardIsAClearError()
    {
        string dir = ShardedDirectory("""{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00003.safetensors"}}""");
        OpenFails(dir, "model.safetensors.index.json", "shard file 'model-00002-of-00003.safetensors'", "tensor 'b'", "does not exist");
    }

    [Fact]
    public void IndexNamingATensorTheShardLacksIsAClearError()
    {
        string dir = ShardedDirectory("""{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors"}}""");
        OpenFails(dir, "model.safetensors.index.json", "tensor 'b'", "not present in shard file", "model-00001-of-00002.safetensors");
    }

    [Fact]
    public void IndexThatIsNotJson() => OpenFails(ShardedDirectory("{\"weight_map\": "), "model.safetensors.index.json", "not valid JSON");

    [Fact]
    public void IndexThatIsNotUtf8()
    {
        string dir = ShardedDirectory(GoodIndex);
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors.index.json"), [.. "{\"weight_map\":{\""u8, 0xFF, .. "\":\"x\"}}"u8]);
        OpenFails(dir, "model.safetensors.index.json", "not valid UTF-8");
    }

    [Fact]
    public void IndexWithoutWeightMap() => OpenFails(ShardedDirectory("""{"metadata":{}}"""), "model.safetensors.index.json", "no \"weight_map\"");

    [Fact]
    public void IndexWithEmptyWeightMap() => OpenFails(ShardedDirectory("""{"weight_map":{}}"""), "weight_map is empty");

    [Fact]
    public void IndexWithNonStringShard() => OpenFails(ShardedDirectory("""{"weight_map":{"a":1}}"""), "entry for tensor 'a'", "shard file name string");

    [Fact]
    public void IndexNamingAShardOutsideItsDirectory()
    {
        WriteFile("outside.safetensors", OneTwoFile);
        OpenFails(ShardedDirectory("""{"weight_map":{"a":"../outside.safetensors"}}"""), "'../outside.safetensors'", "plain file name");
    }

    [Fact]
    public void IndexNamingATensorTwice() =>
        OpenFails(ShardedDirectory("""{"weight_map":{"a":"model-00001-of-00002.safetensors","a":"model-00001-of-00002.safetensors"}}"""), "tensor 'a' twice");

    [Fact]
    public void BrokenShardIsReportedWithTheShardPath()
    {
        string dir = ShardedDirectory(GoodIndex);
        string shard = Path.Combine(dir, "model-00002-of-00002.safetensors");
        File.WriteAllBytes(shard, [1, 2, 3]);
        OpenFails(dir, shard, "truncated");
    }

    [Fact]
    public void PickleOnlyDirectoryIsRefusedWithConversionAdvice()
    {
        string dir = Path.Combine(Work, "pickle");
        // Not a real pickle: if anything tried to unpickle it, the error would differ from the refusal.
        WriteFile(Path.Combine(dir, "pytorch_model.bin"), "not a pickle"u8.ToArray());
        var error = OpenFails(dir, dir, "pytorch_model.bin", "pickle", "safetensors", "save_pretrained", "safe_serialization=True");
        Assert.DoesNotContain("does not exist", error.Message);
    }

    [Fact]
    public void ShardedPickleDirectoryIsRefused()
    {
        string dir = Path.Combine(Work, "pickle-sharded");
        WriteFile(Path.Combine(dir, "pytorch_model-00001-of-00002.bin"), [0x80, 0x02]);
        WriteFile(Path.Combine(dir, "pytorch_model.bin.index.json"), "{\"weight_map\":{}}"u8.ToArray());
        OpenFails(dir, "pytorch_model-00001-of-00002.bin", "pytorch_model.bin.index.json", "pickle", "save_pretrained");
    }

    [Theory]
    [InlineData("pytorch_model.bin")]
    [InlineData("model.pt")]
    [InlineData("weights.ckpt")]
    [InlineData("pytorch_model.bin.index.json")]
    public void PickleFilePathIsRefusedWithConversionAdvice(string fileName)
    {
        string path = WriteFile(fileName, [0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]);
        OpenFails(path, path, "pickle", "save_pretrained");
    }

    [Fact]
    public void SafetensorsIsPreferredOverAPickleBesideIt()
    {
        string dir = Path.Combine(Work, "both");
        WriteFile(Path.Combine(dir, "pytorch_model.bin"), [0x80, 0x02]);
        WriteFile(Path.Combine(dir, "model.safetensors"), OneTwoFile);
        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        Assert.Equal(["a"], checkpoint.Names);
    }

    [Fact]
    public void DirectoryWithoutACheckpointSaysWhatWasLookedFor()
    {
        string dir = Path.Combine(Work, "empty");
        WriteFile(Path.Combine(dir, "adapter.safetensors"), OneTwoFile);
        OpenFails(dir, dir, "model.safetensors.index.json", "model.safetensors", "adapter.safetensors");
    }

    [Fact]
    public void MissingDirectoryAndUnknownFileKindAreRefused()
    {
        OpenFails(Path.Combine(Work, "absent"), "absent", "does not exist");
        OpenFails(WriteFile("config.json", "{}"u8.ToArray()), "config.json", "neither a .safetensors file");
        OpenFails(" ", "empty");
    }

    [Fact]
    public void HeaderFingerprintFollowsTheLayoutNotTheLocation()
    {
        string first = ShardedDirectory(GoodIndex);
        string second = ShardedDirectory(GoodIndex);
        string changed = ShardedDirectory(GoodIndex);
        // Same byte length, another shape: only the header differs.
        File.WriteAllBytes(Path.Combine(changed, "model-00001-of-00002.safetensors"),
            Build("""{"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}""", Floats(1, 2)));
        string valuesChanged = ShardedDirectory(GoodIndex);
        File.WriteAllBytes(Path.Combine(valuesChanged, "model-00001-of-00002.safetensors"),
            Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", Floats(5, 6)));

        string Fingerprint(string dir) { using var c = SafetensorsCheckpoint.Open(dir); return c.HeaderFingerprint(); }
        Assert.Matches("^[0-9a-f]{64}$", Fingerprint(first));
        Assert.Equal(Fingerprint(first), Fingerprint(second));
        Assert.Equal(Fingerprint(first), Fingerprint(valuesChanged));
        Assert.NotEqual(Fingerprint(first), Fingerprint(changed));
    }

    [Fact]
    public void ReadingAfterDisposeThrows()
    {
        var checkpoint = SafetensorsCheckpoint.Open(ShardedDirectory(GoodIndex));
        checkpoint.Dispose();
        Assert.Throws<ObjectDisposedException>(() => checkpoint.ReadTensor("a", ScalarType.Float32));
    }
}
