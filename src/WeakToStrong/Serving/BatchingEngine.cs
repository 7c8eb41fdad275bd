using System.Diagnostics;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;

namespace WeakToStrong.Serving;

/// <summary>
/// Continuous batching for one causal LM: every decode step runs one forward pass over the rows (choices) of all
/// requests in flight. A request waits for the next step boundary, has its prompts prefilled in a batch of its own
/// (one row per distinct prompt, repeated n times), draws its first tokens, and joins the running batch by
/// concatenating KV caches (<see cref="KvSequences.Append"/>; the shorter side gets masked columns in front, which
/// change no row's result). A finished row leaves the batch at once, and columns no remaining row uses are dropped.
/// All model work happens on one thread; requests come from any thread and get a task.
/// </summary>
public sealed class BatchingEngine : IDisposable
{
    readonly CausalLanguageModel model;
    readonly IReadOnlySet<int> eosTokenIds;
    readonly object gate = new();
    readonly Queue<PendingJob> waiting = new();
    readonly Thread thread;
    bool stopping;

    /// <param name="maxBatchRows">the most rows (choices) decoded together; a request waits until its rows fit</param>
    public BatchingEngine(CausalLanguageModel model, HfTokenizer tokenizer, int maxBatchRows)
    {
        if (maxBatchRows < 1) throw new InvalidInputException($"--max-batch-rows must be ≥ 1, got {maxBatchRows}");
        tokenizer.RequireIdsWithin(model.Config);
        this.model = model;
        Tokenizer = tokenizer;
        MaxBatchRows = maxBatchRows;
        eosTokenIds = tokenizer.EosTokenIds.Concat(model.Config.EosTokenIds).ToHashSet();
        thread = new Thread(Run) { IsBackground = true, Name = "wts serve engine" };
        thread.Start();
    }

    public HfTokenizer Tokenizer { get; }
    public int MaxBatchRows { get; }
    public int MaxPositions => model.Config.MaxPositionEmbeddings;

    /// <summary>Decode steps run so far (one forward pass each, prefills not counted).</summary>
    public long DecodeSteps => Interlocked.Read(ref decodeSteps);
    /// <summary>Rows summed over decode steps: divided by <see cref="DecodeSteps"/>, the mean batch.</summary>
    public long DecodedRows => Interlocked.Read(ref decodedRows);
    long decodeSteps, decodedRows;

