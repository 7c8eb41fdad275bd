using System.Text;
using System.Text.Json;
using WeakToStrong.Evaluation;

namespace WeakToStrong.Tests.Evaluation;

public class WinRateTests
{
    // The dataset of tests/reference/lc_winrate_reference.py; keep the two in step.
    static readonly double[] Preferences = [1, 0, 0.5, 1, 1, 0, 1, 0.5, 0, 1, 1, 0, 0.25, 1, 0, 1, 0.5, 1, 0, 1, 1, 0.9, 0, 1];
    static readonly int[] ModelLengths = [812, 140, 455, 1203, 640, 95, 980, 310, 220, 1500, 701, 66, 530, 888, 400, 1024, 377, 615, 150, 1320, 509, 760, 240, 930];
    static readonly int[] ReferenceLengths = [600, 420, 455, 700, 690, 300, 512, 330, 800, 900, 250, 410, 480, 1000, 120, 640, 377, 300, 610, 1111, 530, 500, 260, 400];

    [Fact]
    public void PairwiseIsTheMeanPreferenceWithASeededInterval()
    {
        double[] preferences = [1, 0, 0.5, 1, 1, 0, 1, 0.5, 1, 0];
        var estimate = WinRates.Pairwise(preferences, seed: 5);
        Assert.Equal(0.6, estimate.Mean, 12);
        Assert.True(estimate.Low < estimate.Mean && estimate.Mean < estimate.High, estimate.ToString());
        Assert.Equal(estimate, WinRates.Pairwise(preferences, seed: 5));
        Assert.NotEqual(estimate, WinRates.Pairwise(preferences, seed: 6));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(37)] // every difference equal but not zero: std is 0 too
    public void LcEqualsTheRawWinRateWhenLengthDifferencesDoNotVary(int difference)
    {
        double[] preferences = [1, 0, 0.5, 1, 1, 0, 1, 1, 0.5, 1];
        int[] reference = [120, 900, 45, 300, 610, 75, 1000, 333, 250, 480];
        var model = reference.Select(r => r + difference).ToArray();
        var fit = LengthControlledWinRate.Fit(preferences, model, reference);
        Assert.Equal(0, fit.LengthScale);
        Assert.Equal(0, fit.Phi);
        Assert.Equal(0.7, fit.WinRate, 12);
        // Exactly the raw rate but for the ridge's pull: σ(θ) = ȳ − θ / (C·n) at the optimum.
        Assert.Equal(fit.WinRate - fit.Theta / (LengthControlledWinRate.RidgeC * preferences.Length), fit.LcWinRate, 12);
        Assert.Equal(fit.WinRate, fit.LcWinRate, 4);
    }

    [Fact]
    public void LcIsWellBelowTheRawWinRateWhenTheModelWinsExactlyWhenLonger()
    {
        // 15 longer outputs all win, 5 shorter all lose: the raw 75% is explained by length alone.
        var reference = Enumerable.Range(0, 20).Select(i => 400 + 10 * i).ToArray();
        int[] offsets = [50, 120, 300, 80, 200, 60, 150, 90, 250, 70, 110, 180, 40, 220, 130, -60, -140, -90, -200, -40];
        var model = reference.Zip(offsets, (r, o) => r + o).ToArray();
        var preferences = offsets.Select(o => o > 0 ? 1.0 : 0.0).ToArray();
        var fit = LengthControlledWinRate.Fit(preferences, model, reference);
        Assert.Equal(0.75, fit.WinRate, 12);
        Assert.True(double.IsFinite(fit.Theta) && double.IsFinite(fit.Phi), $"{fit}");
        Assert.True(fit.Phi > 5, $"{fit}");
        Assert.True(fit.LcWinRate < fit.WinRate - 0.15, $"{fit}");
        // Symmetric closest margins (+40, −40) put the separating fit near θ = 0; from tests/reference/lc_winrate_reference.py.
        Assert.Equal(0.5290623807583118, fit.LcWinRate, 1e-6);

        // The mirror image: a model that wins exactly when shorter is credited above its raw rate.
        var mirrored = LengthControlledWinRate.Fit(preferences.Select(p => 1 - p).ToArray(), model, reference);
        Assert.True(mirrored.LcWinRate > mirrored.WinRate + 0.15, $"{mirrored}");
    }

