using WeakToStrong.Training;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Training;

/// <summary>LengthBucketedRows: the rows SampleRows would draw, grouped so that a batch pads little.</summary>
public class LengthBucketedRowsTests
{
    static int[] Lengths(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => 5 + random.Next(120)).ToArray();
    }

    [Fact]
    public void APoolHoldsTheRowsDrawnUniformlyAndEachBatchIsFull()
    {
        var lengths = Lengths(1000, 1);
        const int batchSize = 32;
        var batches = new LengthBucketedRows(lengths, batchSize, new Generator(7));
        var served = Enumerable.Range(0, LengthBucketedRows.PoolBatches).Select(_ => batches.Next()).ToArray();
        Assert.All(served, batch => Assert.Equal(batchSize, batch.Length));
        // The same generator's first draw is the pool: the same rows, with repeats, in another order.
        using var scope = NewDisposeScope();
        var drawn = randint(0, lengths.Length, [batchSize * LengthBucketedRows.PoolBatches], generator: new Generator(7)).data<long>()
            .Select(i => (int)i).Order().ToArray();
        Assert.Equal(drawn, served.SelectMany(b => b).Order().ToArray());
    }

    [Fact]
    public void BatchesPadFarLessThanRandomBatches()
    {
        var lengths = Lengths(5000, 2);
        const int batchSize = 32, steps = 64;
        double PaddedFraction(IEnumerable<int[]> batches)
        {
            long real = 0, padded = 0;
            foreach (var batch in batches) { real += batch.Sum(i => lengths[i]); padded += (long)batch.Max(i => lengths[i]) * batch.Length; }
            return 1 - (double)real / padded;
        }
        var bucketed = new LengthBucketedRows(lengths, batchSize, new Generator(3));
        double bucketedPadding = PaddedFraction(Enumerable.Range(0, steps).Select(_ => bucketed.Next()).ToArray());
        var generator = new Generator(3);
        var indices = Enumerable.Range(0, lengths.Length).ToArray();
        double randomPadding = PaddedFraction(Enumerable.Range(0, steps).Select(_ => LanguageModelTraining.SampleRows(indices, batchSize, generator)).ToArray());
        Assert.True(randomPadding > 0.4, $"random batches pad {randomPadding:P1}");
        Assert.True(bucketedPadding < 0.1, $"bucketed batches pad {bucketedPadding:P1} (random: {randomPadding:P1})");
    }

    [Fact]
    public void TheBatchOrderIsShuffledAndSeeded()
    {
        var lengths = Lengths(1000, 3);
        int[][] Serve(ulong seed)
        {
            var batches = new LengthBucketedRows(lengths, 8, new Generator(seed));
            return Enumerable.Range(0, 2 * LengthBucketedRows.PoolBatches).Select(_ => batches.Next()).ToArray();
        }
        var first = Serve(11);
        Assert.Equal(first, Serve(11));
        Assert.NotEqual(first, Serve(12));
        // Not served shortest first: the pool's batches come in a random order.
        var maxima = first.Take(LengthBucketedRows.PoolBatches).Select(b => b.Max(i => lengths[i])).ToArray();
        Assert.NotEqual(maxima.Order().ToArray(), maxima);
    }

    [Fact]
    public void PartsHoldAtMostTheTokenBudgetAndEveryRowOnce()
    {
        var lengths = Enumerable.Range(0, 64).Select(i => 10 + 10 * i).ToArray(); // 10 … 640 tokens
        var batches = new LengthBucketedRows(lengths, 64, new Generator(1));
        var rows = Enumerable.Range(0, 64).ToArray();
        foreach (int perRow in new[] { 1, 2 })
        {
            var parts = batches.Parts(rows, perRow).ToArray();
            Assert.Equal(rows, parts.SelectMany(p => p).ToArray());
            Assert.All(parts, part => Assert.True(part.Length == 1
                || part.Length * perRow * part.Max(i => lengths[i]) <= TrainingLoop.MaxPartTokens));
            Assert.True(parts.Length > 1);
            // Greedy: no part could have taken its successor's first row.
            for (int i = 0; i + 1 < parts.Length; i++)
                Assert.True((parts[i].Length + 1) * perRow * lengths[parts[i + 1][0]] > TrainingLoop.MaxPartTokens);
        }
        // Short rows fit one part.
        Assert.Single(new LengthBucketedRows(Enumerable.Repeat(20, 32).ToArray(), 32, new Generator(1)).Parts(Enumerable.Range(0, 32).ToArray()));
    }

    public static TheoryData<string> DTypes => new() { "float32", "bfloat16", "float16" };

    sealed class Weights : TorchSharp.torch.nn.Module
    {
        public readonly TorchSharp.Modules.Parameter weight;
        public Weights(ScalarType dtype) : base(nameof(Weights))
        {
            weight = new TorchSharp.Modules.Parameter(linspace(-1, 1, 6).to(dtype));
            register_parameter("weight", weight);
        }
    }

    [Theory, MemberData(nameof(DTypes))]
    public void ALossInPartsTrainsAsTheWholeLoss(string dtype)
    {
        var type = dtype switch { "bfloat16" => ScalarType.BFloat16, "float16" => ScalarType.Float16, _ => ScalarType.Float32 };
        var options = new TrainingOptions { Steps = 5, LearningRate = 0.05, WarmupSteps = 0, WeightDecay = 0 };
        using var targets = tensor(new float[] { 0.5f, -0.25f, 2f, 1f, -1.5f, 0.75f });
        Tensor Loss(Weights model, long from, long count) =>
            (model.weight.to(ScalarType.Float32).narrow(0, from, count) - targets.narrow(0, from, count)).pow(2).sum();
        using var whole = new Weights(type);
        using var parted = new Weights(type);
        var wholeLog = TrainingLoop.Run(whole, options, _ => Loss(whole, 0, 6));
        var partedLog = TrainingLoop.Run(parted, options, _ => new[] { (0L, 2L), (2L, 3L), (5L, 1L) }.Select(p => Loss(parted, p.Item1, p.Item2)));
        Assert.Equal(wholeLog.Select(s => s.Loss), partedLog.Select(s => s.Loss), (a, b) => Math.Abs(a - b) < 1e-5);
        using var difference = (whole.weight.to(ScalarType.Float32) - parted.weight.to(ScalarType.Float32)).abs().max();
        Assert.True(difference.item<float>() == 0, $"{dtype}: weights differ by {difference.item<float>()}");
        Assert.True(whole.weight.to(ScalarType.Float32).sub(linspace(-1, 1, 6)).abs().max().item<float>() > 0.1); // it trained
    }
}
