using System.Buffers.Binary;
using System.Globalization;
using System.Xml.Linq;
using WeakToStrong.Evaluation;
using WeakToStrong.Reporting;

namespace WeakToStrong.Tests.Reporting;

public sealed class FiguresTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("wts-figures").FullName;

    public void Dispose() => Directory.Delete(_directory, true);

    static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    static string FileName(string path) => Path.GetFileName(path);

    static List<SummaryRow> Experiment() => [.. SyntheticSummary.Sentiment(), .. SyntheticSummary.Instruction()];

    /// <summary>The text of every SVG text element, trimmed, as the viewer shows it (entities decoded).</summary>
    static List<string> SvgTexts(string path) =>
        XDocument.Load(path).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToList();

    /// <summary>The x tick labels left to right: the lowest row of texts that holds several of them.</summary>
    static List<string> BottomTicks(string path) =>
        XDocument.Load(path).Descendants()
            .Where(e => e.Name.LocalName == "text" && (e.Attribute("transform")?.Value.StartsWith("translate(") ?? false))
            .Select(e => (Text: e.Value.Trim(), At: e.Attribute("transform")!.Value["translate(".Length..^1].Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()))
            .GroupBy(t => t.At[1])
            .Where(row => row.Count() >= 2)
            .MaxBy(row => row.Key)!
            .OrderBy(t => t.At[0])
            .Select(t => t.Text)
            .ToList();

    string Figure(string name) => Path.Combine(_directory, name + ".svg");

    [Fact]
    public void WritesEveryFigureTheRowsSupportAsPngAndSvg()
    {
        var written = Figures.WriteAll(Experiment(), _directory);

        string[] figures =
        [
            "main-sentiment", "ablation-chunk-length-sentiment-chunk-length", "ablation-beam-width-sentiment-beam-width",
            "ablation-chunk-length-sentiment-beam-width", // the beam-width grid has two L, so it is also plotted against L
            "compute-sentiment", "main-instruction", "lc-winrate-instruction",
        ];
        var expected = figures.SelectMany(name => new[] { name + ".png", name + ".svg" }).Order().ToList();
        Assert.Equal(expected, written.Select(FileName).Order().ToList());
        Assert.Equal(expected, Directory.GetFiles(_directory).Select(FileName).Order().ToList());
        Assert.All(written, path => Assert.Equal(_directory, Path.GetDirectoryName(path)));
    }

    [Fact]
    public void PngsHaveTheSignatureAndTheRequestedSize()
    {
        var pngs = Figures.WriteAll(Experiment(), _directory).Where(p => p.EndsWith(".png")).ToList();

        Assert.Equal(7, pngs.Count);
        foreach (var png in pngs)
        {
            var bytes = File.ReadAllBytes(png);
            Assert.Equal(PngSignature, bytes[..8]);
            Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
            Assert.Equal(Figures.Width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
            Assert.Equal(Figures.Height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        }
    }

    [Fact]
    public void MainFigureHasTitleAxesBaseModelsMethodLegendAndSmallTunedLine()
    {
        Figures.WriteAll(SyntheticSummary.Sentiment(), _directory);

        var texts = SvgTexts(Figure("main-sentiment"));
        Assert.Contains("Controlled-sentiment generation: weak-to-strong search and baselines", texts);
        Assert.Contains("Gold reward", texts);
        Assert.Contains("Base model", texts);
        foreach (var label in new[] { "Base", "EFT(β=1)", "BoN(16)", "CBS(4,4,5)", Figures.SmallTunedLegend })
            Assert.Single(texts, label);
        Assert.Equal(SyntheticSummary.BaseModels, BottomTicks(Figure("main-sentiment")));
        Assert.DoesNotContain(Figures.SmallUntunedLegend, texts);
    }

    [Fact]
    public void InstructionFiguresUseTheJudgeScoreAndPercentWinRates()
    {
        Figures.WriteAll(SyntheticSummary.Instruction(), _directory);

        Assert.Contains("Gold judge score", SvgTexts(Figure("main-instruction")));
        var texts = SvgTexts(Figure("lc-winrate-instruction"));
        Assert.Contains("Length-controlled win rate vs reference (%)", texts);
        foreach (var label in new[] { "Base", "CBS(2,2,30)", Figures.SmallTunedLegend, Figures.SmallUntunedLegend, "tulu-7b", "tulu-70b" })
            Assert.Contains(label, texts);
        // Rates are drawn as percentages: the axis reaches past the 54% upper bound of the best cell.
        Assert.Contains(texts, t => double.TryParse(t, CultureInfo.InvariantCulture, out var tick) && tick >= 50);
    }

    [Fact]
    public void AblationsPutInfinityLastAndNameTheirLines()
    {
        Figures.WriteAll(SyntheticSummary.Sentiment(), _directory);

        var chunk = SvgTexts(Figure("ablation-chunk-length-sentiment-chunk-length"));
        Assert.Contains("Chunk length L (tokens)", chunk);
        Assert.Equal(["1", "5", "10", "∞"], BottomTicks(Figure("ablation-chunk-length-sentiment-chunk-length")));
        Assert.Contains("W=2, K=2", chunk);
        Assert.Contains("W=4, K=4", chunk);

        var beam = SvgTexts(Figure("ablation-beam-width-sentiment-beam-width"));
        Assert.Contains(beam, t => t.Contains("beam width") && t.Contains("W·K = 16"));
        Assert.Contains("L=5", beam);
        Assert.Contains("L=∞", beam);
        Assert.Equal(["1", "2", "4", "8", "16"], BottomTicks(Figure("ablation-beam-width-sentiment-beam-width")));
    }

    [Fact]
    public void ComputeFigureHasALinePerMethodAndBaseModelWithSeveralPoints()
    {
        Figures.WriteAll(SyntheticSummary.Sentiment(), _directory);

        var texts = SvgTexts(Figure("compute-sentiment"));
        Assert.Contains("Large-model tokens sampled per prompt", texts);
        Assert.Contains("BoN, gpt2-xl", texts);
        Assert.Contains("CBS, gpt2-xl", texts);
        // The other base models have one BoN and one CBS cell each: no line.
        Assert.DoesNotContain(texts, t => t.Contains("gpt2-large"));
    }

    [Fact]
    public void SweepsOverSeveralBaseModelsGetSafeBaseModelSuffixes()
    {
        var rows = SyntheticSummary.Sentiment()
            .Where(r => r.Sweep == "chunk-length")
            .SelectMany(r => new[] { r, r with { BaseModel = "/models/llama 7b" } })
            .ToList();

        var names = Figures.WriteAll(rows, _directory).Select(FileName).Where(n => n.EndsWith(".png")).Order();

        // No compute figure: the ablation's cells share compute by design and are left out of it.
        Assert.Equal(
            ["ablation-chunk-length-sentiment-chunk-length-gpt2-xl.png", "ablation-chunk-length-sentiment-chunk-length-models-llama-7b.png"],
            names);
    }

    [Fact]
    public void RowsWithoutTheDataMakeNoFigure()
    {
        var smallOnly = SyntheticSummary.Sentiment().Where(r => r.BaseModel == "").ToList();
        Assert.Empty(Figures.WriteAll(smallOnly, _directory));

        var mainOnly = SyntheticSummary.Sentiment().Where(r => r.Sweep == "").ToList();
        Assert.Equal(["main-sentiment.png", "main-sentiment.svg"], Figures.WriteAll(mainOnly, _directory).Select(FileName));

        // A compute sweep varies W and K together and keeps L: neither a chunk-length nor a beam-width ablation.
        var computeOnly = SyntheticSummary.Sentiment().Where(r => r.Sweep == "compute").ToList();
        Assert.Equal(["compute-sentiment.png", "compute-sentiment.svg"], Figures.WriteAll(computeOnly, _directory).Select(FileName));
        Assert.Empty(Figures.WriteAll([], _directory));
    }

    [Fact]
    public void OutputIsDeterministic()
    {
        var again = Directory.CreateTempSubdirectory("wts-figures").FullName;
        try
        {
            var first = Figures.WriteAll(SyntheticSummary.Sentiment(), _directory);
            var second = Figures.WriteAll(SyntheticSummary.Sentiment(), again);
            Assert.Equal(first.Select(FileName), second.Select(FileName));
            foreach (var (a, b) in first.Zip(second))
                Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        }
        finally
        {
            Directory.Delete(again, true);
        }
    }

    [Theory]
    [InlineData("gpt2-xl", "gpt2-xl")]
    [InlineData("/models/llama 7b", "models-llama-7b")]
    [InlineData(@"C:\weights\Tulu 2 (70B)", "C-weights-Tulu-2-70B")]
    [InlineData("../..", "unnamed")]
    public void SafeNamesKeepOnlyPortableCharacters(string text, string expected) =>
        Assert.Equal(expected, Figures.SafeName(text));
}
