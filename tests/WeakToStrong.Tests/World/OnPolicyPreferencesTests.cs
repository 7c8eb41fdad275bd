using WeakToStrong.Search;
using WeakToStrong.Tests.Search;
using WeakToStrong.World;

namespace WeakToStrong.Tests.World;

public sealed class OnPolicyPreferencesTests : IDisposable
{
    readonly TinyWorld world = new();

    /// <summary>A gold evaluator that reads only the response: <c>scale</c> × its length mod <c>modulus</c>.</summary>
    sealed class LengthGold(double scale, int modulus) : IGoldEvaluator
    {
        public string Name => "length";
        public double Score(string response) => scale * (response.Length % modulus);
        public double[] Score(IReadOnlyList<string> prompts, IReadOnlyList<string> responses) => responses.Select(Score).ToArray();
        public void Dispose() { }
    }

    static readonly string[] Prompts = Enumerable.Range(0, 48).Select(i => $"the story number {i} is about").ToArray();
    static GenerationOptions Generation(long seed) => new(12, new SamplingOptions(1.0, 0), null, seed);

    [Fact]
    public void WideMarginsLabelEveryPairByTheGoldAndTiesGiveNoPair()
    {
        var gold = new LengthGold(scale: 100, modulus: 1000);
        var made = OnPolicyPreferences.Sample(world.Load("untuned"), gold, Prompts, Generation(3));
        Assert.Equal(Prompts.Length, made.Pairs.Count + made.Ties);
        Assert.True(made.Pairs.Count >= Prompts.Length / 2, $"{made.Pairs.Count} pairs");
        Assert.All(made.Pairs, p =>
        {
            Assert.Contains(p.Prompt, Prompts);
            Assert.True(gold.Score(p.Chosen) > gold.Score(p.Rejected), $"{p.Chosen} | {p.Rejected}");
        });

        var flat = OnPolicyPreferences.Sample(world.Load("untuned"), new LengthGold(scale: 0, modulus: 1), Prompts, Generation(3));
        Assert.Empty(flat.Pairs);
        Assert.Equal(Prompts.Length, flat.Ties);
    }

    [Fact]
    public void NarrowMarginsAreLabelledByChanceUnderBradleyTerryNotByArgmax()
    {
        // Margins of at most 0.4: σ(0.4) ≈ 0.6, so some pairs prefer the lower-scored response.
        var gold = new LengthGold(scale: 0.2, modulus: 3);
        var made = OnPolicyPreferences.Sample(world.Load("untuned"), gold, Prompts, Generation(5));
        int upsets = made.Pairs.Count(p => gold.Score(p.Chosen) < gold.Score(p.Rejected));
        Assert.InRange(upsets, 1, made.Pairs.Count - 1);
    }

    [Fact]
    public void TheSameSeedGivesTheSamePairsAndAnotherSeedOthers()
    {
        var gold = new LengthGold(scale: 1, modulus: 7);
        var once = OnPolicyPreferences.Sample(world.Load("untuned"), gold, Prompts, Generation(11));
        var again = OnPolicyPreferences.Sample(world.Load("untuned"), gold, Prompts, Generation(11), batchSize: 5);
        var other = OnPolicyPreferences.Sample(world.Load("untuned"), gold, Prompts, Generation(12));
        Assert.Equal(once.Pairs, again.Pairs);
        Assert.NotEqual(once.Pairs, other.Pairs);
    }

    public void Dispose() => world.Dispose();
}
