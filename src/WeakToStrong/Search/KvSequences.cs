using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// A batch of token sequences held in one KV cache of a causal LM, each row growing at its own pace.
/// Every <see cref="Feed"/> appends the same number of cache columns to all rows; a row that feeds fewer
/// tokens leaves the leading columns of its block masked out, and <see cref="Forget"/> masks out columns
/// a row no longer wants (a re-tokenized suffix). Position ids come from the mask (cumulative sum − 1), so
/// masked columns cost memory but never change results: every row computes exactly what it would alone.
/// Rows are gathered by index (beam selection) without recomputation.
/// </summary>
public sealed class KvSequences : IDisposable
{
    readonly CausalLanguageModel model;
    readonly KvCache cache;
    List<List<bool>> mask;
    bool anyMasked;

    /// <param name="expectedColumns">the cache columns reserved: the most this batch will feed (beyond them it grows, with a copy)</param>
    public KvSequences(CausalLanguageModel model, int rows, int expectedColumns)
    {
        if (rows <= 0) throw new ArgumentOutOfRangeException(nameof(rows), "at least one row");
        this.model = model;
        cache = model.NewCache(expectedColumns);
        mask = Enumerable.Range(0, rows).Select(_ => new List<bool>()).ToList();
    }

    public int Rows => mask.Count;
    public int Columns => cache.Length;
    public int ForwardCalls { get; private set; }
    public Device Device => model.InputEmbeddings.device;

    /// <summary>
    /// Appends each row's block of tokens (possibly empty) and returns logits in fp32: with
    /// <paramref name="lastOnly"/>, [rows, V] at each row's last fed token (undefined for empty blocks);
    /// else [rows, M, V] with row r's block right-aligned in the M = longest-block positions.
    /// Returns null when every block is empty (nothing is run).
    /// </summary>
    public Tensor? Feed(IReadOnlyList<IReadOnlyList<int>> blocks, bool lastOnly)
    {
        if (blocks.Count != Rows) throw new ArgumentException($"expected {Rows} blocks, got {blocks.Count}");
        int width = blocks.Max(b => b.Count);
        if (width == 0) return null;
        var ids = new long[Rows * width];
        for (int row = 0; row < Rows; row++)
        {
            var block = blocks[row];
            int offset = width - block.Count;
            for (int j = 0; j < block.Count; j++) ids[row * width + offset + j] = block[j];
            for (int j = 0; j < width; j++) mask[row].Add(j >= offset);
            if (offset > 0) anyMasked = true;
        }
        using var scope = NewDisposeScope();
        var input = tensor(ids, [Rows, width], device: Device);
        Tensor? attention = anyMasked ? MaskTensor() : null;
        var logits = model.Forward(input, attention, cache, logitsToKeep: lastOnly ? 1 : 0).to(ScalarType.Float32);
        ForwardCalls++;
        return (lastOnly ? logits.select(1, 0) : logits).MoveToOuterDisposeScope();
    }

    /// <summary>Masks out one cached column of one row, as if its token had never been fed.</summary>
    public void Forget(int row, int column)
    {
        mask[row][column] = false;
        anyMasked = true;
    }

    /// <summary>Keeps rows <paramref name="rowIndex"/> in that order; a row may be repeated.</summary>
    public void Reorder(IReadOnlyList<int> rowIndex)
    {
        using (var scope = NewDisposeScope())
            cache.Reorder(tensor(rowIndex.Select(i => (long)i).ToArray(), device: Device));
        mask = rowIndex.Select(i => new List<bool>(mask[i])).ToList();
    }

    /// <summary>
    /// Takes the rows of <paramref name="other"/> (a batch of the same model, disposed here) after this batch's rows; the
    /// shorter batch's rows get masked columns in front, so every row still computes what it would alone. Storage is
    /// reserved for <paramref name="expectedColumns"/> columns. This is how a server admits new requests mid-flight.
    /// </summary>
    public void Append(KvSequences other, int expectedColumns)
    {
        if (other.model != model) throw new ArgumentException("cannot join batches of different models");
        int columns = Math.Max(Columns, other.Columns);
        foreach (var (rows, length) in new[] { (mask, Columns), (other.mask, other.Columns) })
            foreach (var row in rows) row.InsertRange(0, Enumerable.Repeat(false, columns - length));
        anyMasked |= other.anyMasked || Columns != other.Columns;
        cache.Append(other.cache, expectedColumns);
        mask.AddRange(other.mask);
        other.mask = [];
        other.Dispose();
    }

    /// <summary>Drops the leading columns that every row masks out (left after rows leave), so the batch does not widen forever.</summary>
    public void DropLeadingMaskedColumns()
    {
        int unused = Enumerable.Range(0, Columns).TakeWhile(column => mask.All(row => !row[column])).Count();
        if (unused == 0) return;
        cache.DropLeadingColumns(unused);
        foreach (var row in mask) row.RemoveRange(0, unused);
        anyMasked = mask.Any(row => row.Contains(false));
    }

    Tensor MaskTensor()
    {
        int columns = mask[0].Count;
        var flat = new long[Rows * columns];
        for (int row = 0; row < Rows; row++)
            for (int c = 0; c < columns; c++) flat[row * columns + c] = mask[row][c] ? 1 : 0;
        return AttentionMasks.FromHost(flat, Rows, columns, Device);
    }

    public void Dispose() => cache.Dispose();
}
