using TorchSharp;
using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>
/// Seeded draws for tensors on any device. TorchSharp's Generator is always a CPU generator whatever device it is
/// given (dotnet/TorchSharp#1194) and libtorch refuses a CPU generator for a CUDA tensor, so the draw happens on
/// the host and is copied to the device. On CPU the values are exactly those of drawing in place, and on every
/// device they are the same for the same seed.
/// </summary>
public static class HostRandom
{
    /// <summary>Fills <paramref name="parameter"/> with N(<paramref name="mean"/>, <paramref name="std"/>²), as normal_ does.</summary>
    public static void Normal(Tensor parameter, double mean, double std, Generator? generator)
    {
        // Same strides as the parameter (vocabulary projections are transposed views): normal_ fills in memory order.
        using var draw = empty_strided(parameter.shape, parameter.stride(), dtype: parameter.dtype).normal_(mean, std, generator);
        parameter.copy_(draw);
    }

    /// <summary>Integers uniform in [<paramref name="low"/>, <paramref name="high"/>) of <paramref name="shape"/> on <paramref name="device"/>.</summary>
    public static Tensor Randint(long low, long high, long[] shape, Generator generator, Device device)
    {
        var draw = randint(low, high, shape, generator: generator);
        if (device.type == DeviceType.CPU) return draw;
        using (draw) return draw.to(device);
    }
}
