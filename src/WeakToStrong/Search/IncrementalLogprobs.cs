using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// log p(response | prompt) under one model for every row of a search, kept up to date incrementally:
/// each row's tokens live in the model's KV cache with their log-probs, and an update feeds only what
/// changed. A row whose new token sequence shares only a prefix with the old one (re-tokenized text in
/// cross-vocabulary scoring) forgets the rest and recomputes from there. The row's last token is always
/// (re)fed, because its logits score the next token.
/// </summary>
public sealed class IncrementalLogprobs : IDisposable
{
    sealed class Row
    {
        public required int PromptLength;
        public required List<int> Tokens;          // prompt + response tokens whose log-probs are known
        public required List<int> Columns;         // cache column of Tokens[i], for the leading tokens in the cache
        public required List<double> Logprobs;     // log p of response token j = Tokens[PromptLength + j]

        public Row Clone() => new() { PromptLength = PromptLength, Tokens = [.. Tokens], Columns = [.. Columns], Logprobs = [.. Logprobs] };
    }

    readonly KvSequences sequences;
    readonly int rowsPerPrompt;
    Row[] rows;

    /// <summary>Starts <paramref name="rowsPerPrompt"/> rows per prompt; the prompts are run once, then shared.</summary>
    public IncrementalLogprobs(PromptedModel model, IReadOnlyList<string> rawPrompts, int rowsPerPrompt)
    {
        var prompts = rawPrompts.Select(model.EncodePrompt).ToArray();
        sequences = new KvSequences(model.Model, prompts.Length, prompts.Max(p => p.Length) + 64);
        sequences.Feed(prompts.Select(p => (IReadOnlyList<int>)p[..^1]).ToArray(), lastOnly: true)?.Dispose();
        int width = sequences.Columns;
        var promptRows = prompts.Select(p => new Row
        {
            PromptLength = p.Length,
            Tokens = [.. p],
            Columns = Enumerable.Range(width - (p.Length - 1), p.Length - 1).ToList(), // prompts were right-aligned
            Logprobs = [],
        }).ToArray();
        var repeat = Enumerable.Range(0, prompts.Length).SelectMany(p => Enumerable.Repeat(p, rowsPerPrompt)).ToArray();
        sequences.Reorder(repeat);
        rows = repeat.Select(p => promptRows[p].Clone()).ToArray();
        this.rowsPerPrompt = rowsPerPrompt;
        TokensFedPerPrompt = prompts.Select(p => (long)(p.Length - 1)).ToArray();
    }

    public int ForwardCalls => sequences.ForwardCalls;

    /// <summary>Tokens fed to the model so far for each prompt's rows (its share of the compute).</summary>
    public long[] TokensFedPerPrompt { get; }

    /// <summary>
    /// Brings every row to response tokens <paramref name="responses"/> (all of them, not a delta) and
    /// returns Σ log p(response token | prompt, earlier response tokens) per row.
    /// </summary>
    public double[] Update(IReadOnlyList<IReadOnlyList<int>> responses)
    {
        if (responses.Count != rows.Length) throw new ArgumentException($"expected {rows.Length} responses, got {responses.Count}");
        var blocks = new IReadOnlyList<int>[rows.Length];
        var targets = new List<int>[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            var row = rows[r];
            var target = new List<int>(row.PromptLength + responses[r].Count);
            target.AddRange(row.Tokens.Take(row.PromptLength));
            target.AddRange(responses[r]);
            targets[r] = target;

            int common = row.PromptLength;
            while (common < row.Tokens.Count && common < target.Count && row.Tokens[common] == target[common]) common++;
            row.Tokens.RemoveRange(common, row.Tokens.Count - common);
            row.Logprobs.RemoveRange(common - row.PromptLength, row.Logprobs.Count - (common - row.PromptLength));
            // Token common−1 must be fed again if anything follows it: its logits were not kept.
            int keepInCache = Math.Min(row.Columns.Count, common - 1);
            for (int i = keepInCache; i < row.Columns.Count; i++) sequences.Forget(r, row.Columns[i]);
            row.Columns.RemoveRange(keepInCache, row.Columns.Count - keepInCache);

            blocks[r] = common < target.Count ? target.GetRange(keepInCache, target.Count - 1 - keepInCache) : [];
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
                var picked = logits.log_softmax(-1).gather(-1, nextIds.unsqueeze(-1)).squeeze(-1).cpu().data<float>().ToArray();
                for (int r = 0; r < rows.Length; r++)
                {
                    var row = rows[r];
                    int fed = blocks[r].Count, offset = width - fed, firstFed = row.Columns.Count, firstNew = row.Tokens.Count;
                    if (fed == 0) continue;
                    for (int i = firstNew; i < targets[r].Count; i++) row.Logprobs.Add(picked[r * width + offset + (i - 1 - firstFed)]);
                    for (int j = 0; j < fed; j++) row.Columns.Add(start + offset + j);
                    row.Tokens.AddRange(targets[r].Skip(firstNew));
                    TokensFedPerPrompt[r / rowsPerPrompt] += fed;
                }
            }
        }
        return rows.Select(row => row.Logprobs.Sum()).ToArray();
    }

    /// <summary>Keeps rows <paramref name="rowIndex"/> in that order (a row may repeat), cache included.</summary>
    public void Reorder(IReadOnlyList<int> rowIndex)
    {
        sequences.Reorder(rowIndex);
        rows = rowIndex.Select(i => rows[i].Clone()).ToArray();
    }

    public void Dispose() => sequences.Dispose();
}
