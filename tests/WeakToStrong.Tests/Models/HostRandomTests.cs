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
    }

    [Fact]
    public void InitializedModelsEqualThoseInitializedInPlace()
    {
        using var scope = NewDisposeScope();
        using var model = new LlamaForCausalLM(RandomModels.TinyLlama(), ModelOptions.Cpu);
        model.InitializeWeights(new Generator(3));
        // The same draws in place, in the order InitializeWeights makes them (norms are filled, not drawn).
        var generator = new Generator(3);
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.Contains("norm", StringComparison.Ordinal)) { Assert.True(parameter.eq(1).all().item<bool>(), name); continue; }
            var expected = empty(parameter.shape).normal_(0, model.Config.InitializerRange, generator);
            Assert.True(expected.eq(parameter).all().item<bool>(), name);
        }
    }

    [Fact]
    public void RandintEqualsRandint()
    {
        using var scope = NewDisposeScope();
        var expected = randint(0, 1000, [4, 9], generator: new Generator(5));
        Assert.True(expected.eq(HostRandom.Randint(0, 1000, [4, 9], new Generator(5), CPU)).all().item<bool>());
    }
}
