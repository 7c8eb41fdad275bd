using WeakToStrong.World.Tasks;

namespace WeakToStrong.Evaluation;

/// <summary>
/// Win rates of one model's outputs against reference outputs, one judged comparison per instruction. A preference
/// is the judge's probability that the model's output is better: 1 a win, 0.5 a tie, 0 a loss; any value in [0, 1] is
/// accepted because AlpacaEval's weighted annotators give soft preferences.
/// </summary>
public static class WinRates
{
    /// <summary>The mean preference with its 95% percentile-bootstrap interval over instructions.</summary>
    public static Estimate Pairwise(IReadOnlyList<double> preferences, ulong seed, int resamples = Estimate.DefaultResamples)
    {
        ValidatePreferences(preferences);
        return Estimate.Bootstrap(preferences, seed, resamples);
    }

    internal static void ValidatePreferences(IReadOnlyList<double> preferences)
    {
        ArgumentNullException.ThrowIfNull(preferences);
        if (preferences.Count == 0) throw new InvalidInputException("win rate: no preferences (need one per instruction)");
        for (int i = 0; i < preferences.Count; i++)
        {
            double p = preferences[i];
            if (!(p >= 0 && p <= 1)) // also rejects NaN
                throw new InvalidInputException($"win rate: preference {i} is {p}; expected 1 (win), 0.5 (tie), 0 (loss) or a probability in [0, 1]");
        }
    }
}

/// <summary>A length-controlled fit: coefficients, the raw and the length-controlled win rate.</summary>
/// <param name="Theta">Intercept: the model-vs-reference term, log-odds of a win at equal lengths.</param>
/// <param name="Phi">Coefficient of tanh(Δlen / std(Δlen)) with Δlen = model − reference; positive when longer wins.</param>
/// <param name="WinRate">Mean preference, the raw win rate.</param>
/// <param name="LcWinRate">σ(Theta): the predicted win rate with the length term set to zero.</param>
/// <param name="LengthScale">std(Δlen) (sample, n − 1) used to standardize; 0 when it is undefined or zero.</param>
/// <param name="Iterations">Newton steps taken.</param>
public sealed record LengthControlledFit(double Theta, double Phi, double WinRate, double LcWinRate, double LengthScale, int Iterations);

/// <summary>
/// AlpacaEval 2.0's length-controlled win rate (Dubois et al. 2024, "Length-Controlled AlpacaEval"), reduced to what
/// is defined for one model against one reference without AlpacaEval's precomputed data. Checked against
/// tatsu-lab/alpaca_eval <c>src/alpaca_eval/metrics/glm_winrate.py</c> (glm <c>length_controlled_v1</c>).
/// <para>Same as AlpacaEval: a logistic GLM of the preference with fractional targets (a tie is 0.5; AlpacaEval
/// gets the same cross-entropy by duplicating each row with labels 1 and 0 weighted p and 1 − p); the length feature
/// tanh(Δlen / std(Δlen)) with Δlen in characters (Python <c>str.len()</c>, i.e. Unicode code points, see
/// <see cref="OutputLength"/>) and std the sample standard deviation (pandas, n − 1) over the evaluated instructions,
/// divided only, not centered; the LC win rate is the mean over instructions of the prediction with the length
/// feature set to 0; the model term is penalized like the length term (AlpacaEval fits with
/// <c>fit_intercept=False</c>, its model term being an ordinary column).</para>
/// <para>Not the same: (1) no instruction-difficulty term — AlpacaEval's is a per-instruction covariate fitted once on
/// many models and downloaded; without it the prediction is the same on every instruction, so LC = σ(Theta).
/// (2) No regularization toward the "gamed" (verbose/concise-prompted) baselines' annotations (weight 0.2 there).
/// (3) Penalty: AlpacaEval uses an L1 penalty (liblinear) with C chosen by 5-fold grouped cross-validation over
/// sklearn's default grid 10^-4..10^4; here a fixed L2 penalty (θ² + φ²) / (2C) with C = <see cref="RidgeC"/>, the
/// weakest value of that grid, on the summed (not averaged) cross-entropy as in sklearn. L2 keeps the objective smooth
/// for Newton's method; its job here is to keep separable data finite (all wins, all losses, or wins exactly when
/// longer), where the unpenalized maximum-likelihood estimate is infinite: all wins on n instructions stop where
/// n·(1 − σ(θ)) ≈ θ / C, LC ≈ 0.99992 at n = 12 and closer to 1 as n grows. Its side effect elsewhere is a bias of
/// order 1/(C·n): with no length differences σ(Theta) = WinRate − Theta / (C·n) exactly. (4) AlpacaEval's
/// Δlen is reference − model (output_1 is the baseline), so its length coefficient is −Phi; the LC value is unchanged.
/// (5) When std(Δlen) is 0 (every difference equal) or undefined (one instruction), the length feature is 0 here;
/// AlpacaEval would divide by zero.</para>
/// </summary>
public static class LengthControlledWinRate
{
    /// <summary>Inverse L2 strength: the penalty is (θ² + φ²) / (2·RidgeC) added to the summed cross-entropy.</summary>
    public const double RidgeC = 1e4;

