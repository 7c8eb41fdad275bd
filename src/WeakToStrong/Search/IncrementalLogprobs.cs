using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// Σ log p(token | earlier tokens) over the scored part of each row's token sequence under one model, kept up
/// to date incrementally: a row's tokens live in the model's KV cache with their log-probs, and an update feeds
/// only what changed. A row whose new sequence shares only a prefix with the old one (re-tokenized text) forgets
/// the rest and recomputes from there. The row's last token is always (re)fed, because its logits score the next.
/// </summary>
public sealed class IncrementalLogprobs : IDisposable
{
    sealed class Row
    {
        public required List<int> Tokens;      // the sequence as far as it is known
        public required List<int> Columns;     // cache column of Tokens[i], for all but the last token
        public required List<double> Logprobs; // log p(Tokens[i] | Tokens[<i]); NaN where never computed (the prompt's)

        public Row Clone() => new() { Tokens = [.. Tokens], Columns = [.. Columns], Logprobs = [.. Logprobs] };
    }

    readonly KvSequences sequences;
    readonly int rowsPerPrompt;
    Row[] rows;

    /// <summary>
    /// Cache columns to reserve beyond the longest prompt for responses of up to <paramref name="maxNewTokens"/>
    /// tokens scored <paramref name="updates"/> times. Columns outrun tokens: every update feeds again the last
    /// token it kept, rows whose text re-tokenizes differently feed their changed suffix again (the old columns
    /// are forgotten, not reused), and each update is as wide as its widest row. <see cref="RefedPerUpdate"/>
    /// columns per update cover that in the usual case; a scoring model whose tokenizer splits the response
    /// into more tokens than the search's can still exceed it, and then the cache grows to exactly what the
    /// update needs (one copy), rather than holding spare columns for the rest of the run.
    /// </summary>
    public static int ResponseColumns(int maxNewTokens, int updates) => maxNewTokens + updates * RefedPerUpdate;

    const int RefedPerUpdate = 4;

    /// <summary>Starts <paramref name="rowsPerPrompt"/> rows per prompt from its token ids; the prompts are run once, then shared.</summary>
    /// <param name="responseColumns">cache columns reserved beyond the longest prompt (<see cref="ResponseColumns"/>)</param>
    public IncrementalLogprobs(PromptedModel model, IReadOnlyList<int[]> promptIds, int rowsPerPrompt, int responseColumns)
    {
        sequences = new KvSequences(model.Model, promptIds.Count, promptIds.Max(p => p.Length) + responseColumns);
        sequences.Feed(promptIds.Select(p => (IReadOnlyList<int>)p[..^1]).ToArray(), lastOnly: true)?.Dispose();
        int width = sequences.Columns;
        var promptRows = promptIds.Select(p => new Row
        {
            Tokens = [.. p],
            Columns = Enumerable.Range(width - (p.Length - 1), p.Length - 1).ToList(), // prompts were right-aligned
            Logprobs = Enumerable.Repeat(double.NaN, p.Length).ToList(),
        }).ToArray();
        var repeat = Enumerable.Range(0, promptIds.Count).SelectMany(p => Enumerable.Repeat(p, rowsPerPrompt)).ToArray();
        sequences.Reorder(repeat);
        rows = repeat.Select(p => promptRows[p].Clone()).ToArray();
        this.rowsPerPrompt = rowsPerPrompt;
        TokensFedPerPrompt = promptIds.Select(p => (long)(p.Length - 1)).ToArray();
    }

    public int ForwardCalls => sequences.ForwardCalls;

    /// <summary>Tokens fed to the model so far for each prompt's rows (its share of the compute).</summary>
    public long[] TokensFedPerPrompt { get; }