    /// <summary>Queues a job; its task ends when every choice has finished (or faults with what stopped the engine).</summary>
    public Task<ServedCompletion> Submit(CompletionJob job, CancellationToken cancellation = default)
    {
        if (job.Rows < 1 || job.Rows > MaxBatchRows) throw new ArgumentException($"a job of {job.Rows} rows cannot fit a batch of {MaxBatchRows}");
        if (job.Prompts.Any(p => p.Length == 0 || p.Length + job.MaxTokens > MaxPositions))
            throw new ArgumentException($"every prompt needs 1..{MaxPositions - job.MaxTokens} tokens");
        var pending = new PendingJob(job, new StopStringScan(Tokenizer, job.Stop), cancellation);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(stopping, this);
            waiting.Enqueue(pending);
            Monitor.Pulse(gate);
        }
        return pending.Completion.Task;
    }

    public void Dispose()
    {
        lock (gate)
        {
            stopping = true;
            Monitor.Pulse(gate);
        }
        thread.Join();
    }

    void Run()
    {
        using var noGrad = no_grad(); // per thread
        KvSequences? batch = null;
        var rows = new List<Row>();
        while (true)
        {
            var admitted = new List<PendingJob>();
            lock (gate)
            {
                while (!stopping && waiting.Count == 0 && rows.Count == 0) Monitor.Wait(gate);
                if (stopping) break;
                // First come, first served: a job that does not fit yet holds back the ones behind it.
                int free = MaxBatchRows - rows.Count;
                while (waiting.Count > 0 && waiting.Peek().Job.Rows <= free)
                {
                    free -= waiting.Peek().Job.Rows;
                    admitted.Add(waiting.Dequeue());
                }
            }
            try
            {
                using var scope = NewDisposeScope();
                if (admitted.Count > 0) batch = Admit(admitted, batch, rows);
                if (rows.Count > 0) batch = Step(batch!, rows);
            }
            catch (Exception e)
            {
                foreach (var job in rows.Select(r => r.Job).Concat(admitted).Distinct()) job.Completion.TrySetException(e);
                foreach (var row in rows) row.Generator.Dispose();
                rows.Clear();
                batch?.Dispose();
                batch = null;
            }
        }
        foreach (var row in rows) row.Generator.Dispose();
        batch?.Dispose();
        lock (gate)
            foreach (var job in rows.Select(r => r.Job).Concat(waiting).Distinct())
                job.Completion.TrySetException(new ObjectDisposedException(nameof(BatchingEngine), "the server is shutting down"));
    }

    /// <summary>Prefills the admitted jobs' prompts, draws each row's first token, and joins the survivors to the batch.</summary>
    KvSequences? Admit(List<PendingJob> jobs, KvSequences? batch, List<Row> rows)
    {
        long admittedAt = Stopwatch.GetTimestamp();
        var prompts = jobs.SelectMany(j => j.Job.Prompts).ToList();
        int newColumns = prompts.Max(p => p.Length) + jobs.Max(j => j.Job.MaxTokens);
        var prefill = new KvSequences(model, prompts.Count, newColumns);
        try
        {
            var promptLogits = prefill.Feed(prompts, lastOnly: true)!;
            var promptOfRow = new List<int>();
            var newRows = new List<Row>();
            int promptIndex = 0;
            foreach (var job in jobs)
            {
                job.AdmittedAt = admittedAt;
                job.PromptTokens = job.Job.Prompts.Sum(p => p.Length);
                for (int p = 0; p < job.Job.Prompts.Count; p++, promptIndex++)
                    for (int j = 0; j < job.Job.N; j++)
                    {
                        int choice = p * job.Job.N + j;
                        promptOfRow.Add(promptIndex);
                        var row = new Row(job, choice, RowGenerator(job.Job.Seed, choice));
                        job.Rows[choice] = row;
                        newRows.Add(row);
                    }
            }
            if (promptOfRow.Count != prompts.Count) prefill.Reorder(promptOfRow);
            DrawNextTokens(newRows, promptOfRow.Count == prompts.Count ? promptLogits : promptLogits.index_select(0, Indices(promptOfRow)));
            var kept = Prune(prefill, newRows);
            if (kept is null) return batch;
            if (batch is null)
            {
                rows.AddRange(newRows);
                return kept;
            }
            int columns = Math.Max(batch.Columns, kept.Columns);
            batch.Append(kept, columns + rows.Concat(newRows).Max(r => r.Job.Job.MaxTokens - r.Tokens.Count));
            rows.AddRange(newRows);
            return batch;
        }
        catch
        {
            prefill.Dispose();
            foreach (var job in jobs) foreach (var row in job.Rows) row?.Generator.Dispose();
            throw;
        }
    }

    /// <summary>One decode step: every row feeds its last token and draws the next.</summary>
    KvSequences? Step(KvSequences batch, List<Row> rows)
    {
        var logits = batch.Feed(rows.Select(r => (IReadOnlyList<int>)[r.LastToken]).ToList(), lastOnly: true)!;
        Interlocked.Increment(ref decodeSteps);
        Interlocked.Add(ref decodedRows, rows.Count);
        DrawNextTokens(rows, logits);
        return Prune(batch, rows);
    }

    /// <summary>Removes finished and abandoned rows from the batch (and from <paramref name="rows"/>); null when none are left.</summary>
    KvSequences? Prune(KvSequences batch, List<Row> rows)
    {
        var keep = new List<int>();
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row.FinishReason is null && !row.Job.Cancellation.IsCancellationRequested) { keep.Add(i); continue; }
            row.Generator.Dispose();
            row.Job.RowLeft(this);
        }
        if (keep.Count == rows.Count) return batch;
        var kept = keep.Select(i => rows[i]).ToList();
        rows.Clear();
        rows.AddRange(kept);
        if (kept.Count == 0)
        {
            batch.Dispose();
            return null;
        }
        batch.Reorder(keep);
        batch.DropLeadingMaskedColumns();
        return batch;
    }

    /// <summary>Each row's next token from logits [rows, V]: rows that share sampling options draw in one call, each with its own generator.</summary>
    void DrawNextTokens(List<Row> rows, Tensor logits)
    {
        var tokens = new long[rows.Count];
        foreach (var group in Enumerable.Range(0, rows.Count).GroupBy(i => rows[i].Job.Job.Sampling))
        {
            var members = group.ToList();
            var groupLogits = members.Count == rows.Count ? logits : logits.index_select(0, Indices(members));
            var drawn = Sampling.Sample(groupLogits, group.Key, members.Select(i => rows[i].Generator).ToList());
            for (int m = 0; m < members.Count; m++) tokens[members[m]] = drawn[m];
        }
        var withLogprobs = Enumerable.Range(0, rows.Count).Where(i => rows[i].Job.Job.Logprobs is not null).ToList();
        if (withLogprobs.Count > 0) RecordLogprobs(rows, logits, tokens, withLogprobs);
        for (int i = 0; i < rows.Count; i++) Accept(rows[i], (int)tokens[i]);
    }

    void RecordLogprobs(List<Row> rows, Tensor logits, long[] tokens, List<int> members)
    {
        var logprobs = logits.index_select(0, Indices(members)).log_softmax(-1);
        var chosen = logprobs.gather(1, tensor(members.Select(i => tokens[i]).ToArray(), [members.Count, 1], device: logits.device));
        int top = members.Max(i => rows[i].Job.Job.Logprobs!.Value);
        var parts = new List<Tensor> { chosen.to(ScalarType.Float64) };
        if (top > 0)
        {
            var (values, ids) = logprobs.topk(top, dim: -1);
            parts.Add(values.to(ScalarType.Float64));
            parts.Add(ids.to(ScalarType.Float64)); // float64 holds ids exactly
        }
        var host = HostSync.ToArray<double>(cat(parts, 1), HostRead.Sampling); // [members, 1 + 2·top]
        int width = 1 + 2 * top;
        for (int m = 0; m < members.Count; m++)
        {
            var row = rows[members[m]];
            row.Logprobs.Add(host[m * width]);
            int wanted = row.Job.Job.Logprobs!.Value;
            row.TopLogprobs.Add(Enumerable.Range(0, wanted).Select(t => ((int)host[m * width + 1 + top + t], host[m * width + 1 + t])).ToList());
        }
    }

    void Accept(Row row, int token)
    {
        row.Tokens.Add(token);
        var job = row.Job.Job;
        if (!job.IgnoreEos && eosTokenIds.Contains(token)) row.FinishReason = "stop";
        else if (row.Job.StopScan.Stopped(row.Tokens)) row.FinishReason = "stop";
        else if (row.Tokens.Count >= job.MaxTokens) row.FinishReason = "length";
    }

    static Tensor Indices(IEnumerable<int> indices) => tensor(indices.Select(i => (long)i).ToArray());

    static Generator RowGenerator(long? seed, int choice) => new(seed is long s ? RowSeed(s, choice) : (ulong)Random.Shared.NextInt64());

    /// <summary>A generator seed from (request seed, choice index) alone (SplitMix64's finalizer, so nearby seeds give unrelated streams).</summary>
    internal static ulong RowSeed(long seed, int choice)
    {
        return SplitMix.Mix(unchecked((ulong)seed + 0x9E3779B97F4A7C15UL * (ulong)(choice + 1)));
    }

    ChoiceLogprobs? LogprobsOf(Row row, int tokenCount)
    {
        if (row.Job.Job.Logprobs is null) return null;
        var ids = row.Tokens.Take(tokenCount).ToList();
        var offsets = Enumerable.Range(0, ids.Count).Select(i => Tokenizer.Decode(ids.Take(i), skipSpecialTokens: true).Length).ToList();
        var tokens = ids.Select(id => Tokenizer.Decode([id])).ToList();
        var top = row.Job.Job.Logprobs > 0
            ? row.TopLogprobs.Take(tokenCount).Select(t => (IReadOnlyList<(string, double)>)t.Select(p => (Tokenizer.Decode([p.Id]), p.Logprob)).ToList()).ToList()
            : null;
        return new ChoiceLogprobs(tokens, row.Logprobs.Take(tokenCount).ToList(), top, offsets);
    }

    ServedChoice ChoiceOf(Row row)
    {
        string text = Tokenizer.Decode(row.Tokens, skipSpecialTokens: true);
        if (StopStringScan.Index(text, row.Job.Job.Stop) is int stop) text = text[..stop];
        return new ServedChoice(row.Choice, text, row.FinishReason ?? "length", row.Tokens, LogprobsOf(row, row.Tokens.Count));
    }

    sealed class Row(PendingJob job, int choice, Generator generator)
    {
        public PendingJob Job { get; } = job;
        public int Choice { get; } = choice;
        public Generator Generator { get; } = generator;
        public List<int> Tokens { get; } = [];
        public List<double> Logprobs { get; } = [];
        public List<List<(int Id, double Logprob)>> TopLogprobs { get; } = [];
        public string? FinishReason { get; set; }
        public int LastToken => Tokens[^1];
    }

    sealed class PendingJob(CompletionJob job, StopStringScan stopScan, CancellationToken cancellation)
    {
        public CompletionJob Job { get; } = job;
        public StopStringScan StopScan { get; } = stopScan;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<ServedCompletion> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Row?[] Rows { get; } = new Row?[job.Rows];
        public long AdmittedAt { get; set; }
        public int PromptTokens { get; set; }
        int left;

        public void RowLeft(BatchingEngine engine)
        {
            if (Cancellation.IsCancellationRequested)
            {
                Completion.TrySetCanceled(Cancellation);
                return;
            }
            if (++left < Rows.Length) return;
            var choices = Rows.Select(r => engine.ChoiceOf(r!)).ToList();
            Completion.TrySetResult(new ServedCompletion(choices, PromptTokens, choices.Sum(c => c.TokenIds.Count),
                Stopwatch.GetElapsedTime(AdmittedAt).TotalSeconds));
        }
    }
}
