using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;
using static WeakToStrong.Tests.Models.Safetensors.SafetensorsBytes;

namespace WeakToStrong.Tests.Models.Safetensors;

/// <summary>
/// One hand-crafted malformed file per header rule: each must be refused by SafetensorsFile.Open with an
/// InvalidInputException naming the file and the problem.
/// </summary>
public sealed class SafetensorsHeaderValidationTests : TempDirectoryTest
{
    // Two F32 values, 8 bytes, for headers that are otherwise valid.
    static readonly byte[] EightBytes = Floats(1f, 2f);

    /// <summary>Writes the bytes, expects Open to refuse them, and checks the message names the file and <paramref name="problem"/>.</summary>
    InvalidInputException OpenFails(byte[] bytes, params string[] problem)
    {
        string path = WriteFile($"bad-{Guid.NewGuid():N}.safetensors", bytes);
        var error = Assert.Throws<InvalidInputException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, error.Message);
        foreach (var part in problem) Assert.Contains(part, error.Message);
        return error;
    }

    static byte[] OneTensor(string entryJson, byte[]? data = null) => Build($"{{\"t\":{entryJson}}}", data ?? EightBytes);

    [Fact]
    public void ValidMinimalFileOpens()
    {
        // The control for the cases below: the same shape of file, well formed, is accepted.
        string path = WriteFile("ok.safetensors", OneTensor("""{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"""));
        using var file = SafetensorsFile.Open(path);
        using var t = file.ReadTensor("t", ScalarType.Float32);
        Assert.Equal(new[] { 1f, 2f }, t.data<float>().ToArray());
    }

    [Fact]
    public void FileShorterThanTheLengthPrefix() => OpenFails([1, 0, 0], "truncated", "3 bytes");

    [Fact]
    public void EmptyFile() => OpenFails([], "truncated", "0 bytes");

    [Fact]
    public void HeaderLengthZero() => OpenFails(WithDeclaredLength(0, EightBytes), "header length is 0");

    [Fact]
    public void HeaderLengthAboveTheLimit() =>
        OpenFails(WithDeclaredLength((ulong)SafetensorsFile.MaxHeaderBytes + 1, EightBytes), "header length 100000001", "limit");

    [Fact]
    public void HeaderLengthWithTheTopBitSet()
    {
        // As a signed long this would be negative; it must be refused, not wrapped around.
        OpenFails(WithDeclaredLength(ulong.MaxValue, EightBytes), $"header length {ulong.MaxValue}", "limit");
    }

    [Fact]
    public void HeaderLengthBeyondTheEndOfTheFile()
    {
        byte[] json = "{}"u8.ToArray();
        OpenFails(WithDeclaredLength(100, json), "truncated", "header length 100", "10 bytes");
    }

    [Fact]
    public void HeaderIsNotJson() => OpenFails(Build("{\"t\": {\"dtype\": ", EightBytes), "not valid JSON");

    [Fact]
    public void HeaderIsNotUtf8()
    {
        byte[] json = [.. "{\"t"u8, 0xFF, 0xFE, .. "\":{}}"u8];
        OpenFails(WithDeclaredLength((ulong)json.Length, json), "not valid UTF-8");
    }

    [Fact]
    public void HeaderHasTrailingGarbageAfterTheObject() => OpenFails(Build("{} x", []), "not valid JSON");

    [Fact]
    public void HeaderIsAJsonArray() => OpenFails(Build("[1, 2]", EightBytes), "must be a JSON object", "array");

    [Fact]
    public void TensorEntryIsNotAnObject() => OpenFails(OneTensor("[0, 8]"), "tensor 't'", "entry must be a JSON object");

    [Fact]
    public void MissingDType() => OpenFails(OneTensor("""{"shape":[2],"data_offsets":[0,8]}"""), "tensor 't'", "missing \"dtype\"");

    [Fact]
    public void DTypeIsNotAString() => OpenFails(OneTensor("""{"dtype":4,"shape":[2],"data_offsets":[0,8]}"""), "tensor 't'", "\"dtype\" must be a string");

    [Fact]
    public void UnknownDType() => OpenFails(OneTensor("""{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}"""), "tensor 't'", "unknown dtype 'F8_E4M3'", "F32");

    [Fact]
    public void DTypeNamesAreCaseSensitive() => OpenFails(OneTensor("""{"dtype":"f32","shape":[2],"data_offsets":[0,8]}"""), "unknown dtype 'f32'");

    [Fact]
    public void MissingShape() => OpenFails(OneTensor("""{"dtype":"F32","data_offsets":[0,8]}"""), "tensor 't'", "missing \"shape\"");

    [Fact]
    public void ShapeIsNotAnArray() => OpenFails(OneTensor("""{"dtype":"F32","shape":2,"data_offsets":[0,8]}"""), "\"shape\" must be an array", "number");

    [Fact]
    public void NegativeShapeDimension() => OpenFails(OneTensor("""{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}"""), "\"shape\"[0] is -2", "non-negative integer");

    [Fact]
    public void FractionalShapeDimension() => OpenFails(OneTensor("""{"dtype":"F32","shape":[1, 2.5],"data_offsets":[0,8]}"""), "\"shape\"[1] is 2.5", "non-negative integer");

    [Fact]
    public void IntegralLookingFloatShapeDimension() => OpenFails(OneTensor("""{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}"""), "\"shape\"[0] is 2.0");

    [Fact]
    public void StringShapeDimension() => OpenFails(OneTensor("""{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}"""), "\"shape\"[0] is \"2\"");

    [Fact]
    public void ShapeDimensionBeyondInt64() => OpenFails(OneTensor("""{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]}"""), "\"shape\"[0]");

    [Fact]
    public void ShapeWhoseElementCountOverflows() =>
        OpenFails(OneTensor("""{"dtype":"F32","shape":[4294967296, 4294967296],"data_offsets":[0,8]}"""), "too many elements");

    [Fact]
    public void MissingDataOffsets() => OpenFails(OneTensor("""{"dtype":"F32","shape":[2]}"""), "tensor 't'", "missing \"data_offsets\"");

    [Fact]
    public void DataOffsetsWithThreeEntries() => OpenFails(OneTensor("""{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}"""), "exactly 2 entries", "has 3");

    [Fact]
    public void NegativeDataOffset() => OpenFails(OneTensor("""{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}"""), "\"data_offsets\"[0] is -8");

    [Fact]
    public void ReversedDataOffsets() => OpenFails(OneTensor("""{"dtype":"F32","shape":[0],"data_offsets":[8,0]}"""), "reversed");

    [Fact]
    public void DataOffsetsBeyondTheDataRegion() =>
        OpenFails(OneTensor("""{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"""), "tensor 't'", "outside the data region", "8 bytes long");

    [Fact]
    public void ByteLengthDoesNotMatchShapeTimesDTypeSize() =>
        OpenFails(OneTensor("""{"dtype":"F16","shape":[2],"data_offsets":[0,8]}"""), "tensor 't'", "byte length 8", "= 4 bytes");

    [Fact]
    public void OverlappingTensors()
    {
        var bytes = Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", EightBytes);
        OpenFails(bytes, "'a' [0, 8)", "'b' [4, 8)", "overlap");
    }

    [Fact]
    public void TensorNestedInsideAnotherOverlaps()
    {
        // b lies inside a, but c (sorted between them by begin) ends earlier: the check must remember a.
        var bytes = Build("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""",
            Floats(1, 2, 3, 4));
        OpenFails(bytes, "overlap", "'a' [0, 16)");
    }

    [Fact]
    public void DuplicateTensorName()
    {
        var bytes = Build("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", EightBytes);
        OpenFails(bytes, "tensor 't' appears twice");
    }

    [Fact]
    public void MetadataIsNotAnObject() =>
        OpenFails(Build("""{"__metadata__":["format","pt"],"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", EightBytes), "\"__metadata__\" must be a JSON object", "array");

    [Fact]
    public void MetadataValueIsNotAString() =>
        OpenFails(Build("""{"__metadata__":{"step":3},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", EightBytes), "key 'step' must be a string", "number");

    [Fact]
    public void MetadataAppearsTwice() =>
        OpenFails(Build("""{"__metadata__":{},"__metadata__":{},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", EightBytes), "\"__metadata__\" appears twice");

    [Fact]
    public void MetadataIsReadAndIsNotATensor()
    {
        string path = WriteFile("meta.safetensors",
            Build("""{"__metadata__":{"format":"pt","note":"é"},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", EightBytes));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["t"], file.Entries.Keys);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("é", file.Metadata["note"]);
    }

    [Fact]
    public void BoolElementOtherThanZeroOrOneIsRefusedOnRead()
    {
        string path = WriteFile("bool.safetensors", Build("""{"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}""", [1, 0, 2]));
        using var file = SafetensorsFile.Open(path);
        var error = Assert.Throws<InvalidInputException>(() => file.ReadTensor("m", ScalarType.Bool).Dispose());
        Assert.Contains(path, error.Message);
        Assert.Contains("BOOL element 2 has byte value 2", error.Message);
    }

    [Fact]
    public void FileTruncatedAfterOpeningIsReportedOnRead()
    {
        string path = WriteFile("shrinks.safetensors", OneTensor("""{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"""));
        using var file = SafetensorsFile.Open(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.SetLength(stream.Length - 3);
        }
        var error = Assert.Throws<InvalidInputException>(() => file.ReadTensor("t", ScalarType.Float32).Dispose());
        Assert.Contains(path, error.Message);
        Assert.Contains("file ended while reading tensor 't'", error.Message);
    }

    [Fact]
    public void GapsAndTrailingBytesAreAllowed()
    {
        // Documented leniency: unused bytes between or after tensors are not an error.
        var bytes = Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", Floats(9f, 5f, 7f));
        using var file = SafetensorsFile.Open(WriteFile("gaps.safetensors", bytes));
        using var a = file.ReadTensor("a", ScalarType.Float32);
        Assert.Equal(5f, a.item<float>());
    }
}
