namespace WeakToStrong;

/// <summary>SplitMix64's output function: nearby inputs give unrelated 64-bit outputs (seeds from counters and indices).</summary>
public static class SplitMix
{
    public static ulong Mix(ulong z)
    {
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
