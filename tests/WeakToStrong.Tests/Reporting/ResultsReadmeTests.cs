using System.Text.RegularExpressions;
using WeakToStrong.Evaluation;
using WeakToStrong.Experiments;
using WeakToStrong.Reporting;

namespace WeakToStrong.Tests.Reporting;

public sealed class ResultsReadmeTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("wts-readme").FullName;

    public void Dispose() => Directory.Delete(_directory, true);

    string Render()
    {
        var sentiment = SyntheticSummary.Sentiment();
        var instruction = SyntheticSummary.Instruction();
        var sentimentFigures = Figures.WriteAll(sentiment, Path.Combine(_directory, "sentiment run", "figures"));
        var instructionFigures = Figures.WriteAll(instruction, Path.Combine(_directory, "instruction", "figures"));
        return ResultsReadme.Render(
        [
            ("Controlled sentiment", Path.Combine(_directory, "configs", "sentiment.yaml"), sentiment, sentimentFigures, new SetupSeconds(3.4, 1.5)),
            ("Instruction following", "configs/instruction.yaml", instruction, instructionFigures, null),
        ], _directory);
    }

    static List<string> TableLines(string markdown, string heading) =>
        markdown.Split('\n').SkipWhile(line => line != heading).Skip(2).TakeWhile(line => line.StartsWith('|')).ToList();

    [Fact]
    public void TablesHoldTheSummaryNumbersInASensibleOrder()
    {
        var markdown = Render();

        Assert.StartsWith("# Results", markdown);
        Assert.Contains("## Controlled sentiment", markdown);
        Assert.Contains("Config: [`configs/sentiment.yaml`](configs/sentiment.yaml)", markdown);
        Assert.Contains("Config: `configs/instruction.yaml`", markdown);

        var main = TableLines(markdown, "### sentiment: main comparison");
        Assert.Equal("| Method | Base model | n | Gold [95% CI] | Large tokens / prompt | Wall s / sample |", main[0]);
        Assert.Equal(2 + 2 + 3 * 4, main.Count);
        Assert.Equal("| Small untuned | — | 100 | 0.500 [0.250, 0.750] | 0.0 | 0.125 |", main[2]);
        Assert.Equal("| Small tuned | — | 100 | 2.500 [2.250, 2.750] | 0.0 | 0.125 |", main[3]);
        Assert.Equal("| Base | gpt2-large | 100 | 1.000 [0.750, 1.250] | 50.0 | 0.125 |", main[4]);
        Assert.Equal("| CBS(4,4,5) | /models/llama 7b | 100 | 5.500 [5.250, 5.750] | 800.0 | 0.125 |", main[^1]);

        var chunk = TableLines(markdown, "### sentiment: sweep `chunk-length`");
        Assert.Equal(["CBS(2,2,1)", "CBS(2,2,5)", "CBS(2,2,10)", "CBS(2,2,∞)", "CBS(4,4,1)"],
            chunk.Skip(2).Take(5).Select(line => line.Split(" | ")[0].TrimStart('|', ' ')));
        Assert.Contains("### sentiment: sweep `beam-width`", markdown);
        Assert.Contains("### sentiment: sweep `compute`", markdown);

        var instruction = TableLines(markdown, "### instruction: main comparison");
        Assert.Equal("| Method | Base model | n | Gold [95% CI] | Win rate [95% CI] | LC win rate [95% CI] | Large tokens / prompt | Wall s / sample |",
            instruction[0]);
        Assert.Contains("| CBS(2,2,30) | tulu-70b | 100 | 8.000 [7.750, 8.250] | 55.0% [50.0, 60.0] | 50.0% [46.0, 54.0] | 1200.0 | 0.125 |", instruction);
    }

    [Fact]
    public void FiguresAreInlinedAsPngLinksThatResolve()
    {
        var markdown = Render();

        var links = Regex.Matches(markdown, @"!\[([^\]]+)\]\(([^)]+)\)").Select(m => (Title: m.Groups[1].Value, Path: m.Groups[2].Value)).ToList();
        Assert.Equal(5 + 2, links.Count); // sentiment: main, two chunk-length views, beam width, compute; instruction: main, LC
        Assert.Contains(("main-sentiment", "sentiment%20run/figures/main-sentiment.png"), links);
        Assert.Contains(("lc-winrate-instruction", "instruction/figures/lc-winrate-instruction.png"), links);
        Assert.All(links, link =>
        {
            Assert.EndsWith(".png", link.Path);
            Assert.True(File.Exists(Path.Combine(_directory, Uri.UnescapeDataString(link.Path))), link.Path);
        });
    }

    [Fact]
    public void LoadAndWarmUpAreSaidBesideTheTablesNotInThem()
    {
        var markdown = Render();

        string sentiment = markdown[markdown.IndexOf("## Controlled sentiment", StringComparison.Ordinal)..markdown.IndexOf("## Instruction following", StringComparison.Ordinal)];
        Assert.Contains("Seconds per sample time the search alone; the run also spent 3.4 s loading models and 1.5 s warming them up", sentiment);
        Assert.DoesNotContain("loading models", markdown[markdown.IndexOf("## Instruction following", StringComparison.Ordinal)..]); // no record, no note
    }

    [Fact]
    public void CellsStayOnOneLine()
    {
        SummaryRow[] rows = [SyntheticSummary.Row("sentiment", "a|b", "cbs", "CBS\n(4|4)", w: 4, k: 4, l: 5, gold: 1)];

        var markdown = ResultsReadme.Render([("Odd names", "c.yaml", rows, [], null)], _directory);

        Assert.Contains(@"| CBS (4\|4) | a\|b | 100 |", markdown);
        Assert.DoesNotContain("### Figures", markdown);
    }
}
