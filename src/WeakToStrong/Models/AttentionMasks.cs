using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>The padding and causal masks of decoder-only models, with Hugging Face's conventions.</summary>
public static class AttentionMasks
{
    // Kept for the process's life: TorchSharp 0.107 can finalize a temporary Scalar while a native op still reads it (README, known issues).
    static readonly Scalar LowestFloat16 = (-65504.0).ToScalar(), LowestBFloat16 = (-3.3895313892515355e38).ToScalar(),
        LowestFloat64 = double.MinValue.ToScalar(), LowestFloat32 = ((double)float.MinValue).ToScalar();

    // Whether each mask built on the host pads anything, kept with the tensor object so no forward reads the device to find out.
    static readonly ConditionalWeakTable<Tensor, StrongBox<bool>> HostPadding = new();

    /// <summary>An attention mask [rows, columns] from host values (1 = real, 0 = padding), with its padding known to <see cref="Additive"/>.</summary>
    public static Tensor FromHost(long[] values, int rows, int columns, Device device)
    {
        var mask = tensor(values, [rows, columns], device: device);
        HostPadding.Add(mask, new StrongBox<bool>(Array.IndexOf(values, 0L) >= 0));
        return mask;
    }

    /// <summary>
    /// Position ids for the last <paramref name="queryLength"/> columns of a [B, S] attention mask:
    /// cumsum(mask) − 1, with padded positions set to 1, as transformers' generate() does for left padding.
    /// </summary>
    public static Tensor PositionIds(Tensor attentionMask, int queryLength)
    {
        var positions = attentionMask.to(ScalarType.Int64).cumsum(-1).sub(Scalars.One);
        positions = positions.masked_fill(attentionMask.eq(Scalars.Zero), Scalars.One);
        return positions.narrow(1, positions.shape[1] - queryLength, queryLength);
    }

    /// <summary>Positions past, past+1, … for every row when there is no padding.</summary>
    public static Tensor DefaultPositionIds(long batch, int pastLength, int queryLength, Device device) =>
        Scalars.Arange(pastLength, pastLength + queryLength, device).unsqueeze(0).expand(batch, -1);

    /// <summary>
    /// The additive mask [B, 1, T, S] for queries at positions past..past+T−1 over S = past+T keys:
    /// 0 where a query may attend, the dtype's lowest value where not (a finite value, so fully padded
    /// rows stay free of NaN). Returns null when the plain causal rule suffices; then
    /// <paramref name="isCausal"/> says whether scaled_dot_product_attention must apply it.
    /// Whether the mask pads anything is known without reading the device for masks built by <see cref="FromHost"/>;
    /// any other mask is read once here (a host synchronisation on a GPU).
    /// </summary>
    public static Tensor? Additive(Tensor? attentionMask, long batch, int pastLength, int queryLength,
        int? slidingWindow, ScalarType dtype, Device device, out bool isCausal)
    {
        int keyLength = pastLength + queryLength;
        bool windowBites = slidingWindow is int w && keyLength > w;
        bool padded = attentionMask is not null
            && (HostPadding.TryGetValue(attentionMask, out var known) ? known.Value : HostSync.Item<long>(attentionMask.min(), HostRead.Other) == 0);
        if (!padded && !windowBites)
        {
            // One query attends to everything cached; a fresh prompt needs only the causal rule.
            isCausal = queryLength > 1 && pastLength == 0;
            if (queryLength == 1 || pastLength == 0) return null;
        }
        isCausal = false;

        var queryPositions = Scalars.Arange(pastLength, keyLength, device).unsqueeze(1);
        var keyPositions = Scalars.Arange(0, keyLength, device).unsqueeze(0);
        var allowed = keyPositions.le(queryPositions);
        if (slidingWindow is int window)
        {
            using var windowScalar = window.ToScalar();
            allowed = allowed.logical_and((queryPositions - keyPositions).lt(windowScalar));
        }
        var allowedPerRow = allowed.unsqueeze(0).unsqueeze(0).expand(batch, 1, queryLength, keyLength);
        if (attentionMask is not null)
            allowedPerRow = allowedPerRow.logical_and(attentionMask.ne(Scalars.Zero).view(batch, 1, 1, keyLength));
        return zeros(batch, 1, queryLength, keyLength, dtype: dtype, device: device).masked_fill(allowedPerRow.logical_not(), Lowest(dtype));
    }

    /// <summary>The lowest finite value of a floating dtype, the additive mask's "never attend" in that dtype.</summary>
    public static Scalar Lowest(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => LowestFloat16,
        ScalarType.BFloat16 => LowestBFloat16,
        ScalarType.Float64 => LowestFloat64,
        _ => LowestFloat32,
    };
}
