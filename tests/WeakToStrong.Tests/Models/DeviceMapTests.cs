using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tests.Search;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>
/// The layer-wise device map (accelerate's device_map) on a machine with one device: a map of several CPU slots makes
/// every move a model makes across devices happen (as a no-op copy) and counted, so the split, the moves and the results
/// are checked here; real transfers between GPUs are not.
/// </summary>
public class DeviceMapTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    static ModelOptions CpuSlots(int count) => ModelOptions.Cpu with { Devices = Enumerable.Repeat(CPU, count).ToArray() };

    /// <summary>Meta-Llama-3-70B's config.json, the paper's strongest base model.</summary>
    static ModelConfig Llama3_70B => ModelConfig.Llama(layers: 80, hidden: 8192, heads: 64, kvHeads: 8, intermediate: 28672, vocabSize: 128256, positions: 8192);

    const long Gib = 1L << 30;

    /// <summary>Same shape and every element equal: bit-identical results, no tolerance.</summary>
    static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void ParameterCountsAddUpToTheKnownSizesOfLlama3_70BAndGpt2()
    {
        Assert.Equal(70_553_706_496L, MemoryEstimate.Parameters(Llama3_70B)); // the safetensors index of Meta-Llama-3-70B
        Assert.Equal(124_439_808L, MemoryEstimate.Parameters(ModelConfig.Gpt2(12, 768, 12))); // gpt2 (tied head)
    }

    [Theory]
    [InlineData("llama-gqa")]
    [InlineData("gpt2-tied")]
    [InlineData("qwen2-bias")]
    [InlineData("mistral")]
    public void ParameterCountsMatchTheModulesOfEachFixture(string fixture)
    {
        using var model = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
        Assert.Equal(model.parameters().Sum(p => p.numel()), MemoryEstimate.Parameters(model.Config));
    }

    [Fact]
    public void A70BModelInBfloat16SplitsEvenlyOverTwo80GBCards()
    {
        var map = DeviceMap.For(Llama3_70B, ScalarType.BFloat16, [CPU, CPU], [80 * Gib, 80 * Gib]);
        Assert.Equal(Enumerable.Repeat(0, 40).Concat(Enumerable.Repeat(1, 40)), map.LayerSlots);
        // One 80 GB card cannot hold it: the refusal names the numbers.
        var error = Assert.Throws<InvalidInputException>(() => DeviceMap.For(Llama3_70B, ScalarType.BFloat16, [CPU, CPU], [40 * Gib, 40 * Gib]));
        Assert.Contains("device 0 of the device map needs 65.", error.Message);
    }

    [Fact]
    public void LayersAreContiguousAndFollowEachDevicesCapacity()
    {
        // 10 layers of 10 bytes, embeddings 20, head 20 (total 140): capacities 1:3 give device 0 the first 35 bytes.
        var layers = Enumerable.Repeat(10L, 10).ToArray();
        Assert.Equal([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], DeviceMap.BalanceLayers(20, layers, 20, 2, [100, 300]));
        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], DeviceMap.BalanceLayers(20, layers, 20, 2));
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, 2, 2, 2], DeviceMap.BalanceLayers(20, layers, 20, 3));
        // Huge embeddings push every layer off the first device; it still holds the embeddings.
        Assert.Equal([1, 1], DeviceMap.BalanceLayers(1000, [10, 10], 0, 2));
    }

    public static TheoryData<string, int> Splits => new() { { "llama-gqa", 2 }, { "llama-gqa", 3 }, { "gpt2-tied", 2 }, { "gpt2-tied", 3 } };

    [Theory, MemberData(nameof(Splits))]
    public void AMappedModelGivesTheSingleDeviceLogitsBitForBitAndMovesOncePerDevice(string fixture, int devices)
    {
        using var single = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
        using var mapped = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), CpuSlots(devices));
        var map = mapped.DeviceMap;
        Assert.True(map.IsSplit);
        Assert.Equal(devices, map.Devices.Count);
        // Slot changes along embeddings (slot 0) → layers → final norm and head (last slot): the moves one forward makes.
        int[] path = [0, .. map.LayerSlots, devices - 1];
        int hiddenMoves = path.Zip(path.Skip(1)).Count(p => p.First != p.Second);
        // Contiguous and monotone: each later device that holds anything is entered once (a 2-layer model leaves one of three empty).
        Assert.Equal(path.Distinct().Count() - 1, hiddenMoves);
        if (devices == 2) Assert.Equal(1, hiddenMoves);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 0, 5, 7, 9, 11, 3, 5, 8, 2, 1, 4, 6 }, [2, 6]);
        var mask = tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, [2, 6]);
        // A whole prompt, then three cached steps with the padded mask growing, then a beam reorder: every path a search takes.
        using var singleCache = single.NewCache(4);
        using var mappedCache = mapped.NewCache(4);
        Assert.True(Identical(single.Forward(ids), mapped.Forward(ids)));
        Assert.True(Identical(single.Forward(ids, mask, singleCache), mapped.Forward(ids, mask, mappedCache)));
        for (int step = 0; step < 3; step++)
        {
            var next = tensor(new long[] { 10 + step, 20 + step }, [2, 1]);
            mask = cat([mask, ones(2, 1, dtype: ScalarType.Int64)], 1);
            Assert.True(Identical(single.Forward(next, mask, singleCache, logitsToKeep: 1), mapped.Forward(next, mask, mappedCache, logitsToKeep: 1)));
            var rows = tensor(new long[] { 1, 0 }); // a swap keeps one left-padded row, so every later forward has a mask
            singleCache.Reorder(rows);
            mappedCache.Reorder(rows);
            mask = mask.index_select(0, rows);
        }
        const int forwards = 5;
        Assert.Equal(forwards * hiddenMoves, map.HiddenStateMoves);
        Assert.Equal(forwards, map.OutputMoves); // logits (or a tied head's hidden state) back to the first device once
        int perLayerInputs = (fixture.StartsWith("llama", StringComparison.Ordinal) ? 2 : 0) + 1; // cos, sin; the mask when there is one
        int layerSlotChanges = Enumerable.Range(0, map.LayerSlots.Count).Count(i => map.LayerSlots[i] != (i == 0 ? 0 : map.LayerSlots[i - 1]));
        int maskless = 1; // the first forward has no mask
        Assert.Equal(layerSlotChanges * (forwards * perLayerInputs - maskless), map.LayerInputCopies);
        Assert.Equal(0, single.DeviceMap.HiddenStateMoves + single.DeviceMap.OutputMoves + single.DeviceMap.LayerInputCopies);
    }

    [Theory]
    [InlineData("llama-reward")]
    [InlineData("gpt2-reward")]
    public void AMappedClassifierScoresBitForBit(string fixture)
    {
        using var single = PretrainedModels.LoadSequenceClassifier(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
        using var mapped = PretrainedModels.LoadSequenceClassifier(RepositoryPaths.Fixture(fixture), CpuSlots(2));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 1, 5, 7, 9, 11, 3, 5, 8, 2, 1 }, [2, 5]);
        var mask = tensor(new long[] { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, [2, 5]);
        Assert.True(Identical(single.Forward(ids, mask), mapped.Forward(ids, mask)));
        Assert.Equal(1, mapped.DeviceMap.OutputMoves);
        Assert.Equal(1, mapped.DeviceMap.HiddenStateMoves);
    }

    [Theory]
    [InlineData("llama-gqa")]
    [InlineData("gpt2-tied")]
    public void GradientsFlowBackAcrossTheMapUnchanged(string fixture)
    {
        // Training a mapped model (wts train … --device cuda:0,cuda:1): the moves are differentiable, every gradient as on one device.
        using var single = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
        using var mapped = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), CpuSlots(2));
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 0, 5, 7, 9, 11, 3, 5, 8, 2, 1, 4, 6 }, [2, 6]);
        foreach (var model in new[] { single, mapped })
            model.Forward(ids).log_softmax(-1).narrow(1, 0, 5).gather(-1, ids.narrow(1, 1, 5).unsqueeze(-1)).sum().backward();
        var expected = single.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        Assert.All(mapped.named_parameters(), p => Assert.True(Identical(expected[p.name], p.parameter.grad!), p.name));
    }

    [Fact]
    public void ChunkLevelBeamSearchOnMappedModelsFindsTheSameHypotheses()
    {
        // A GQA Llama base over three CPU slots, guided by GPT-2 small models over two: CBS(2, 2, 3) as on one device.
        string directory = Path.Combine(world.Root, "llama-base");
        if (!Directory.Exists(directory))
        {
            var vocabulary = ByteLevelBpeVocabulary.FromMerges(TinyWorld.MergesA);
            var config = ModelConfig.Llama(layers: 6, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, vocabSize: vocabulary.Count, positions: 256);
            using var model = new LlamaForCausalLM(config, ModelOptions.Cpu);
            model.InitializeWeights(new Generator(7));
            PretrainedModels.Save(model, config, directory, Path.Combine(world.Root, "tokenizers", "large"));
        }
        IReadOnlyList<SearchOutput> Search(int baseDevices, int smallDevices)
        {
            PromptedModel Load(string dir, int devices) =>
                new(Path.GetFileName(dir), PretrainedModels.LoadCausalLM(dir, CpuSlots(devices)), HfTokenizer.Load(dir), new PromptTemplate(PromptTemplate.Placeholder));
            var large = Load(directory, baseDevices);
            var tuned = Load(world.Dir("tuned"), smallDevices);
            var untuned = Load(world.Dir("untuned"), smallDevices);
            try
            {
                var generation = new GenerationOptions(12, new SamplingOptions(0.7, 50, 1.0), null, 3);
                var search = new ChunkLevelBeamSearch(large, LogProbScorer.ImplicitValue(large, tuned, untuned), new BeamSearchOptions(2, 2, 3), generation);
                var outputs = search.Run([new(0, "the cat"), new(1, "a tale of")]);
                if (baseDevices > 1) Assert.True(large.Model.DeviceMap.HiddenStateMoves > 0);
                return outputs;
            }
            finally
            {
                large.Model.Dispose();
                tuned.Model.Dispose();
                untuned.Model.Dispose();
            }
        }

        var one = Search(1, 1);
        var mapped = Search(3, 2);
        foreach (var (a, b) in one.Zip(mapped))
        {
            Assert.Equal(a.Hypotheses.Select(h => (h.Text, h.Score, h.Finish)), b.Hypotheses.Select(h => (h.Text, h.Score, h.Finish)));
            Assert.Equal(a.Hypotheses.Select(h => string.Join(",", h.TokenIds)), b.Hypotheses.Select(h => string.Join(",", h.TokenIds)));
        }
    }

    [Fact]
    public void TheDeviceFlagTakesAListOrAuto()
    {
        var options = ModelOptions.Parse("cpu,cpu", "bfloat16");
        Assert.Equal(2, options.Devices.Count);
        Assert.Equal(ScalarType.BFloat16, options.DType);
        if (!cuda.is_available()) Assert.Equal([CPU], ModelOptions.Parse("auto", null).Devices);
        Assert.Single(ModelOptions.Parse("cpu", null).Devices);
        var error = Assert.Throws<InvalidInputException>(() => ModelOptions.Parse("cpu,,cpu", null));
        Assert.StartsWith("--device: expected cpu, cuda, cuda:N, auto or a comma-separated list", error.Message);
        Assert.Throws<InvalidInputException>(() => ModelOptions.Parse("cpu,gpu", null));
    }
}
