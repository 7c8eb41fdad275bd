using WeakToStrong.World.Tasks;

namespace WeakToStrong.Evaluation;

/// <summary>A mean with its 95% percentile-bootstrap interval.</summary>
public sealed record Estimate(double Mean, double Low, double High)
{
    public const int DefaultResamples = 2000;

    /// <summary>Resamples the values with replacement; seeded, so a table is reproducible.</summary>
    public static Estimate Bootstrap(IReadOnlyList<double> values, ulong seed, int resamples = DefaultResamples)
    {
        if (values.Count == 0) throw new ArgumentException("no values");
        var rng = new DeterministicRandom(seed);
        var means = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            double sum = 0;
            for (int i = 0; i < values.Count; i++) sum += values[rng.NextInt(values.Count)];
            means[r] = sum / values.Count;
        }
        Array.Sort(means);
        return new Estimate(values.Average(), means[(int)(0.025 * resamples)], means[(int)(0.975 * resamples) - 1]);
    }

    public override string ToString() => $"{Mean:F3} [{Low:F3}, {High:F3}]";
}
