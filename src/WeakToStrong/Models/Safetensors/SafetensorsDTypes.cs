using TorchSharp;

namespace WeakToStrong.Models.Safetensors;

/// <summary>
/// The safetensors dtype names this project reads and writes, their element sizes and the
/// matching TorchSharp scalar types. Other names in the format (U16, U32, U64, F8_*, ...) have
/// no TorchSharp counterpart here and are refused.
/// </summary>
public static class SafetensorsDTypes
{
    private static readonly (string Name, torch.ScalarType Type, int Size)[] Table =
    {
        ("F64", torch.ScalarType.Float64, 8),
        ("F32", torch.ScalarType.Float32, 4),
        ("F16", torch.ScalarType.Float16, 2),
        ("BF16", torch.ScalarType.BFloat16, 2),
        ("I64", torch.ScalarType.Int64, 8),
        ("I32", torch.ScalarType.Int32, 4),
        ("I16", torch.ScalarType.Int16, 2),
        ("I8", torch.ScalarType.Int8, 1),
        ("U8", torch.ScalarType.Byte, 1),
        ("BOOL", torch.ScalarType.Bool, 1),
    };

    /// <summary>The accepted dtype names, for error messages.</summary>
    public static string SupportedList { get; } = string.Join(", ", Table.Select(t => t.Name));

    /// <summary>True when <paramref name="name"/> is one of the supported dtype names (case-sensitive, as in the format).</summary>
    public static bool IsSupported(string name) => Array.Exists(Table, t => t.Name == name);

    /// <summary>Bytes per element of a supported dtype name.</summary>
    public static int ElementSize(string name) => Find(name).Size;

    /// <summary>The TorchSharp scalar type of a supported dtype name.</summary>
    public static torch.ScalarType ToScalarType(string name) => Find(name).Type;

    /// <summary>The dtype name for a TorchSharp scalar type, or null when the format has none we support.</summary>
    public static string? FromScalarType(torch.ScalarType type)
    {
        foreach (var t in Table)
        {
            if (t.Type == type) return t.Name;
        }
        return null;
    }

    private static (string Name, torch.ScalarType Type, int Size) Find(string name)
    {
        foreach (var t in Table)
        {
            if (t.Name == name) return t;
        }
        throw new ArgumentException($"'{name}' is not a supported safetensors dtype (expected one of {SupportedList}).", nameof(name));
    }
}
