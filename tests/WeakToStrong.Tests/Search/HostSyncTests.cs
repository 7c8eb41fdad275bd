using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tests.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Search;

/// <summary>
/// Host synchronisations in the decode loop. On a GPU every read of tensor values by the host waits for the device;
/// the decode path reads only through <see cref="HostSync"/>, so on CPU the reads can be counted. What counts:
/// a decode step is one token sampled for every live row of the large model; its budget is one
/// <see cref="HostRead.Sampling"/> read. A scorer reads once per model per chunk (<see cref="HostRead.Scoring"/>),
/// never per token. Forwards read nothing (<see cref="HostRead.Other"/> stays 0).
/// </summary>
public class HostSyncTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    // Prompts of different lengths, so the large model's batch is padded and its forwards carry a mask.
    static readonly SearchPrompt[] Prompts = [new(0, "the cat"), new(1, "a tale of the sea"), new(2, "once")];

    static GenerationOptions Generation(int maxNewTokens = 16, int topK = 50) => new(maxNewTokens, new SamplingOptions(0.7, topK, 1.0), null, 5);

    sealed record Reads(long Sampling, long Scoring, long Other, int Steps);

    static Reads Count(Func<Action<int>, object> run)
    {
        long sampling = HostSync.Reads(HostRead.Sampling), scoring = HostSync.Reads(HostRead.Scoring), other = HostSync.Reads(HostRead.Other);
        int steps = 0;
        run(_ => steps++);
        return new(HostSync.Reads(HostRead.Sampling) - sampling, HostSync.Reads(HostRead.Scoring) - scoring, HostSync.Reads(HostRead.Other) - other, steps);
    }

    [Theory]
    [InlineData(2, 2, 4, 50)]
    [InlineData(2, 2, 4, 0)]     // top-k off: the whole vocabulary row is copied, still once
    [InlineData(1, 4, null, 50)] // best-of-4
    public void ChunkLevelBeamSearchReadsOncePerStepAndOncePerModelPerChunk(int w, int k, int? l, int topK)
    {
        var large = world.Load("large");
        var scorer = LogProbScorer.ImplicitValue(large, world.Load("tuned"), world.Load("untuned"));
        var search = new ChunkLevelBeamSearch(large, scorer, new BeamSearchOptions(w, k, l), Generation(16, topK));

        var reads = Count(onToken => search.Run(Prompts, onToken: onToken));

        int chunkLength = l ?? 16, chunks = (reads.Steps + chunkLength - 1) / chunkLength;
        Assert.True(reads.Steps > 0);
        Assert.Equal(reads.Steps, reads.Sampling);
        Assert.InRange(reads.Scoring, 1, 2L * chunks); // two small models, one read each per scored chunk
        Assert.Equal(0, reads.Other);
    }

    [Fact]
    public void PlainSamplingReadsOncePerStep()
    {
        var search = new ChunkLevelBeamSearch(world.Load("large"), null, BeamSearchOptions.Sampling, Generation());

        var reads = Count(onToken => search.Run(Prompts, onToken: onToken));

        Assert.Equal(new Reads(reads.Steps, 0, 0, reads.Steps), reads);
        Assert.True(reads.Steps > 0);
    }

    [Fact]
    public void EmulatedFineTuningReadsOncePerStepForAllPrompts()
    {
        var eft = new EmulatedFineTuning(world.Load("large"), world.Load("tuned"), world.Load("untuned"), 1.5, Generation());

        var reads = Count(onToken => eft.Run(Prompts, onToken));

        Assert.Equal(new Reads(reads.Steps, 0, 0, reads.Steps), reads);
        Assert.True(reads.Steps > 0);
    }

    [Fact]
    public void GenerateReadsOncePerToken()
    {
        var large = world.Load("large");
        long before = HostSync.TotalReads;

        var tokens = WeakToStrong.Search.Generation.Sample(large.Model, large.EncodePrompt("the cat"), 12, new SamplingOptions(), [], 3);

        Assert.Equal(tokens.Count, HostSync.TotalReads - before);
    }

    [Fact]
    public void OneCallSamplesEveryGroupAsSeparateCallsWould()
    {
        using var scope = NewDisposeScope();
        var logits = randn(6, 300, generator: new Generator(4)) * 3;
        var options = new SamplingOptions(0.9, 20, 0.95);

        var together = Sampling.Sample(logits, options, [new Generator(1), new Generator(2), new Generator(3)]);
        var apart = Enumerable.Range(0, 3).SelectMany(g => Sampling.Sample(logits.narrow(0, 2 * g, 2), options, new Generator((ulong)g + 1))).ToArray();

        Assert.Equal(apart, together);
    }

    /// <summary>Rows of bfloat16-rounded logits (values repeat) whose k-th and (k+1)-th largest are equal in every row.</summary>
    static (Tensor Logits, int K) BFloat16Ties(int rows, int vocabulary, int seed)
    {
        var logits = (randn(1, vocabulary, generator: new Generator((ulong)seed)) * 4).to(ScalarType.BFloat16).to(ScalarType.Float32);
        var sorted = logits[0].sort(descending: true).Values.data<float>().ToArray();
        int k = Enumerable.Range(5, 40).First(i => sorted[i - 1] == sorted[i]);
        return (logits.expand(rows, -1).contiguous(), k);
    }

    [Fact]
    public void TopKKeepsEveryTokenTiedWithTheKthThroughTheWidenedTopK()
    {
        using var scope = NewDisposeScope();
        var (logits, k) = BFloat16Ties(4000, 500, seed: 8);
        var options = new SamplingOptions(1.0, k, 1.0);
        var expected = Sampling.Warp(logits.narrow(0, 0, 1), options).softmax(-1)[0].data<float>().ToArray();
        int kept = expected.Count(p => p > 0);
        Assert.True(kept > k, "the fixture should tie at the k-th logit");
        Assert.True(kept < k + Sampling.TieMargin, "the tie should be resolved inside the widened top-k");
        long before = HostSync.TotalReads;

        var ids = Sampling.Sample(logits, options, new Generator(5));

        Assert.Equal(1, HostSync.TotalReads - before);
        AssertFollows(expected, ids);
    }

    [Fact]
    public void ATieRunningPastTheWidenedTopKReadsTheWholeRowOnce()
    {
        using var scope = NewDisposeScope();
        // Token 0 leads; tokens 1..100 tie for second place; k = 2 keeps all 101, more than k + TieMargin.
        var row = new float[300];
        row[0] = 3;
        for (int i = 1; i <= 100; i++) row[i] = 2;
        var logits = tensor(row).unsqueeze(0).expand(3000, -1).contiguous();
        var options = new SamplingOptions(1.0, 2, 1.0);
        var expected = Sampling.Warp(logits.narrow(0, 0, 1), options).softmax(-1)[0].data<float>().ToArray();
        Assert.Equal(101, expected.Count(p => p > 0));
        long before = HostSync.TotalReads;

        var ids = Sampling.Sample(logits, options, new Generator(6));

        Assert.Equal(2, HostSync.TotalReads - before); // the widened top-k, then the full rows: the rare fallback
        AssertFollows(expected, ids);
    }

    /// <summary>Every draw has positive probability and the frequencies match within 5 standard deviations.</summary>
    static void AssertFollows(float[] probabilities, long[] ids)
    {
        var counts = new int[probabilities.Length];
        foreach (long id in ids) counts[id]++;
        for (int t = 0; t < probabilities.Length; t++)
        {
            if (probabilities[t] == 0) { Assert.Equal(0, counts[t]); continue; }
            double sd = Math.Sqrt(probabilities[t] * (1 - probabilities[t]) / ids.Length);
            Assert.True(Math.Abs(counts[t] / (double)ids.Length - probabilities[t]) <= 5 * sd + 1e-9,
                $"token {t}: frequency {counts[t] / (double)ids.Length:F4}, probability {probabilities[t]:F4}");
        }
    }

    /// <summary>Reads in the decode path go through HostSync; anything else would be an uncounted synchronisation.</summary>
    [Fact]
    public void TheDecodePathReadsTheDeviceOnlyThroughHostSync()
    {
        string source = Path.Combine(RepositoryPaths.Root, "src", "WeakToStrong");
        var files = Directory.GetFiles(Path.Combine(source, "Search"), "*.cs")
            .Concat(new[] { "AttentionMasks.cs", "CausalLanguageModel.cs", "Gpt2.cs", "Llama.cs", "KvCache.cs", "Layers.cs" }.Select(f => Path.Combine(source, "Models", f)));
        string[] reads = [".item<", ".data<", ".cpu()", ".ToArray<"];
        var offenders = files.SelectMany(file => File.ReadLines(file).Select((line, i) => (file, line, i)))
            .Where(x => reads.Any(r => x.line.Contains(r, StringComparison.Ordinal)) && !x.line.Contains("HostSync.", StringComparison.Ordinal))
            .Select(x => $"{Path.GetFileName(x.file)}:{x.i + 1}: {x.line.Trim()}").ToArray();
        Assert.Empty(offenders);
    }

    /// <summary>
    /// A mask built on the host says whether it pads anything, so no forward reads it; one that pads nothing gives
    /// bit for bit the logits of no mask (the unmasked attention path). A mask of unknown origin is read once per forward.
    /// </summary>
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void AHostMaskWithoutPaddingIsNotReadAndGivesExactlyTheLogitsOfNoMask(string architecture)
    {
        using CausalLanguageModel model = architecture == "gpt2"
            ? RandomModels.Initialized(new GPT2LMHeadModel(ModelConfig.Gpt2(2, 32, 4, vocabSize: 61, positions: 64), ModelOptions.Cpu), 1)
            : RandomModels.Initialized(new LlamaForCausalLM(RandomModels.TinyLlama(), ModelOptions.Cpu), 2);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = RandomModels.RandomIds(3, 10, 61, seed: 9);
        Tensor Ones(int columns) => AttentionMasks.FromHost(Enumerable.Repeat(1L, 3 * columns).ToArray(), 3, columns, CPU);
        long before = HostSync.TotalReads;

        Assert.True(model.Forward(ids).eq(model.Forward(ids, Ones(10))).all().item<bool>());
        using var plainCache = model.NewCache(10);
        using var maskedCache = model.NewCache(10);
        model.Forward(ids.narrow(1, 0, 7), null, plainCache);
        model.Forward(ids.narrow(1, 0, 7), Ones(7), maskedCache);
        for (int t = 7; t < 10; t++)
            Assert.True(model.Forward(ids.narrow(1, t, 1), null, plainCache).eq(model.Forward(ids.narrow(1, t, 1), Ones(t + 1), maskedCache)).all().item<bool>());
        Assert.Equal(before, HostSync.TotalReads);

        model.Forward(ids, ones_like(ids));
        Assert.Equal(before + 1, HostSync.TotalReads);
    }

    [Fact]
    public void Gpt2BoundsPositionsNotMaskedOutColumns()
    {
        using var model = RandomModels.Initialized(new GPT2LMHeadModel(ModelConfig.Gpt2(1, 16, 2, vocabSize: 61, positions: 8), ModelOptions.Cpu), 1);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = RandomModels.RandomIds(1, 10, 61, seed: 3);
        // 10 columns, the first 3 masked out: positions 0..6 fit n_positions = 8.
        var mask = AttentionMasks.FromHost([0, 0, 0, 1, 1, 1, 1, 1, 1, 1], 1, 10, CPU);
        long before = HostSync.Reads(HostRead.Other);

        Assert.Equal(10, model.Forward(ids, mask).shape[1]);
        Assert.Equal(1, HostSync.Reads(HostRead.Other) - before); // more columns than positions: the one case read

        var tooLong = AttentionMasks.FromHost([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], 1, 10, CPU);
        var error = Assert.Throws<InvalidInputException>(() => model.Forward(ids, tooLong));
        Assert.Contains("sequence of 9 tokens exceeds n_positions = 8", error.Message);
        Assert.Throws<InvalidInputException>(() => model.Forward(ids));
    }
}
