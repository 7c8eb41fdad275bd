using System.Diagnostics;
using WeakToStrong.Models;
using WeakToStrong.Search;
using static TorchSharp.torch;

namespace WeakToStrong.Benchmarks;

/// <summary>One decode run of <see cref="MemoryBenchmark"/>: what the model and its cache must hold, and what the process held
/// (peaks above the resident memory just before the model was built: once built, and over the whole run).</summary>
public sealed record MemoryBenchmarkResult(long WeightBytes, long CacheBytes, long BuildPeakBytes, long PeakBytes, int Rows, int PromptTokens, int NewTokens,
    double DecodeSeconds, string PeakSource)
{
    /// <summary>The floor: every weight and a full cache, nothing else.</summary>
    public long NeededBytes => WeightBytes + CacheBytes;

    public double PeakRatio => (double)PeakBytes / NeededBytes;

    public double DecodeTokensPerSecond => Rows * NewTokens / DecodeSeconds;
}

/// <summary>
/// Peak memory of decoding (`wts bench memory`): a random causal LM decodes a batch token by token through
/// <see cref="KvSequences"/> (the path every search takes), and the process's peak resident memory since just
/// before the model was built is compared with weights + KV cache. PyTorch's decode sits close to that sum;
/// intermediates held across layers or copies of the cache show up as the ratio above 1.
/// </summary>
public static class MemoryBenchmark
{
    public static MemoryBenchmarkResult Run(Func<CausalLanguageModel> buildModel, int rows, int promptTokens, int newTokens, ulong seed = 0)
    {
        if (rows <= 0 || promptTokens <= 0 || newTokens <= 0) throw new ArgumentOutOfRangeException(nameof(rows), "rows and tokens must be positive");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        bool peakReset = PeakResidentMemory.TryReset();
        long before = PeakResidentMemory.CurrentBytes();
        var model = buildModel();
        long built = PeakResidentMemory.PeakBytes() - before;
        using var noGrad = no_grad();
        var config = model.Config;
        long elementBytes = model.InputEmbeddings.element_size();
        long weightBytes = model.parameters().Sum(p => p.numel() * p.element_size());
        long cacheBytes = (long)config.NumHiddenLayers * 2 * rows * config.NumKeyValueHeads * config.HeadDim * (promptTokens + newTokens) * elementBytes;

        var random = new Random((int)seed);
        var prompt = Enumerable.Range(0, rows)
            .Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, promptTokens).Select(_ => random.Next(config.VocabSize)).ToArray()).ToArray();
        double decodeSeconds;
        using (var sequences = new KvSequences(model, rows, promptTokens + newTokens))
        {
            var next = Greedy(sequences.Feed(prompt, lastOnly: true)!);
            var clock = Stopwatch.StartNew();
            for (int step = 1; step < newTokens; step++)
                next = Greedy(sequences.Feed(next, lastOnly: true)!);
            decodeSeconds = clock.Elapsed.TotalSeconds;
        }
        long peak = PeakResidentMemory.PeakBytes() - before;
        model.Dispose();
        // The first new token comes from the prompt's forward; the timed steps decode the other newTokens − 1.
        return new MemoryBenchmarkResult(weightBytes, cacheBytes, built, peak, rows, promptTokens, Math.Max(1, newTokens - 1),
            decodeSeconds, peakReset ? "VmHWM (reset just before the model was built) minus the RSS then" : "VmHWM of the process (could not reset it) minus the RSS before the model was built");
    }

    static IReadOnlyList<int>[] Greedy(Tensor logits)
    {
        using (logits)
        using (var best = logits.argmax(-1).cpu())
            return best.data<long>().Select(id => (IReadOnlyList<int>)[(int)id]).ToArray();
    }
}

/// <summary>The process's resident memory from /proc/self/status (Linux); the peak can be reset through /proc/self/clear_refs.</summary>
public static class PeakResidentMemory
{
    /// <summary>Resets VmHWM to the current resident size ("5" > clear_refs, Linux ≥ 4.0); false where that is not possible.</summary>
    public static bool TryReset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    public static long CurrentBytes() => Field("VmRSS:");

    public static long PeakBytes() => Field("VmHWM:");

    static long Field(string name)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) throw new InvalidInputException($"{status} not found: the memory benchmark needs Linux");
        foreach (var line in File.ReadLines(status))
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0]) * 1024; // "kB"
        throw new InvalidInputException($"{status} has no {name} line");
    }
}
