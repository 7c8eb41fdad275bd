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

    readonly PromptedModel model;
    readonly KvSequences sequences;
    readonly int rowsPerPrompt;
    Row[] rows;

    /// <summary>Starts <paramref name="rowsPerPrompt"/> rows per prompt; the prompts are run once, then shared.</summary>
    public IncrementalLogprobs(PromptedModel model, IReadOnlyList<string> rawPrompts, int rowsPerPrompt)
    {
        this.model = model;
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
        TokensFedPerPrompt = new long[prompts.Length];
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
                int width = (int)logits.shape[1];
                var logprobs = logits.log_softmax(-1);
                for (int r = 0; r < rows.Length; r++)
                {
                    var row = rows[r];
                    int fed = blocks[r].Count;
                    if (fed == 0) continue;
                    int offset = width - fed, firstFed = row.Columns.Count;
                    // Position j of the block holds token firstFed + j and predicts token firstFed + j + 1.
                    int firstNew = row.Tokens.Count;
                    var next = tensor(targets[r].GetRange(firstNew, targets[r].Count - firstNew).Select(t => (long)t).ToArray(), device: logits.device);
                    var rowLogprobs = logprobs[r].narrow(0, offset + (firstNew - 1 - firstFed), targets[r].Count - firstNew)
                        .gather(-1, next.unsqueeze(-1)).squeeze(-1).cpu().data<float>().ToArray();
                    for (int j = 0; j < fed; j++) row.Columns.Add(start + offset + j);
                    row.Tokens.AddRange(targets[r].Skip(firstNew));
                    row.Logprobs.AddRange(rowLogprobs.Select(v => (double)v));
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