    /// <summary>
    /// Brings every row to the token sequence <paramref name="targets"/> (prompt and response, all of it, not a
    /// delta) and returns Σ log p(token i | tokens before i) over i ≥ <paramref name="scoreFrom"/> per row (the
    /// first token, which nothing predicts, is never scored).
    /// </summary>
    public double[] Update(IReadOnlyList<IReadOnlyList<int>> targets, IReadOnlyList<int> scoreFrom)
    {
        if (targets.Count != rows.Length || scoreFrom.Count != rows.Length)
            throw new ArgumentException($"expected {rows.Length} sequences and start positions, got {targets.Count} and {scoreFrom.Count}");
        var blocks = new IReadOnlyList<int>[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            var (row, target) = (rows[r], targets[r]);
            int from = Math.Max(1, scoreFrom[r]);
            int common = 0;
            while (common < row.Tokens.Count && common < target.Count && row.Tokens[common] == target[common]) common++;
            // A token to be scored whose log-prob was never computed (a prompt token, fed without logits) is fed again.
            for (int i = from; i < common; i++)
                if (double.IsNaN(row.Logprobs[i])) { common = i; break; }
            row.Tokens.RemoveRange(common, row.Tokens.Count - common);
            row.Logprobs.RemoveRange(common, row.Logprobs.Count - common);
            // Token common−1 must be fed again if anything follows it: its logits were not kept.
            int keepInCache = Math.Max(0, common - 1);
            for (int i = keepInCache; i < row.Columns.Count; i++) sequences.Forget(r, row.Columns[i]);
            row.Columns.RemoveRange(keepInCache, row.Columns.Count - keepInCache);
            blocks[r] = common < target.Count ? target.Skip(keepInCache).Take(target.Count - 1 - keepInCache).ToArray() : [];
        }

        int start = sequences.Columns;
        using (var scope = NewDisposeScope())
        {
            var logits = sequences.Feed(blocks, lastOnly: false);
            if (logits is not null)
            {
                // Block position j of row r holds token firstFed + j and predicts token firstFed + j + 1.
                int width = (int)logits.shape[1];
                var next = new long[rows.Length * width];
                for (int r = 0; r < rows.Length; r++)
                {
                    int fed = blocks[r].Count, offset = width - fed, firstFed = rows[r].Columns.Count;
                    for (int j = 0; j < fed; j++) next[r * width + offset + j] = targets[r][firstFed + j + 1];
                }
                // One fused log-softmax and one gather for all rows (logsumexp is slower in TorchSharp 0.107 on CPU).
                var nextIds = tensor(next, [rows.Length, width], device: logits.device);
                var picked = HostSync.ToArray<float>(logits.log_softmax(-1).gather(-1, nextIds.unsqueeze(-1)).squeeze(-1), HostRead.Scoring);
                for (int r = 0; r < rows.Length; r++)
                {
                    var row = rows[r];
                    int fed = blocks[r].Count, offset = width - fed, firstFed = row.Columns.Count;
                    if (fed == 0) continue;
                    for (int i = row.Tokens.Count; i < targets[r].Count; i++)
                        row.Logprobs.Add(i == 0 ? double.NaN : picked[r * width + offset + (i - 1 - firstFed)]);
                    for (int j = 0; j < fed; j++) row.Columns.Add(start + offset + j);
                    row.Tokens.AddRange(targets[r].Skip(row.Tokens.Count));
                    TokensFedPerPrompt[r / rowsPerPrompt] += fed;
                }
            }
        }
        return rows.Select((row, r) =>
        {
            double sum = 0;
            for (int i = Math.Max(1, scoreFrom[r]); i < row.Tokens.Count; i++) sum += row.Logprobs[i];
            return sum;
        }).ToArray();
    }

    /// <summary>Keeps rows <paramref name="rowIndex"/> in that order (a row may repeat), cache included.</summary>
    public void Reorder(IReadOnlyList<int> rowIndex)
    {
        sequences.Reorder(rowIndex);
        rows = rowIndex.Select(i => rows[i].Clone()).ToArray();
    }

    public void Dispose() => sequences.Dispose();
}
