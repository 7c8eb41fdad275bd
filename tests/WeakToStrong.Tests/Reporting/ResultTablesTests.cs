using WeakToStrong.Evaluation;
using WeakToStrong.Reporting;

namespace WeakToStrong.Tests.Reporting;

public sealed class ResultTablesTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("wts-reporting").FullName;

    public void Dispose() => Directory.Delete(_directory, true);

    static SampleRow Sample(string prompt, string response, string? reference, int? l) => new(
        Task: "instruction", BaseModel: "gpt2-xl", Method: "cbs", Label: "CBS(4,4,∞)", Sweep: "",
        W: 4, K: 4, L: l, N: null, Beta: null, Seed: 7,
        PromptId: "p-1", Prompt: prompt, Response: response, Reference: reference,
        Gold: 0.1 + 0.2, ImplicitValue: -1.0 / 3.0, Win: null,
        LargeTokens: 1234567890123, SmallTokens: 0, WallSeconds: 1e-17);

    [Fact]
    public void SamplesSurviveARoundTripWithAwkwardStringsAndNulls()
    {
        SampleRow[] rows =
        [
            Sample("line one\nline two\r\nline \"three\", with a comma; and | pipes", "  leading spaces, trailing  ", null, null),
            Sample("=1+1", "-starts with a minus\ttab", "", 5),
            Sample("ünïcødé β ∞ 🙂", "\"", "a reference, \"quoted\"\n", 10) with { Win = 1.0, Gold = double.MaxValue, ImplicitValue = double.Epsilon },
        ];
        var path = Path.Combine(_directory, "nested", "samples.csv");

        ResultTables.WriteSamples(path, rows);
        var read = ResultTables.ReadSamples(path);

        // An empty reference is written as an empty field, which reads back as null.
        SampleRow[] expected = [rows[0], rows[1] with { Reference = null }, rows[2]];
        Assert.Equal(expected, read);
        Assert.Equal(0.1 + 0.2, read[0].Gold);
        Assert.Null(read[0].L);
    }

    [Fact]
    public void SummarySurvivesARoundTrip()
    {
        SummaryRow[] rows =
        [
            SyntheticSummary.Row("instruction", "gpt2-xl", "cbs", "CBS(4,4,5)", w: 4, k: 4, l: 5, gold: 2.0 / 3.0)
                with { WinRate = 0.61, WinRateLow = 0.55, WinRateHigh = 0.67, LcWinRate = 0.4, LcWinRateLow = 0.35, LcWinRateHigh = 0.45 },
            SyntheticSummary.Row("instruction", "", "small-tuned", "Small tuned", gold: -1e-300),
        ];
        var path = Path.Combine(_directory, "summary.csv");

        ResultTables.WriteSummary(path, rows);

        Assert.Equal(rows, ResultTables.ReadSummary(path));
        Assert.Contains("W,K,L,N,Beta", File.ReadAllLines(path)[0]);
    }

    [Fact]
    public void WriteIsAtomicAndReplacesTheOldTable()
    {
        var path = Path.Combine(_directory, "summary.csv");
        File.WriteAllText(path, "an older, longer table that must disappear entirely\n" + new string('x', 10_000));

        ResultTables.WriteSummary(path, [SyntheticSummary.Row("sentiment", "gpt2", "base", "Base", gold: 1)]);

        Assert.Equal(["summary.csv"], Directory.GetFiles(_directory).Select(path => Path.GetFileName(path)));
        Assert.Single(ResultTables.ReadSummary(path));
    }

    [Fact]
    public void FailedWriteLeavesTheOldTableAndNoTemporaryFile()
    {
        var path = Path.Combine(_directory, "summary.csv");
        ResultTables.WriteSummary(path, [SyntheticSummary.Row("sentiment", "gpt2", "base", "Base", gold: 1)]);
        var before = File.ReadAllText(path);

        IEnumerable<SummaryRow> Failing()
        {
            yield return SyntheticSummary.Row("sentiment", "gpt2", "cbs", "CBS(2,2,5)", gold: 2);
            throw new IOException("disk full");
        }

        Assert.Throws<IOException>(() => ResultTables.WriteSummary(path, Failing()));
        Assert.Equal(before, File.ReadAllText(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void MissingColumnNamesTheFileAndTheColumn()
    {
        var path = Path.Combine(_directory, "summary.csv");
        ResultTables.WriteSummary(path, [SyntheticSummary.Row("sentiment", "gpt2", "base", "Base", gold: 1)]);
        var lines = File.ReadAllLines(path);
        var column = Array.IndexOf(lines[0].Split(','), "L");
        File.WriteAllLines(path, lines.Select(line => string.Join(',', line.Split(',').Where((_, i) => i != column))));

        var error = Assert.Throws<InvalidInputException>(() => ResultTables.ReadSummary(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("line 1", error.Message);
        Assert.EndsWith("lacks column L", error.Message);
    }

    [Fact]
    public void UnparsableNumberNamesTheFileLineAndColumn()
    {
        var path = Path.Combine(_directory, "summary.csv");
        ResultTables.WriteSummary(path,
        [
            SyntheticSummary.Row("sentiment", "gpt2", "base", "Base", gold: 1) with { Label = "multi\nline" },
            SyntheticSummary.Row("sentiment", "gpt2", "cbs", "CBS(4,4,5)", gold: 12.5),
        ]);
        // The second record starts on line 4: the header, then a record whose label spans two lines.
        File.WriteAllText(path, File.ReadAllText(path).Replace(",12.5,", ",twelve,"));

        var error = Assert.Throws<InvalidInputException>(() => ResultTables.ReadSummary(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("line 4", error.Message);
        Assert.Contains("GoldMean", error.Message);
    }
}