    [Fact]
    public void MatchesTheNumpyReference()
    {
        // Printed by tests/reference/lc_winrate_reference.py (numpy 1.24, Python 3.11).
        var fit = LengthControlledWinRate.Fit(Preferences, ModelLengths, ReferenceLengths);
        Assert.Equal(323.4986616015142, fit.LengthScale, 1e-9);
        Assert.Equal(0.17860145857875157, fit.Theta, 1e-6);
        Assert.Equal(2.851066298192406, fit.Phi, 1e-6);
        Assert.Equal(0.5445320521286037, fit.LcWinRate, 1e-6);
        Assert.Equal(0.6104166666666667, fit.WinRate, 1e-12);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.0)]
    public void SeparatedDataGiveFiniteExtremeRates(double outcome)
    {
        var preferences = Enumerable.Repeat(outcome, 12).ToArray();
        var fit = LengthControlledWinRate.Fit(preferences, ModelLengths[..12], ReferenceLengths[..12]);
        Assert.True(double.IsFinite(fit.Theta) && double.IsFinite(fit.Phi), $"{fit}");
        // The ridge stops θ where n·(1 − σ(θ)) ≈ θ / C; value from tests/reference/lc_winrate_reference.py.
        Assert.Equal(outcome == 1 ? 9.441694669764443 : -9.441694669764443, fit.Theta, 1e-6);
        Assert.InRange(Math.Abs(fit.LcWinRate - outcome), 1e-6, 1e-3);

        var single = LengthControlledWinRate.Fit([outcome], [10], [20]);
        Assert.Equal(0, single.Phi);
        Assert.InRange(Math.Abs(single.LcWinRate - outcome), 1e-6, 1e-2);
    }

    [Fact]
    public void BootstrapIsSeededAndItsIntervalContainsTheFullDataFit()
    {
        var point = LengthControlledWinRate.Fit(Preferences, ModelLengths, ReferenceLengths).LcWinRate;
        var estimate = LengthControlledWinRate.Bootstrap(Preferences, ModelLengths, ReferenceLengths, seed: 11, resamples: 400);
        Assert.Equal(point, estimate.Mean);
        Assert.True(estimate.Low < point && point < estimate.High, estimate.ToString());
        Assert.True(estimate.High - estimate.Low > 0.05, estimate.ToString()); // 24 instructions cannot pin it down
        Assert.Equal(estimate, LengthControlledWinRate.Bootstrap(Preferences, ModelLengths, ReferenceLengths, seed: 11, resamples: 400));
        Assert.NotEqual(estimate, LengthControlledWinRate.Bootstrap(Preferences, ModelLengths, ReferenceLengths, seed: 12, resamples: 400));
    }

    [Fact]
    public void SeedsOfOneInstructionAreResampledTogether()
    {
        // Three seeds that agree exactly carry no more information than one: resampled as one instruction they must
        // give the one-seed interval's width; resampled as separate rows they would look √3 times surer.
        double[] tripled = [.. Preferences.SelectMany(p => new[] { p, p, p })];
        int[] model = [.. ModelLengths.SelectMany(l => new[] { l, l, l })], reference = [.. ReferenceLengths.SelectMany(l => new[] { l, l, l })];
        int[] instruction = [.. Enumerable.Range(0, Preferences.Length).SelectMany(i => new[] { i, i, i })];

        var single = LengthControlledWinRate.Bootstrap(Preferences, ModelLengths, ReferenceLengths, seed: 5, resamples: 1000);
        var grouped = LengthControlledWinRate.Bootstrap(tripled, model, reference, seed: 5, resamples: 1000, instructionOfRow: instruction);
        var rows = LengthControlledWinRate.Bootstrap(tripled, model, reference, seed: 5, resamples: 1000);

        double Width(Estimate e) => e.High - e.Low;
        Assert.InRange(Width(grouped) / Width(single), 0.85, 1.15);
        Assert.True(Width(rows) < 0.8 * Width(grouped), $"row resampling {Width(rows):F3}, instruction resampling {Width(grouped):F3}");
    }

    [Fact]
    public void BadInputIsRejectedWithAMessage()
    {
        Assert.Contains("model lengths", Assert.Throws<InvalidInputException>(() => LengthControlledWinRate.Fit([1, 0], [1, 2, 3], [1, 2])).Message);
        Assert.Contains("preference 1", Assert.Throws<InvalidInputException>(() => LengthControlledWinRate.Fit([1, 1.5], [1, 2], [1, 2])).Message);
        Assert.Throws<InvalidInputException>(() => LengthControlledWinRate.Fit([double.NaN], [1], [1]));
        Assert.Throws<InvalidInputException>(() => LengthControlledWinRate.Fit([1], [-1], [1]));
        Assert.Throws<InvalidInputException>(() => LengthControlledWinRate.Bootstrap([], [], [], seed: 1));
        Assert.Throws<InvalidInputException>(() => WinRates.Pairwise([], seed: 1));
        Assert.Throws<InvalidInputException>(() => WinRates.Pairwise([-0.1], seed: 1));
    }

    [Fact]
    public void OutputLengthCountsCodePointsLikePython()
    {
        Assert.Equal(0, LengthControlledWinRate.OutputLength(""));
        Assert.Equal(5, LengthControlledWinRate.OutputLength("é\n中😀!")); // the emoji is two UTF-16 units
    }

    [Fact]
    public void ModelOutputsRoundTripInAlpacaEvalsFormat()
    {
        string directory = Path.Combine(Path.GetTempPath(), "wts-alpaca-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(directory, "model_outputs.json");
            (string, string, string)[] rows =
            [
                ("Say \"hi\" in Japanese.", "こんにちは 👋\nLine two\ttabbed \\ backslash", "w2s-cbs"),
                ("", "", "w2s-cbs"),
            ];
            AlpacaEvalOutputs.Write(path, rows, "alpaca_eval");

            var read = AlpacaEvalOutputs.Read(path);
            Assert.Equal(rows.Select(r => new AlpacaEvalOutput(r.Item1, r.Item2, r.Item3, "alpaca_eval")), read);
            Assert.False(File.Exists(path + ".tmp"));

            byte[] bytes = File.ReadAllBytes(path);
            Assert.Equal((byte)'[', bytes[0]); // no byte-order mark
            string text = Encoding.UTF8.GetString(bytes);
            Assert.Contains("\n  {", text); // indented
            Assert.Contains("こんにちは", text);
            using var document = JsonDocument.Parse(bytes);
            var first = document.RootElement[0];
            Assert.Equal(["instruction", "output", "generator", "dataset"], first.EnumerateObject().Select(p => p.Name));
            Assert.Equal("こんにちは 👋\nLine two\ttabbed \\ backslash", first.GetProperty("output").GetString());

            // Overwriting replaces the file rather than appending to it.
            AlpacaEvalOutputs.Write(path, rows[..1], "other");
            Assert.Equal("other", Assert.Single(AlpacaEvalOutputs.Read(path)).Dataset);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void ReadingMalformedModelOutputsNamesTheProblem()
    {
        string path = Path.Combine(Path.GetTempPath(), "wts-alpaca-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            File.WriteAllText(path, """[{"instruction": "x", "output": "y", "generator": "g"}]""");
            Assert.Contains("\"dataset\"", Assert.Throws<InvalidInputException>(() => AlpacaEvalOutputs.Read(path)).Message);
            File.WriteAllText(path, """{"instruction": "x"}""");
            Assert.Contains("array", Assert.Throws<InvalidInputException>(() => AlpacaEvalOutputs.Read(path)).Message);
            File.WriteAllText(path, "[{");
            Assert.Throws<InvalidInputException>(() => AlpacaEvalOutputs.Read(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
