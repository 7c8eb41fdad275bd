using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

public class CausalLanguageModelTests
{
    public static TheoryData<string> Architectures => new() { "gpt2", "llama", "llama-window" };

    static CausalLanguageModel Build(string architecture) => architecture switch
    {
        "gpt2" => RandomModels.Initialized(new GPT2LMHeadModel(ModelConfig.Gpt2(2, 32, 4, vocabSize: 61, positions: 64), ModelOptions.Cpu), 1),
        "llama" => RandomModels.Initialized(new LlamaForCausalLM(RandomModels.TinyLlama(), ModelOptions.Cpu), 2),
        _ => RandomModels.Initialized(new LlamaForCausalLM(RandomModels.TinyLlama(slidingWindow: 4), ModelOptions.Cpu), 3),
    };

    [Theory, MemberData(nameof(Architectures))]
    public void CachedDecodingEqualsFullForward(string architecture)
    {
        using var model = Build(architecture);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = RandomModels.RandomIds(2, 12, 61, seed: 5);
        var full = model.Forward(ids);

        using var cache = model.NewCache(capacity: 2); // forces the cache to grow on the way
        var pieces = new List<Tensor> { model.Forward(ids.narrow(1, 0, 5), null, cache) };
        pieces.Add(model.Forward(ids.narrow(1, 5, 3), null, cache)); // a chunk, as chunk-level search feeds
        for (int t = 8; t < 12; t++) pieces.Add(model.Forward(ids.narrow(1, t, 1), null, cache));
        var incremental = cat(pieces, 1);

        Assert.Equal(12, cache.Length);
        Assert.True(full.allclose(incremental, rtol: 0, atol: 1e-4), $"max diff {(full - incremental).abs().max().item<float>()}");
    }

    [Theory, MemberData(nameof(Architectures))]
    public void LeftPaddedRowsMatchTheirUnpaddedRuns(string architecture)
    {
        using var model = Build(architecture);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var row0 = RandomModels.RandomIds(1, 9, 61, seed: 6);
        var row1 = RandomModels.RandomIds(1, 6, 61, seed: 7);
        var batch = cat([row0, cat([full(1, 3, 0L, dtype: ScalarType.Int64), row1], 1)], 0);
        var mask = cat([ones(1, 9, dtype: ScalarType.Int64), cat([zeros(1, 3, dtype: ScalarType.Int64), ones(1, 6, dtype: ScalarType.Int64)], 1)], 0);

        var padded = model.Forward(batch, mask);
        var alone0 = model.Forward(row0);
        var alone1 = model.Forward(row1);
        Assert.True(padded[0].allclose(alone0[0], rtol: 0, atol: 1e-4));
        Assert.True(padded[1].narrow(0, 3, 6).allclose(alone1[0], rtol: 0, atol: 1e-4),
            $"max diff {(padded[1].narrow(0, 3, 6) - alone1[0]).abs().max().item<float>()}");

        // And the same batch decoded incrementally with the mask growing by one column per step.
        using var cache = model.NewCache(9);
        var first = model.Forward(batch.narrow(1, 0, 7), mask.narrow(1, 0, 7), cache);
        var second = model.Forward(batch.narrow(1, 7, 1), mask.narrow(1, 0, 8), cache);
        var third = model.Forward(batch.narrow(1, 8, 1), mask, cache);
        var stitched = cat([first, second, third], 1);
        Assert.True(stitched[0].allclose(padded[0], rtol: 0, atol: 1e-4));
        Assert.True(stitched[1].narrow(0, 3, 6).allclose(padded[1].narrow(0, 3, 6), rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void CacheReorderGathersRowsWithoutRecomputation()
    {
        using var model = Build("llama");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = RandomModels.RandomIds(3, 6, 61, seed: 8);
        var next = RandomModels.RandomIds(4, 1, 61, seed: 9);
        using var cache = model.NewCache(7);
        model.Forward(ids, null, cache);
        var rows = tensor(new long[] { 2, 0, 2, 1 });
        cache.Reorder(rows); // beams 2 and 0 survive, 2 twice, then 1
        var stepped = model.Forward(next, null, cache);

        var expected = model.Forward(cat([ids.index_select(0, rows), next], 1)).narrow(1, 6, 1);
        Assert.Equal(4, cache.BatchSize);
        Assert.True(stepped.allclose(expected, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void SlidingWindowChangesLogitsOnlyBeyondTheWindow()
    {
        using var windowed = Build("llama-window");
        using var plain = new LlamaForCausalLM(RandomModels.TinyLlama(), ModelOptions.Cpu);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var ((_, target), (_, source)) in plain.named_parameters().Zip(windowed.named_parameters()))
            target.copy_(source);
        var ids = RandomModels.RandomIds(1, 10, 61, seed: 10);
        var a = windowed.Forward(ids);
        var b = plain.Forward(ids);
        Assert.True(a.narrow(1, 0, 4).allclose(b.narrow(1, 0, 4), rtol: 0, atol: 1e-5));
        Assert.False(a.narrow(1, 5, 5).allclose(b.narrow(1, 5, 5), rtol: 0, atol: 1e-3));
    }
}
