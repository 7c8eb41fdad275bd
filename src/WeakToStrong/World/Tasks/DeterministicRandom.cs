namespace WeakToStrong.World.Tasks;

/// <summary>
/// xoshiro256** seeded through SplitMix64. Written out here because System.Random's seeded sequence is not
/// guaranteed across .NET versions, and the synthetic datasets must be reproducible byte for byte.
/// </summary>
public sealed class DeterministicRandom
{
    ulong _s0, _s1, _s2, _s3;

    public DeterministicRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    DeterministicRandom(ulong s0, ulong s1, ulong s2, ulong s3) => (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);

    /// <summary>An independent stream for a named purpose, so adding draws to one purpose does not shift another.</summary>
    public static DeterministicRandom For(ulong seed, string purpose) => new(seed ^ StableHash.Fnv1a(purpose));

    /// <summary>A copy that continues the same sequence; used to replay one review with the opposite polarity.</summary>
    public DeterministicRandom Clone() => new(_s0, _s1, _s2, _s3);

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, maxExclusive), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, "must be positive");
        ulong range = (ulong)maxExclusive;
        ulong high = Math.BigMul(NextUInt64(), range, out ulong low);
        if (low < range)
        {
            ulong threshold = (0 - range) % range;
            while (low < threshold) high = Math.BigMul(NextUInt64(), range, out low);
        }
        return (int)high;
    }

    /// <summary>Uniform in [minInclusive, maxInclusive].</summary>
    public int NextInt(int minInclusive, int maxInclusive) => minInclusive + NextInt(maxInclusive - minInclusive + 1);

    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public bool Chance(double probability) => NextDouble() < probability;

    public T Pick<T>(IReadOnlyList<T> items) => items[NextInt(items.Count)];

    /// <summary>Fisher–Yates, in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>k distinct items in random order.</summary>
    public List<T> Sample<T>(IReadOnlyList<T> items, int k)
    {
        if (k > items.Count) throw new ArgumentOutOfRangeException(nameof(k), k, $"only {items.Count} items");
        var copy = items.ToList();
        Shuffle(copy);
        return copy.GetRange(0, k);
    }

    static ulong SplitMix64(ref ulong x)
    {
        return SplitMix.Mix(x += 0x9E3779B97F4A7C15UL);
    }
}

/// <summary>FNV-1a over UTF-8: a hash that, unlike string.GetHashCode, is the same in every process.</summary>
public static class StableHash
{
    public static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    public static string Hex(string text) => Fnv1a(text).ToString("x16");
}
