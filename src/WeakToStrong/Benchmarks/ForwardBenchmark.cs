using System.Diagnostics;
using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Benchmarks;

/// <param name="CpuSeconds">median CPU seconds (user + system, all threads) of one run: prefill and every decode step</param>
public sealed record ForwardBenchmarkRow(int BatchSize, int PromptTokens, int NewTokens,
    double PrefillSeconds, double DecodeSecondsPerStep, double CpuSeconds)
{
    public double PrefillTokensPerSecond => BatchSize * PromptTokens / PrefillSeconds;
    public double DecodeTokensPerSecond => BatchSize / DecodeSecondsPerStep;
}

/// <summary>
/// Prefill and cached-decode speed of a causal LM (`wts bench forward`). Each measurement is the median
/// of several runs after one warm-up; decoding feeds back the greedy token so the LM head is included.
/// With a peer, its runs alternate with ours (ours, peer, ours, …) on the same seeds, so both see the same machine.
/// </summary>
public static class ForwardBenchmark
{
    public static ForwardBenchmarkRow Measure(CausalLanguageModel model, int batchSize, int promptTokens, int newTokens, int repeats) =>
        Measure(model, batchSize, promptTokens, newTokens, repeats, null).Ours;

    public static (ForwardBenchmarkRow Ours, ForwardBenchmarkRow? Peer) Measure(CausalLanguageModel model, int batchSize, int promptTokens,
        int newTokens, int repeats, ForwardPeer? peer)
    {
        var ours = new List<PeerRun>();
        var theirs = new List<PeerRun>();
        for (int run = 0; run <= repeats; run++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var (prefillSeconds, decodeSeconds) = Generate(model, batchSize, promptTokens, newTokens, seed: run);
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var peerRun = peer?.Run(batchSize, promptTokens, newTokens, seed: run);
            if (run == 0) continue; // warm-up, of the peer too
            ours.Add(new PeerRun(prefillSeconds, decodeSeconds / newTokens, cpuSeconds));
            if (peerRun is not null) theirs.Add(peerRun);
        }
        ForwardBenchmarkRow Row(List<PeerRun> runs) => new(batchSize, promptTokens, newTokens,
            Median(runs.Select(r => r.PrefillSeconds)), Median(runs.Select(r => r.DecodeSecondsPerStep)), Median(runs.Select(r => r.CpuSeconds)));
        return (Row(ours), peer is null ? null : Row(theirs));
    }

    /// <summary>Resident memory after <paramref name="firstSteps"/> and after <paramref name="lastSteps"/> decode
    /// steps, decoding in rounds of <paramref name="roundTokens"/> with a fresh cache each round (a leak grows with steps).</summary>
    public static (long FirstBytes, long LastBytes) MemoryAfterSteps(CausalLanguageModel model, int firstSteps, int lastSteps, int roundTokens = 50)
    {
        long first = 0;
        for (int steps = 0; steps < lastSteps; steps += roundTokens)
        {
            Generate(model, 1, 8, roundTokens, seed: steps);
            if (steps + roundTokens == firstSteps) first = ResidentBytes();
        }
        return (first, ResidentBytes());
    }

    static (double Prefill, double Decode) Generate(CausalLanguageModel model, int batchSize, int promptTokens, int newTokens, int seed)
    {
        using var noGrad = no_grad();
        var device = model.InputEmbeddings.device;
        using var cache = model.NewCache(promptTokens + newTokens);
        using var outer = NewDisposeScope();
        var generator = new Generator((ulong)seed); // CPU: the draw happens on the host (HostRandom)
        var prompt = HostRandom.Randint(0, model.Config.VocabSize, [batchSize, promptTokens], generator, device);

        var clock = Stopwatch.StartNew();
        var next = model.Forward(prompt, null, cache, logitsToKeep: 1).argmax(-1);
        _ = next.cpu(); // make GPU timings honest
        double prefillSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        for (int step = 0; step < newTokens; step++)
        {
            using var scope = NewDisposeScope();
            var token = model.Forward(next, null, cache, logitsToKeep: 1).argmax(-1);
            next.Dispose();
            next = token.MoveToOuterDisposeScope();
        }
        _ = next.cpu();
        return (prefillSeconds, clock.Elapsed.TotalSeconds);
    }

    public static long ResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }

    static double Median(IEnumerable<double> runs)
    {
        var values = runs.Order().ToList();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
    }
}
