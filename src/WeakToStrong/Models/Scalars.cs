using TorchSharp;
using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>
/// Scalars the library passes to TorchSharp, owned for the process's life. TorchSharp 0.107 lets a temporary Scalar (a C#
/// number converted implicitly, or the alpha of 1 that tensor + tensor passes) be finalized while the native op still reads
/// it, whenever a garbage collection runs during the call; an owned one cannot be. Runtime values are owned by the caller
/// (`using var s = value.ToScalar()` around the call). TemporaryScalarScanTests keeps temporaries out of the library.
/// </summary>
public static class Scalars
{
    public static readonly Scalar Zero = 0L.ToScalar(), One = 1L.ToScalar(), Two = 2L.ToScalar(), False = false.ToScalar();

    /// <summary>start, start + 1, …, stop − 1 as int64, its bounds owned through the call.</summary>
    public static Tensor Arange(long start, long stop, Device device)
    {
        using Scalar from = start.ToScalar(), to = stop.ToScalar();
        return arange(from, to, One, ScalarType.Int64, device);
    }
}
