using System.Diagnostics;
using System.Text;
using System.Text.Json;
using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;
using static WeakToStrong.Tests.Models.Safetensors.SafetensorsBytes;

namespace WeakToStrong.Tests.Models.Safetensors;

/// <summary>SafetensorsWriter: round trips, byte layout, determinism, atomic replacement and sharding.</summary>
public sealed class SafetensorsWriterTests : TempDirectoryTest
{
    /// <summary>One tensor of every writable dtype plus awkward layouts: scalar, empty, transposed and offset views.</summary>
    static Dictionary<string, Tensor> EveryKind()
    {
        var generator = new TorchSharp.torch.Generator(1234);
        var wide = randn(5, 6, generator: generator);
        return new Dictionary<string, Tensor>
        {
            ["f64"] = randn(3, 2, dtype: ScalarType.Float64, generator: generator),
            ["f32"] = randn(4, generator: generator),
            ["f16"] = randn(3, 3, generator: generator).to(ScalarType.Float16),
            ["bf16"] = randn(7, generator: generator).to(ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }),
            ["i32"] = tensor(new[] { int.MinValue, 5, int.MaxValue }),
            ["i16"] = tensor(new short[] { short.MinValue, 3 }),
            ["i8"] = tensor(new sbyte[] { -128, 1, 127 }),
            ["u8"] = tensor(new byte[] { 0, 200, 255 }),
            ["bool"] = tensor(new[] { true, false, false, true, true }),
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros(0, 3, dtype: ScalarType.Float16),
            ["transposed"] = wide.t(),             // not contiguous
            ["offset_view"] = wide.narrow(0, 2, 2), // contiguous, but starts 12 floats into its storage
        };
    }

    static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void SaveThenReadGivesBackEveryTensorWithItsDType()
    {
        var tensors = EveryKind();
        string path = Path.Combine(Work, "all.safetensors");
        SafetensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["step"] = "7" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), file.Entries.Keys);
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["step"] = "7" }, file.Metadata);
        foreach (var (name, expected) in tensors)
        {
            Assert.Equal(SafetensorsDTypes.FromScalarType(expected.dtype), file.Entry(name).DType);
            using var actual = file.ReadTensor(name, expected.dtype);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.equal(actual).all().item<bool>(), $"{name} differs after the round trip");
        }
        DisposeAll(tensors);
    }

    [Fact]
    public void ViewsAreWrittenAsTheirOwnElements()
    {
        // Checked against an independent decode, so a writer that dumped the whole storage of a view would fail.
        using var wide = arange(30, dtype: ScalarType.Float32).reshape(5, 6);
        string path = Path.Combine(Work, "views.safetensors");
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["rows"] = wide.narrow(0, 2, 2), ["cols"] = wide.t() });

        var raw = Parse(File.ReadAllBytes(path));
        Assert.Equal(Enumerable.Range(12, 12).Select(v => (double)v), Decode("F32", raw.Tensors["rows"].Data));
        Assert.Equal(new long[] { 6, 5 }, raw.Tensors["cols"].Shape);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (double)(i % 5 * 6 + i / 5)), Decode("F32", raw.Tensors["cols"].Data));
    }

    [Fact]
    public void BFloat16AndFloat16BitsSurviveIncludingNaNPayloadsAndSubnormals()
    {
        ushort[] bits = [0x0001, 0x8000, 0x7C00, 0xFC00, 0x7E01, 0x3C00, 0x03FF];
        using var half = empty(bits.Length, dtype: ScalarType.Float16);
        using var brain = empty(bits.Length, dtype: ScalarType.BFloat16);
        half.bytes = UInt16s(bits);
        brain.bytes = UInt16s(bits);
        string path = Path.Combine(Work, "bits.safetensors");
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["half"] = half, ["brain"] = brain });

        var raw = Parse(File.ReadAllBytes(path));
        Assert.Equal("F16", raw.Tensors["half"].DType);
        Assert.Equal("BF16", raw.Tensors["brain"].DType);
        Assert.Equal(UInt16s(bits), raw.Tensors["half"].Data);
        Assert.Equal(UInt16s(bits), raw.Tensors["brain"].Data);
    }

    [Fact]
    public void LayoutIsSortedPaddedGapFreeAndAligned()
    {
        var tensors = EveryKind();
        string path = Path.Combine(Work, "layout.safetensors");
        SafetensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" });
        byte[] bytes = File.ReadAllBytes(path);
        var raw = Parse(bytes);

        Assert.Equal(0, raw.HeaderLength % 8);
        string json = Encoding.UTF8.GetString(bytes, 8, (int)raw.HeaderLength);
        Assert.Equal(json.TrimEnd(' ').Length, json.TrimEnd().Length); // padding is spaces only
        Assert.Equal(["__metadata__", .. tensors.Keys.Order(StringComparer.Ordinal)], raw.KeysInOrder);
        Assert.Equal(["a", "z"], raw.Metadata.Keys);

        // Data tiles the region exactly (the Python reference reader insists on it) ...
        var spans = raw.Tensors.Values.OrderBy(t => t.Begin).ToList();
        long position = 0;
        foreach (var t in spans)
        {
            Assert.Equal(position, t.Begin);
            position = t.End;
        }
        Assert.Equal(bytes.Length - 8 - raw.HeaderLength, position);

        // ... and every tensor starts at a multiple of its element size, so readers that view the
        // mapped bytes in place (HF safetensors with torch) can do so.
        foreach (var (name, t) in raw.Tensors)
        {
            int size = SafetensorsDTypes.ElementSize(t.DType);
            Assert.True(t.Begin % size == 0, $"{name} ({t.DType}) starts at byte {t.Begin}, not a multiple of {size}");
        }
        DisposeAll(tensors);
    }

    [Fact]
    public void SameTensorsGiveTheSameBytesWhateverTheDictionaryOrder()
    {
        var tensors = EveryKind();
        var reversed = tensors.Reverse().ToDictionary(kv => kv.Key, kv => kv.Value);
        string first = Path.Combine(Work, "first.safetensors");
        string second = Path.Combine(Work, "second.safetensors");
        SafetensorsWriter.Save(first, tensors, new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" });
        SafetensorsWriter.Save(second, reversed, new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));

        // The control: a one-bit change in one value changes the file.
        tensors["i8"][0] = -127;
        string third = Path.Combine(Work, "third.safetensors");
        SafetensorsWriter.Save(third, tensors, new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" });
        Assert.NotEqual(File.ReadAllBytes(first), File.ReadAllBytes(third));
        DisposeAll(tensors);
    }

    [Fact]
    public void RefusedTensorLeavesTheExistingFileUntouched()
    {
        string path = WriteFile("keep.safetensors", Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", Floats(1)));
        byte[] before = File.ReadAllBytes(path);
        using var complex = zeros(2, dtype: ScalarType.ComplexFloat32);
        using var fine = ones(2);
        var error = Assert.Throws<InvalidInputException>(() =>
            SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["a"] = fine, ["z"] = complex }));
        Assert.Contains(path, error.Message);
        Assert.Contains("'z'", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(Work));
    }

    [Fact]
    public void FailedWriteLeavesTheExistingFileUntouched()
    {
        string path = WriteFile("keep.safetensors", Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", Floats(1)));
        byte[] before = File.ReadAllBytes(path);
        Directory.CreateDirectory(path + ".tmp"); // the temporary file cannot be created
        using var replacement = ones(3);
        Assert.ThrowsAny<Exception>(() => SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["a"] = replacement }));
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void SaveReplacesTheFileByRenameSoOpenReadersKeepTheOldContent()
    {
        string path = Path.Combine(Work, "model.safetensors");
        using (var old = tensor(new[] { 1f, 2f })) SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["w"] = old });
        using var reader = SafetensorsFile.Open(path);

        using (var updated = tensor(new[] { 8f, 9f })) SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["w"] = updated });

        // Writing in place would have changed the bytes under the open reader.
        using var seenByOldReader = reader.ReadTensor("w", ScalarType.Float32);
        Assert.Equal(new[] { 1f, 2f }, seenByOldReader.data<float>().ToArray());
        using var fresh = SafetensorsFile.Open(path);
        using var seenNow = fresh.ReadTensor("w", ScalarType.Float32);
        Assert.Equal(new[] { 8f, 9f }, seenNow.data<float>().ToArray());
        Assert.Equal([path], Directory.GetFiles(Work));
    }

    [Theory]
    [InlineData("__metadata__")]
    [InlineData("")]
    public void ReservedOrEmptyTensorNamesAreRefused(string name)
    {
        string path = Path.Combine(Work, "names.safetensors");
        using var t = ones(1);
        var error = Assert.Throws<InvalidInputException>(() => SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { [name] = t }));
        Assert.Contains(path, error.Message);
        Assert.False(File.Exists(path));
    }

    static Dictionary<string, Tensor> ShardableTensors() => new()
    {
        ["a.weight"] = arange(10, dtype: ScalarType.Float32),                          // 40 bytes
        ["b.weight"] = arange(10, dtype: ScalarType.Float32).to(ScalarType.Float16),   // 20 bytes
        ["c.weight"] = arange(30, dtype: ScalarType.Float32),                          // 120 bytes: over the limit alone
        ["d.bias"] = arange(4, dtype: ScalarType.Float32).to(ScalarType.BFloat16),     // 8 bytes
    };

    [Fact]
    public void SaveShardedSplitsByTheLimitAndReadsBack()
    {
        var tensors = ShardableTensors();
        string dir = Path.Combine(Work, "sharded");
        SafetensorsWriter.SaveSharded(dir, tensors, maxShardBytes: 64);

        string[] shardNames = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"];
        Assert.Equal([.. shardNames, "model.safetensors.index.json"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "model.safetensors.index.json")));
        Assert.Equal(188, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => (p.Name, p.Value.GetString())).ToList();
        Assert.Equal([("a.weight", shardNames[0]), ("b.weight", shardNames[0]), ("c.weight", shardNames[1]), ("d.bias", shardNames[2])], weightMap);

        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), checkpoint.Names);
        foreach (var (name, expected) in tensors)
        {
            Assert.Equal(SafetensorsDTypes.FromScalarType(expected.dtype), checkpoint.Entry(name).DType);
            using var actual = checkpoint.ReadTensor(name, expected.dtype);
            Assert.True(expected.equal(actual).all().item<bool>(), $"{name} differs after the sharded round trip");
        }
        DisposeAll(tensors);
    }

    [Fact]
    public void SaveShardedIsDeterministic()
    {
        var tensors = ShardableTensors();
        string first = Path.Combine(Work, "first"), second = Path.Combine(Work, "second");
        SafetensorsWriter.SaveSharded(first, tensors, 64);
        SafetensorsWriter.SaveSharded(second, tensors.Reverse().ToDictionary(kv => kv.Key, kv => kv.Value), 64);
        foreach (var file in Directory.GetFiles(first))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(second, Path.GetFileName(file))));
        }
        Assert.Equal(4, Directory.GetFiles(second).Length);
        DisposeAll(tensors);
    }

    [Fact]
    public void SwitchingLayoutsRemovesTheOtherLayoutsFiles()
    {
        var tensors = ShardableTensors();
        string dir = Path.Combine(Work, "switch");
        SafetensorsWriter.SaveSharded(dir, tensors, 64);
        Assert.Equal(4, Directory.GetFiles(dir).Length);

        SafetensorsWriter.SaveSharded(dir, tensors, 1 << 20);
        Assert.Equal(["model.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName));

        SafetensorsWriter.SaveSharded(dir, tensors, 130); // two shards now: a, b | c, d
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"],
            Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var checkpoint = SafetensorsCheckpoint.Open(dir);
        Assert.Equal(4, checkpoint.Names.Count);
        DisposeAll(tensors);
    }

    [PythonReferenceFact]
    public void OutputIsReadByThePythonReference()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = tensor(new[] { 1.5f, -2f, 3.25f }),
            ["f16"] = tensor(new[] { 0.5f, 65504f }).to(ScalarType.Float16),
            ["bf16"] = tensor(new[] { -1f, 3f, 0.0078125f }).to(ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { -5, 1L << 40 }).reshape(1, 2),
        };
        string path = Path.Combine(Work, "for-python.safetensors");
        SafetensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["note"] = "from C#" });

        var decoded = PythonReference.ReadSafetensors(path);
        foreach (var (name, expected) in tensors)
        {
            Assert.Equal(SafetensorsDTypes.FromScalarType(expected.dtype), decoded[name].DType);
            Assert.Equal(expected.shape, decoded[name].Shape);
            using var asDouble = expected.to(ScalarType.Float64);
            Assert.Equal(asDouble.data<double>().ToArray(), decoded[name].Values);
        }
        DisposeAll(tensors);
    }
}
