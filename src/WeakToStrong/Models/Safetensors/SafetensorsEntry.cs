using TorchSharp;

namespace WeakToStrong.Models.Safetensors;

/// <summary>
/// One tensor's header entry in a safetensors file, already validated.
/// <paramref name="Begin"/> and <paramref name="End"/> are byte offsets relative to the start of the
/// data region (the byte right after the JSON header). <paramref name="Shape"/> must not be modified.
/// </summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of bytes the tensor occupies (End - Begin).</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements: the product of the shape (1 for a scalar, shape []).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>The TorchSharp scalar type the tensor is stored in.</summary>
    public torch.ScalarType ScalarType => SafetensorsDTypes.ToScalarType(DType);

    public override string ToString() => $"{Name}: {DType}[{string.Join(", ", Shape)}] @ [{Begin}, {End})";
}
