using TorchSharp;
using static TorchSharp.torch;

namespace WeakToStrong;

/// <summary>Why the host read a tensor's values: counted apart, because each has its own budget per decode step.</summary>
public enum HostRead
{
    /// <summary>The sampled tokens of a decode step (one read per step).</summary>
    Sampling,
    /// <summary>A scorer's results (once per chunk, not per token).</summary>
    Scoring,
    /// <summary>Anything else (a rare check that cannot be decided on the host).</summary>
    Other,
}

/// <summary>
/// Reads of tensor values by the host. On a GPU each such read waits for all queued device work (a host
/// synchronisation), so the decode path reads only through here, and tests count the reads per step.
/// Counts are per thread (tests run in parallel).
/// </summary>
public static class HostSync
{
    [ThreadStatic] static long[]? counts;

    static long[] Counts => counts ??= new long[Enum.GetValues<HostRead>().Length];

    /// <summary>Reads on this thread so far, of one kind.</summary>
    public static long Reads(HostRead kind) => Counts[(int)kind];

    /// <summary>Reads on this thread so far, all kinds.</summary>
    public static long TotalReads => Counts.Sum();

    /// <summary>A host copy of <paramref name="tensor"/> (one read).</summary>
    public static Tensor ToHost(Tensor tensor, HostRead kind)
    {
        Counts[(int)kind]++;
        return tensor.cpu();
    }

    /// <summary>The values of <paramref name="tensor"/>, flattened (one read).</summary>
    public static T[] ToArray<T>(Tensor tensor, HostRead kind) where T : unmanaged => Values<T>(ToHost(tensor, kind));

    /// <summary>The single value of <paramref name="tensor"/> (one read).</summary>
    public static T Item<T>(Tensor tensor, HostRead kind) where T : unmanaged => ToArray<T>(tensor, kind)[0];

    /// <summary>The values of a tensor already on the host (no read is needed; a device tensor is a bug here).</summary>
    public static T[] Values<T>(Tensor hostTensor) where T : unmanaged
    {
        if (hostTensor.device_type != DeviceType.CPU)
            throw new InvalidOperationException($"a {hostTensor.device} tensor read as a host tensor: read it through HostSync.ToHost");
        return hostTensor.contiguous().data<T>().ToArray();
    }
}