    public const int DefaultResamples = 1000;

    const int MaxIterations = 200;

    /// <summary>Fits θ and φ by Newton's method (IRLS) with a backtracking line search; see the class summary.</summary>
    public static LengthControlledFit Fit(IReadOnlyList<double> preferences, IReadOnlyList<int> modelLengths, IReadOnlyList<int> referenceLengths)
    {
        Validate(preferences, modelLengths, referenceLengths);
        var indices = new int[preferences.Count];
        for (int i = 0; i < indices.Length; i++) indices[i] = i;
        return FitRows(preferences, modelLengths, referenceLengths, indices);
    }

    /// <summary>
    /// Point estimate = the full-data LC win rate; interval = 2.5% and 97.5% percentiles of the LC win rate refitted
    /// (length scale included) on instructions resampled with replacement, the same percentile rule as
    /// <see cref="Estimate.Bootstrap"/>. With <paramref name="instructionOfRow"/>, rows of one instruction (its seeds)
    /// are resampled together, as the gold intervals resample prompts; without it every row is its own instruction.
    /// </summary>
    public static Estimate Bootstrap(IReadOnlyList<double> preferences, IReadOnlyList<int> modelLengths, IReadOnlyList<int> referenceLengths,
        ulong seed, int resamples = DefaultResamples, IReadOnlyList<int>? instructionOfRow = null)
    {
        Validate(preferences, modelLengths, referenceLengths);
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "must be positive");
        if (instructionOfRow is not null && instructionOfRow.Count != preferences.Count)
            throw new ArgumentException($"{instructionOfRow.Count} instruction ids for {preferences.Count} rows", nameof(instructionOfRow));
        double point = Fit(preferences, modelLengths, referenceLengths).LcWinRate;
        var rng = new DeterministicRandom(seed);
        var instructions = Enumerable.Range(0, preferences.Count).GroupBy(i => instructionOfRow?[i] ?? i).Select(g => g.ToArray()).ToArray();
        var rows = new List<int>(preferences.Count);
        var lc = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            rows.Clear();
            for (int i = 0; i < instructions.Length; i++) rows.AddRange(instructions[rng.NextInt(instructions.Length)]);
            lc[r] = FitRows(preferences, modelLengths, referenceLengths, rows).LcWinRate;
        }
        Array.Sort(lc);
        return new Estimate(point, lc[(int)(0.025 * resamples)], lc[Math.Max(0, (int)(0.975 * resamples) - 1)]);
    }

    /// <summary>An output's length as AlpacaEval measures it: Python's <c>len</c>, the number of Unicode code points
    /// (a character outside the BMP counts once, unlike <see cref="string.Length"/>).</summary>
    public static int OutputLength(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        int count = 0;
        foreach (var _ in output.EnumerateRunes()) count++;
        return count;
    }

    static void Validate(IReadOnlyList<double> preferences, IReadOnlyList<int> modelLengths, IReadOnlyList<int> referenceLengths)
    {
        WinRates.ValidatePreferences(preferences);
        ArgumentNullException.ThrowIfNull(modelLengths);
        ArgumentNullException.ThrowIfNull(referenceLengths);
        if (modelLengths.Count != preferences.Count || referenceLengths.Count != preferences.Count)
            throw new InvalidInputException($"length-controlled win rate: {preferences.Count} preferences but {modelLengths.Count} model lengths " +
                $"and {referenceLengths.Count} reference lengths; need one of each per instruction");
        for (int i = 0; i < preferences.Count; i++)
            if (modelLengths[i] < 0 || referenceLengths[i] < 0)
                throw new InvalidInputException($"length-controlled win rate: instruction {i} has a negative length ({modelLengths[i]}, {referenceLengths[i]})");
    }

    /// <summary>Fits on the given rows (repeats allowed, so a bootstrap resample needs no copies).</summary>
    static LengthControlledFit FitRows(IReadOnlyList<double> preferences, IReadOnlyList<int> modelLengths, IReadOnlyList<int> referenceLengths, IReadOnlyList<int> rows)
    {
        int n = rows.Count;
        var y = new double[n];
        var delta = new double[n];
        for (int k = 0; k < n; k++)
        {
            y[k] = preferences[rows[k]];
            delta[k] = (double)modelLengths[rows[k]] - referenceLengths[rows[k]];
        }
        double scale = SampleStd(delta);
        var x = new double[n];
        // A zero or undefined scale leaves the feature at 0: the length term drops out rather than dividing by zero.
        if (scale > 0) for (int k = 0; k < n; k++) x[k] = Math.Tanh(delta[k] / scale);

        const double lambda = 1.0 / RidgeC;
        double theta = 0, phi = 0;
        double loss = Objective(y, x, theta, phi, lambda);
        int iterations = 0;
        while (true)
        {
            if (iterations == MaxIterations)
                throw new InvalidOperationException($"length-controlled win rate: Newton's method did not converge in {MaxIterations} steps");
            iterations++;
            double g0 = lambda * theta, g1 = lambda * phi, h00 = lambda, h01 = 0, h11 = lambda;
            for (int k = 0; k < n; k++)
            {
                double mu = Sigmoid(theta + phi * x[k]);
                double residual = mu - y[k], w = mu * (1 - mu);
                g0 += residual;
                g1 += residual * x[k];
                h00 += w;
                h01 += w * x[k];
                h11 += w * x[k] * x[k];
            }
            // The penalty makes the Hessian positive definite, so this 2x2 solve always exists.
            double det = h00 * h11 - h01 * h01;
            double step0 = (h11 * g0 - h01 * g1) / det, step1 = (h00 * g1 - h01 * g0) / det;
            double decrement = g0 * step0 + g1 * step1;
            // Backtracking keeps every step a descent; plain Newton can overshoot on nearly separable data. Near the
            // optimum the full step is safe and the loss change is below rounding, so it is taken unchecked.
            double t = 1;
            if (decrement > 1e-10)
            {
                while (t > 1e-10 && Objective(y, x, theta - t * step0, phi - t * step1, lambda) > loss - 1e-4 * t * decrement) t /= 2;
            }
            theta -= t * step0;
            phi -= t * step1;
            loss = Objective(y, x, theta, phi, lambda);
            if (Math.Max(Math.Abs(t * step0), Math.Abs(t * step1)) < 1e-12 || decrement < 1e-24) break;
        }
        return new LengthControlledFit(theta, phi, y.Average(), Sigmoid(theta), scale, iterations);
    }

    /// <summary>Summed cross-entropy with fractional targets plus the L2 penalty; softplus(z) − y·z is stable for large |z|.</summary>
    static double Objective(double[] y, double[] x, double theta, double phi, double lambda)
    {
        double sum = 0.5 * lambda * (theta * theta + phi * phi);
        for (int k = 0; k < y.Length; k++)
        {
            double z = theta + phi * x[k];
            sum += Math.Max(z, 0) + double.LogP1(Math.Exp(-Math.Abs(z))) - y[k] * z;
        }
        return sum;
    }

    static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    static double SampleStd(double[] values)
    {
        if (values.Length < 2) return 0;
        double mean = values.Average(), sum = 0;
        foreach (double v in values) sum += (v - mean) * (v - mean);
        return Math.Sqrt(sum / (values.Length - 1));
    }
}
