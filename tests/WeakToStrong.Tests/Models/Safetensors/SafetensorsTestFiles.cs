using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace WeakToStrong.Tests.Models.Safetensors;

/// <summary>A temporary directory per test class, deleted afterwards.</summary>
public abstract class TempDirectoryTest : IDisposable
{
    protected readonly string Work = Directory.CreateTempSubdirectory("wts-st").FullName;

    public void Dispose() => Directory.Delete(Work, true);

    /// <summary>Writes <paramref name="bytes"/> to a new file in <see cref="Work"/> and returns its path.</summary>
    protected string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(Work, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}

/// <summary>
/// Builds safetensors bytes by hand and decodes them independently of the code under test, so the
/// tests neither trust the writer to make their inputs nor the reader to check its own output.
/// </summary>
internal static class SafetensorsBytes
{
    /// <summary>8-byte little-endian length of <paramref name="headerJson"/>, the header, then <paramref name="data"/>.</summary>
    public static byte[] Build(string headerJson, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(headerJson);
        return WithDeclaredLength((ulong)json.Length, [.. json, .. data]);
    }

    /// <summary>A prefix declaring <paramref name="declaredHeaderLength"/> followed by arbitrary bytes.</summary>
    public static byte[] WithDeclaredLength(ulong declaredHeaderLength, byte[] rest)
    {
        var bytes = new byte[8 + rest.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength);
        rest.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static byte[] UInt16s(IEnumerable<ushort> values)
    {
        var list = values.ToList();
        var bytes = new byte[list.Count * 2];
        for (int i = 0; i < list.Count; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), list[i]);
        return bytes;
    }

    public sealed record RawTensor(string DType, long[] Shape, long Begin, long End, byte[] Data);

    public sealed record RawFile(long HeaderLength, IReadOnlyList<string> KeysInOrder, Dictionary<string, string> Metadata, Dictionary<string, RawTensor> Tensors);

    /// <summary>Parses a safetensors file with nothing but JsonDocument and byte slicing.</summary>
    public static RawFile Parse(byte[] file)
    {
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
        var keys = new List<string>();
        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, RawTensor>();
        foreach (var member in doc.RootElement.EnumerateObject())
        {
            keys.Add(member.Name);
            if (member.Name == "__metadata__")
            {
                foreach (var kv in member.Value.EnumerateObject()) metadata[kv.Name] = kv.Value.GetString()!;
                continue;
            }
            var offsets = member.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var shape = member.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var data = file.AsSpan((int)(8 + n + offsets[0]), (int)(offsets[1] - offsets[0])).ToArray();
            tensors[member.Name] = new RawTensor(member.Value.GetProperty("dtype").GetString()!, shape, offsets[0], offsets[1], data);
        }
        return new RawFile(n, keys, metadata, tensors);
    }

    /// <summary>Decodes F32/F16/BF16/I64 data to doubles (every such value is exact in a double).</summary>
    public static double[] Decode(string dtype, byte[] data)
    {
        switch (dtype)
        {
            case "F32":
                return Enumerable.Range(0, data.Length / 4).Select(i => (double)BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(i * 4))).ToArray();
            case "F16":
                return Enumerable.Range(0, data.Length / 2).Select(i => (double)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(i * 2)))).ToArray();
            case "BF16":
                // A bfloat16 is the upper half of a float32.
                return Enumerable.Range(0, data.Length / 2).Select(i => (double)BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(i * 2)) << 16)).ToArray();
            case "I64":
                return Enumerable.Range(0, data.Length / 8).Select(i => (double)BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(i * 8))).ToArray();
            default:
                throw new ArgumentException($"test decoder does not handle {dtype}");
        }
    }
}
