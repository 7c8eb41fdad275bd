using WeakToStrong.World.Tasks;

namespace WeakToStrong.Tests.World;

public class DeterministicRandomTests
{
    [Fact]
    public void MatchesReferenceXoshiro256StarStarSeededBySplitMix64()
    {
        // Values from an independent Python transcription of the published algorithms, seed 0.
        var rng = new DeterministicRandom(0);
        Assert.Equal(0x99ec5f36cb75f2b4UL, rng.NextUInt64());
        Assert.Equal(0xbf6e1f784956452aUL, rng.NextUInt64());
        Assert.Equal(0x1a5f849d4933e6e0UL, rng.NextUInt64());
    }

    [Fact]
    public void NextIntStaysInRangeAndReachesEveryValue()
    {
        var rng = new DeterministicRandom(7);
        var counts = new int[7];
        for (int i = 0; i < 7000; i++) counts[rng.NextInt(7)]++;
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
        for (int i = 0; i < 1000; i++) Assert.InRange(rng.NextInt(3, 5), 3, 5);
    }

    [Fact]
    public void CloneContinuesTheSameSequenceAndPurposesAreIndependent()
    {
        var rng = new DeterministicRandom(42);
        rng.NextUInt64();
        var copy = rng.Clone();
        Assert.Equal(rng.NextUInt64(), copy.NextUInt64());
        Assert.NotEqual(DeterministicRandom.For(1, "a").NextUInt64(), DeterministicRandom.For(1, "b").NextUInt64());
    }

    [Fact]
    public void StableHashIsFnv1a()
    {
        Assert.Equal(0xcbf29ce484222325UL, StableHash.Fnv1a(""));
        Assert.Equal(0xaf63dc4c8601ec8cUL, StableHash.Fnv1a("a"));
    }
}
