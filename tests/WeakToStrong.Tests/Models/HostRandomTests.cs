using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>Seeded draws made on the host and copied: on CPU exactly the values of drawing in place (the zoo is trained from these inits).</summary>
public class HostRandomTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void NormalEqualsNormalInPlace(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        foreach (long[] shape in new[] { new long[] { 61, 32 }, [7], [3, 4, 5], [1000, 17] })
        {
            var inPlace = empty(shape, dtype: dtype).normal_(0.5, 0.02, new Generator(42));
            var viaHost = zeros(shape, dtype: dtype);
            HostRandom.Normal(viaHost, 0.5, 0.02, new Generator(42));
            Assert.True(inPlace.eq(viaHost).all().item<bool>(), $"{dtype} {string.Join("×", shape)}");
        }
        // A transposed view, as vocabulary projections are stored (Layers.WeightLayout).
        var transposedInPlace = empty(32, 61, dtype: dtype).t().normal_(0, 1, new Generator(43));
        var transposedViaHost = empty(32, 61, dtype: dtype).t();
        HostRandom.Normal(transposedViaHost, 0, 1, new Generator(43));
        Assert.True(transposedInPlace.eq(transposedViaHost).all().item<bool>(), $"{dtype} transposed");
    }

    [Fact]
    public void InitializedModelsEqualThoseInitializedInPlace()
    {
        using var scope = NewDisposeScope();
        using var model = new LlamaForCausalLM(RandomModels.TinyLlama(), ModelOptions.Cpu);
        model.InitializeWeights(new Generator(3));
        // The same draws in place, in the order InitializeWeights makes them (norms are filled, not drawn), on a
        // second model with the same layouts (its lm_head is a transposed view).
        using var inPlace = new LlamaForCausalLM(RandomModels.TinyLlama(), ModelOptions.Cpu);
        var generator = new Generator(3);
        using var noGrad = no_grad();
        var expected = inPlace.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.Contains("norm", StringComparison.Ordinal)) { Assert.True(parameter.eq(1).all().item<bool>(), name); continue; }
            expected[name].normal_(0, model.Config.InitializerRange, generator);
            Assert.True(expected[name].eq(parameter).all().item<bool>(), name);
        }
        Assert.Contains(model.named_parameters(), p => !p.parameter.is_contiguous());
    }

    [Fact]
    public void RandintEqualsRandint()
    {
        using var scope = NewDisposeScope();
        var expected = randint(0, 1000, [4, 9], generator: new Generator(5));
        Assert.True(expected.eq(HostRandom.Randint(0, 1000, [4, 9], new Generator(5), CPU)).all().item<bool>());
    }
}
