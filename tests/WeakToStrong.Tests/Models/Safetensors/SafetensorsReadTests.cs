using System.Buffers.Binary;
using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;
using static WeakToStrong.Tests.Models.Safetensors.SafetensorsBytes;

namespace WeakToStrong.Tests.Models.Safetensors;

/// <summary>Reading tensor data: exact dtype conversion, real fixture files, and reads that stay on disk until asked for.</summary>
public sealed class SafetensorsReadTests : TempDirectoryTest
{
    static readonly ushort[] AllSixteenBitPatterns = Enumerable.Range(0, 1 << 16).Select(i => (ushort)i).ToArray();

    string FileOf16BitPatterns(string dtype) =>
        WriteFile($"{dtype}.safetensors", Build($$$"""{"x":{"dtype":"{{{dtype}}}","shape":[256,256],"data_offsets":[0,131072]}}""", UInt16s(AllSixteenBitPatterns)));

    [Fact]
    public void EveryBFloat16ValueWidensToFloat32Exactly()
    {
        using var file = SafetensorsFile.Open(FileOf16BitPatterns("BF16"));
        using var x = file.ReadTensor("x", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, x.dtype);
        Assert.Equal(new long[] { 256, 256 }, x.shape);
        var values = x.data<float>().ToArray();
        for (int bits = 0; bits < values.Length; bits++)
        {
            float expected = BitConverter.Int32BitsToSingle(bits << 16);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(values[bits]), $"bf16 0x{bits:X4} should be NaN, got {values[bits]}");
            else Assert.True(BitConverter.SingleToInt32Bits(values[bits]) == (bits << 16), $"bf16 0x{bits:X4}: expected {expected}, got {values[bits]}");
        }
    }

    [Fact]
    public void EveryFloat16ValueWidensToFloat32Exactly()
    {
        using var file = SafetensorsFile.Open(FileOf16BitPatterns("F16"));
        using var x = file.ReadTensor("x", ScalarType.Float32);
        var values = x.data<float>().ToArray();
        for (int bits = 0; bits < values.Length; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(values[bits]), $"f16 0x{bits:X4} should be NaN, got {values[bits]}");
            else Assert.True(BitConverter.SingleToInt32Bits(values[bits]) == BitConverter.SingleToInt32Bits(expected), $"f16 0x{bits:X4}: expected {expected}, got {values[bits]}");
        }
    }

    [Fact]
    public void Float16SpecialValuesByName()
    {
        // Spelled out independently of System.Half: subnormals, signed zero, infinities, NaN.
        ushort[] bits = [0x0001, 0x03FF, 0x0400, 0x8001, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7BFF, 0x3C00];
        string path = WriteFile("special.safetensors", Build("""{"x":{"dtype":"F16","shape":[10],"data_offsets":[0,20]}}""", UInt16s(bits)));
        using var file = SafetensorsFile.Open(path);
        using var x = file.ReadTensor("x", ScalarType.Float64);
        var v = x.data<double>().ToArray();
        Assert.Equal(Math.Pow(2, -24), v[0]);                 // smallest subnormal
        Assert.Equal(1023 * Math.Pow(2, -24), v[1]);          // largest subnormal
        Assert.Equal(Math.Pow(2, -14), v[2]);                 // smallest normal
        Assert.Equal(-Math.Pow(2, -24), v[3]);
        Assert.True(v[4] == 0 && double.IsNegative(v[4]), "0x8000 is -0");
        Assert.Equal(double.PositiveInfinity, v[5]);
        Assert.Equal(double.NegativeInfinity, v[6]);
        Assert.True(double.IsNaN(v[7]));
        Assert.Equal(65504.0, v[8]);
        Assert.Equal(1.0, v[9]);
    }

    [Fact]
    public void BFloat16SpecialValuesByName()
    {
        ushort[] bits = [0x3F80, 0xC000, 0x0001, 0x7F80, 0xFF80, 0x7FC0, 0x8000, 0x3F81];
        string path = WriteFile("bf16.safetensors", Build("""{"x":{"dtype":"BF16","shape":[8],"data_offsets":[0,16]}}""", UInt16s(bits)));
        using var file = SafetensorsFile.Open(path);
        using var x = file.ReadTensor("x", ScalarType.Float32);
        var v = x.data<float>().ToArray();
        Assert.Equal(1f, v[0]);
        Assert.Equal(-2f, v[1]);
        Assert.Equal((float)Math.Pow(2, -133), v[2]);          // bf16 subnormal
        Assert.Equal(float.PositiveInfinity, v[3]);
        Assert.Equal(float.NegativeInfinity, v[4]);
        Assert.True(float.IsNaN(v[5]));
        Assert.True(v[6] == 0 && float.IsNegative(v[6]), "0x8000 is -0");
        Assert.Equal(1f + 1f / 128, v[7]);
    }

    [Fact]
    public void StoredDTypeIsKeptWhenRequested()
    {
        ushort[] bits = [0x3F80, 0x4049, 0x7FC1];
        string path = WriteFile("keep.safetensors", Build("""{"x":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}}""", UInt16s(bits)));
        using var file = SafetensorsFile.Open(path);
        using var x = file.ReadTensor("x", ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, x.dtype);
        Assert.Equal(UInt16s(bits), x.bytes.ToArray());
    }

    [Fact]
    public void Float32NarrowsToRequestedHalfPrecision()
    {
        string path = WriteFile("narrow.safetensors", Build("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", Floats(1.5f, 65536f)));
        using var file = SafetensorsFile.Open(path);
        using var half = file.ReadTensor("x", ScalarType.Float16);
        using var brain = file.ReadTensor("x", ScalarType.BFloat16);
        Assert.Equal(ScalarType.Float16, half.dtype);
        Assert.Equal(UInt16s([0x3E00, 0x7C00]), half.bytes.ToArray()); // 65536 overflows f16 to +inf
        Assert.Equal(UInt16s([0x3FC0, 0x4780]), brain.bytes.ToArray());
    }

    [Fact]
    public void IntegerBoolScalarAndEmptyTensors()
    {
        byte[] data = [
            .. BitConverter.GetBytes(-3L), .. BitConverter.GetBytes(long.MaxValue), // i: I64[2]
            1, 0, 1,                                                                // m: BOOL[3]
            .. BitConverter.GetBytes(-7),                                           // s: I32 scalar
        ];
        string header = """
            {"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},
             "m":{"dtype":"BOOL","shape":[3],"data_offsets":[16,19]},
             "s":{"dtype":"I32","shape":[],"data_offsets":[19,23]},
             "e":{"dtype":"F32","shape":[0,4],"data_offsets":[23,23]}}
            """;
        using var file = SafetensorsFile.Open(WriteFile("mixed.safetensors", Build(header, data)));
        using var i = file.ReadTensor("i", ScalarType.Int64);
        using var m = file.ReadTensor("m", ScalarType.Bool);
        using var s = file.ReadTensor("s", ScalarType.Int32);
        using var e = file.ReadTensor("e", ScalarType.Float32);
        Assert.Equal(new[] { -3L, long.MaxValue }, i.data<long>().ToArray());
        Assert.Equal(new[] { true, false, true }, m.data<bool>().ToArray());
        Assert.Empty(s.shape);
        Assert.Equal(-7, s.item<int>());
        Assert.Equal(new long[] { 0, 4 }, e.shape);
        Assert.Equal(["e", "i", "m", "s"], file.Entries.Keys);
    }

    [Fact]
    public void UnknownTensorNameIsAnInvalidInputNamingTheFile()
    {
        string path = WriteFile("one.safetensors", Build("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", Floats(1, 2)));
        using var file = SafetensorsFile.Open(path);
        var error = Assert.Throws<InvalidInputException>(() => file.ReadTensor("y", ScalarType.Float32));
        Assert.Contains(path, error.Message);
        Assert.Contains("'y'", error.Message);
    }

    [Fact]
    public void MissingFileAndDirectoryAreRefusedWithTheirPath()
    {
        string missing = Path.Combine(Work, "nope.safetensors");
        Assert.Contains(missing, Assert.Throws<InvalidInputException>(() => SafetensorsFile.Open(missing)).Message);
        Assert.Contains("is a directory", Assert.Throws<InvalidInputException>(() => SafetensorsFile.Open(Work)).Message);
    }

    [Fact]
    public void DataIsReadFromDiskWhenRequestedNotCopiedAtOpen()
    {
        // Overwrite the data region after opening: a reader that had buffered the file would return the old values.
        string path = WriteFile("lazy.safetensors", Build("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", Floats(1, 2)));
        using var file = SafetensorsFile.Open(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.Seek(file.DataStart, SeekOrigin.Begin);
            stream.Write(Floats(30, 40));
        }
        using var x = file.ReadTensor("x", ScalarType.Float32);
        Assert.Equal(new[] { 30f, 40f }, x.data<float>().ToArray());
    }

    [Fact]
    public void ReadingABigTensorAllocatesNoManagedCopyOfIt()
    {
        const int elements = 8 << 20; // 32 MiB of F32
        string path = Path.Combine(Work, "big.safetensors");
        using (var stream = File.Create(path))
        {
            byte[] header = System.Text.Encoding.UTF8.GetBytes($$$"""{"x":{"dtype":"F32","shape":[{{{elements}}}],"data_offsets":[0,{{{elements * 4L}}}]}}""");
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            stream.Write(Floats(Enumerable.Range(0, elements).Select(i => (float)i).ToArray()));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        float last;
        using (var file = SafetensorsFile.Open(path))
        using (var x = file.ReadTensor("x", ScalarType.Float32))
        {
            last = x[elements - 1].item<float>();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(elements - 1, last);
        Assert.True(allocated < 1 << 20, $"reading a 32 MiB tensor allocated {allocated} managed bytes");
    }

    public static TheoryData<string> FixtureFiles => new()
    {
        "llama-bf16/model.safetensors",
        "llama-sharded/model-00001-of-00002.safetensors",
        "llama-sharded/model-00002-of-00002.safetensors",
        "gpt2-tied/model.safetensors",
        "llama-sharded/golden.safetensors",
    };

    [Theory, MemberData(nameof(FixtureFiles))]
    public void FixtureTensorsMatchAnIndependentDecode(string relativePath)
    {
        string path = RepositoryPaths.Fixture(relativePath.Split('/'));
        var raw = Parse(File.ReadAllBytes(path));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(raw.Tensors.Keys.Order(StringComparer.Ordinal), file.Entries.Keys);
        Assert.Equal(raw.Metadata, file.Metadata);
        foreach (var (name, expected) in raw.Tensors)
        {
            var entry = file.Entry(name);
            Assert.Equal(expected.DType, entry.DType);
            Assert.Equal(expected.Shape, entry.Shape);
            using var actual = file.ReadTensor(name, ScalarType.Float64);
            Assert.Equal(expected.Shape, actual.shape);
            Assert.Equal(Decode(expected.DType, expected.Data), actual.data<double>().ToArray());
        }
    }

    [Fact]
    public void FixtureDTypesAreTheOnesTheFixturesClaim()
    {
        // Guards the test above against silently covering fewer dtypes than intended.
        using var bf16 = SafetensorsFile.Open(RepositoryPaths.Fixture("llama-bf16", "model.safetensors"));
        using var f16 = SafetensorsFile.Open(RepositoryPaths.Fixture("llama-sharded", "model-00002-of-00002.safetensors"));
        Assert.All(bf16.Entries.Values, e => Assert.Equal("BF16", e.DType));
        Assert.All(f16.Entries.Values, e => Assert.Equal("F16", e.DType));
    }
}
