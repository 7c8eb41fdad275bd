using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>
/// Keys and values of every layer for a batch of sequences that share one length (left padding keeps
/// them aligned). Storage is reserved once, at the most columns the caller will use (prompt + max_new_tokens),
/// so decoding writes in place; rows can be gathered by index (beam reordering, duplication) without
/// recomputation. A caller that needs more than it reserved gets exactly what it needs, not a doubling: growth
/// copies the whole cache and briefly holds both copies, and spare columns would be held (and copied by every
/// gather) for the rest of the run.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor?[] keys;
    readonly Tensor?[] values;
    int capacity;

    public KvCache(int numLayers, int capacity)
    {
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
        this.capacity = Math.Max(1, capacity);
    }

    /// <summary>Tokens already stored (the past length seen by the next forward call).</summary>
    public int Length { get; private set; }

    public long BatchSize => keys[0]?.shape[0] ?? 0;

    /// <summary>Stores this step's keys and values [B, H, T, D] for one layer; returns all so far.</summary>
    public (Tensor Keys, Tensor Values) Update(int layer, Tensor newKeys, Tensor newValues)
    {
        int steps = (int)newKeys.shape[2];
        Reserve(layer, newKeys, Length + steps);
        keys[layer]!.narrow(2, Length, steps).copy_(newKeys);
        values[layer]!.narrow(2, Length, steps).copy_(newValues);
        return (keys[layer]!.narrow(2, 0, Length + steps), values[layer]!.narrow(2, 0, Length + steps));
    }

    /// <summary>Called once per forward, after every layer has stored its step.</summary>
    public void Advance(int steps) => Length += steps;

    /// <summary>Keeps rows <paramref name="rowIndex"/> (may repeat rows): the new batch is rowIndex's length.</summary>
    public void Reorder(Tensor rowIndex)
    {
        for (int layer = 0; layer < keys.Length; layer++)
        {
            keys[layer] = Gather(keys[layer], rowIndex);
            values[layer] = Gather(values[layer], rowIndex);
        }
    }

    /// <summary>
    /// Takes the rows of <paramref name="other"/> (which is left empty) below this cache's. The shorter of the two is
    /// left-padded with zero columns, so both end at the longer length; the caller masks those columns out. Storage is
    /// reserved for at least <paramref name="reserve"/> columns.
    /// </summary>
    public void Append(KvCache other, int reserve)
    {
        if (other.keys.Length != keys.Length) throw new ArgumentException($"cannot join a cache of {other.keys.Length} layers to one of {keys.Length}");
        int length = Math.Max(Length, other.Length);
        capacity = Math.Max(reserve, length);
        for (int layer = 0; layer < keys.Length; layer++)
        {
            keys[layer] = Joined(keys[layer], Length, other.keys[layer], other.Length, length);
            values[layer] = Joined(values[layer], Length, other.values[layer], other.Length, length);
            other.keys[layer] = other.values[layer] = null;
        }
        Length = length;
        other.Length = 0;
    }

    Tensor? Joined(Tensor? upper, int upperLength, Tensor? lower, int lowerLength, int length)
    {
        var like = upper ?? lower;
        if (like is null) return null;
        long rows = (upper?.shape[0] ?? 0) + (lower?.shape[0] ?? 0);
        var joined = zeros([rows, like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device).DetachFromDisposeScope();
        long row = 0;
        foreach (var (part, partLength) in new[] { (upper, upperLength), (lower, lowerLength) })
        {
            if (part is null) continue;
            joined.narrow(0, row, part.shape[0]).narrow(2, length - partLength, partLength).copy_(part.narrow(2, 0, partLength));
            row += part.shape[0];
            part.Dispose();
        }
        return joined;
    }

    /// <summary>Forgets the first <paramref name="count"/> columns of every row (columns no row attends to any more).</summary>
    public void DropLeadingColumns(int count)
    {
        if (count <= 0) return;
        if (count > Length) throw new ArgumentOutOfRangeException(nameof(count), $"{count} columns of {Length}");
        for (int layer = 0; layer < keys.Length; layer++)
        {
            keys[layer] = Shifted(keys[layer], count);
            values[layer] = Shifted(values[layer], count);
        }
        Length -= count;
    }

    Tensor? Shifted(Tensor? stored, int count)
    {
        if (stored is null) return null;
        var shifted = zeros_like(stored).DetachFromDisposeScope();
        shifted.narrow(2, 0, Length - count).copy_(stored.narrow(2, count, Length - count));
        stored.Dispose();
        return shifted;
    }

    static Tensor? Gather(Tensor? stored, Tensor rowIndex)
    {
        if (stored is null) return null;
        var gathered = stored.index_select(0, rowIndex.to(stored.device)).DetachFromDisposeScope();
        stored.Dispose();
        return gathered;
    }

    void Reserve(int layer, Tensor like, int needed)
    {
        var stored = keys[layer];
        if (stored is not null && stored.shape[2] >= needed) return;
        capacity = Math.Max(capacity, needed);
        keys[layer] = Grow(stored, like);
        values[layer] = Grow(values[layer], like);
    }

    Tensor Grow(Tensor? stored, Tensor like)
    {
        var grown = zeros([like.shape[0], like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device)
            .DetachFromDisposeScope();
        if (stored is not null)
        {
            grown.narrow(2, 0, Length).copy_(stored.narrow(2, 0, Length));
            stored.Dispose();
        }
        return grown;
    }

    public void Dispose()
    {
        for (int layer = 0; layer < keys.Length; layer++)
        {
            keys[layer]?.Dispose();
            values[layer]?.Dispose();
            keys[layer] = values[layer] = null;
        }
    }
}
