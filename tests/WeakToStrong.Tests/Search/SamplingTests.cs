using WeakToStrong.Search;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Search;

public class SamplingTests
{
    static float[] Warped(float[] logits, SamplingOptions options)
    {
        using var scope = NewDisposeScope();
        return Sampling.Warp(tensor(logits).unsqueeze(0), options)[0].data<float>().ToArray();
    }

    [Fact]
    public void WarpAppliesTemperatureThenTopKThenTopPAsTransformers()
    {
        float[] logits = [1, 2, 3, 4, 5];
        Assert.Equal([float.NegativeInfinity, float.NegativeInfinity, 3, 4, 5], Warped(logits, new SamplingOptions(1.0, 3, 1.0)));
        // Top-p 0.5 over softmax(3, 4, 5) = (0.09, 0.245, 0.665): the smallest set reaching 0.5 is {5}.
        Assert.Equal([float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, 5], Warped(logits, new SamplingOptions(1.0, 3, 0.5)));
        // Temperature 0.5 doubles the logits: softmax(…, 8, 10) = (…, 0.117, 0.865), so top-p 0.9 keeps {8, 10}.
        Assert.Equal([float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, 8, 10], Warped(logits, new SamplingOptions(0.5, 0, 0.9)));
    }

    [Fact]
    public void TopKKeepsEveryTokenTiedWithTheKth()
    {
        Assert.Equal([float.NegativeInfinity, 2, 2, 3], Warped([1, 2, 2, 3], new SamplingOptions(1.0, 2, 1.0)));
    }

    [Theory]
    [InlineData(0.7, 5, 1.0)]
    [InlineData(1.0, 6, 0.8)]
    [InlineData(1.3, 0, 0.9)]   // no top-k: the full-vocabulary path
    public void SamplesFollowTheWarpedDistribution(double temperature, int topK, double topP)
    {
        using var scope = NewDisposeScope();
        var options = new SamplingOptions(temperature, topK, topP);
        var logits = randn(1, 12, generator: new Generator(7)) * 2;
        var expected = Sampling.Warp(logits, options).softmax(-1)[0].data<float>().ToArray();
        const int draws = 4000;
        var rows = logits.expand(draws, -1).contiguous();
        var counts = new int[12];
        foreach (long id in Sampling.Sample(rows, options, new Generator(11))) counts[id]++;
        for (int t = 0; t < 12; t++)
        {
            double sd = Math.Sqrt(expected[t] * (1 - expected[t]) / draws);
            Assert.True(Math.Abs(counts[t] / (double)draws - expected[t]) <= 5 * sd + 1e-9,
                $"token {t}: frequency {counts[t] / (double)draws:F4}, probability {expected[t]:F4}");
        }
    }

    [Fact]
    public void TiesAtTheKthLogitCanStillBeDrawn()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 0, 5, 5, 5, -1 }).unsqueeze(0).expand(3000, -1).contiguous();
        var ids = Sampling.Sample(logits, new SamplingOptions(1.0, 2, 1.0), new Generator(3));
        Assert.Equal([1L, 2L, 3L], ids.Distinct().Order());
    }

    [Fact]
    public void TemperatureZeroIsGreedy()
    {
        using var scope = NewDisposeScope();
        var ids = Sampling.Sample(tensor(new float[,] { { 0, 3, 1 }, { 9, 3, 1 } }), new SamplingOptions(0, 50, 1.0), new Generator(1));
        Assert.Equal([1L, 0L], ids);
    }
}
