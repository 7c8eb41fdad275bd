using System.Globalization;
using System.Text;
using WeakToStrong.Evaluation;
using WeakToStrong.Experiments;

namespace WeakToStrong.Reporting;

/// <summary>
/// The results README: per experiment, a table per task for the main comparison and one per sweep, then the
/// experiment's figures inline (PNG, linked relative to the README).
/// </summary>
public static class ResultsReadme
{
    /// <summary>Method order within a table: the small models alone, then the base model and the methods that steer it.</summary>
    static readonly string[] MethodOrder = ["small-untuned", "small-tuned", "base", "eft", "bon", "cbs"];

    public static string Render(
        IReadOnlyList<(string Experiment, string ConfigPath, IReadOnlyList<SummaryRow> Rows, IReadOnlyList<string> FigurePaths, SetupSeconds? Setup)> experiments,
        string readmeDirectory)
    {
        var markdown = new StringBuilder();
        markdown.AppendLine("# Results");
        markdown.AppendLine();
        markdown.AppendLine("Reproduction of *Weak-to-Strong Search* (Zhou et al. 2024, arXiv 2405.19262). Gold is the gold reward "
            + "(for instruction following, the judge's score); brackets are 95% bootstrap intervals over prompts; win rates are "
            + "against the reference outputs; tokens and seconds are means per sample. BoN(N) is CBS(1,N,∞).");
        foreach (var (experiment, configPath, rows, figurePaths, setup) in experiments)
        {
            markdown.AppendLine();
            markdown.AppendLine($"## {experiment}");
            markdown.AppendLine();
            markdown.AppendLine(Path.IsPathRooted(configPath)
                ? $"Config: [`{Relative(readmeDirectory, configPath)}`]({Link(readmeDirectory, configPath)})"
                : $"Config: `{configPath}`");
            if (setup is not null)
            {
                markdown.AppendLine();
                markdown.AppendLine(FormattableString.Invariant(
                    $"Seconds per sample time the search alone; the run also spent {setup.Load:F1} s loading models and {setup.WarmUp:F1} s warming them up (load/warm-up, not in the tables)."));
            }
            if (rows.Count == 0)
            {
                markdown.AppendLine();
                markdown.AppendLine("No results.");
            }
            foreach (var task in rows.Select(r => r.Task).Distinct())
            {
                var taskRows = rows.Where(r => r.Task == task).ToList();
                foreach (var sweep in taskRows.Select(r => r.Sweep).Distinct().OrderBy(s => s != ""))
                {
                    markdown.AppendLine();
                    markdown.AppendLine(sweep == "" ? $"### {task}: main comparison" : $"### {task}: sweep `{sweep}`");
                    markdown.AppendLine();
                    AppendTable(markdown, taskRows.Where(r => r.Sweep == sweep).ToList());
                }
            }
            var images = figurePaths.Where(p => p.EndsWith(".png", StringComparison.OrdinalIgnoreCase)).ToList();
            if (images.Count > 0)
            {
                markdown.AppendLine();
                markdown.AppendLine("### Figures");
                foreach (var image in images)
                {
                    markdown.AppendLine();
                    markdown.AppendLine($"![{Path.GetFileNameWithoutExtension(image)}]({Link(readmeDirectory, image)})");
                }
            }
        }
        return markdown.ToString();
    }

    static void AppendTable(StringBuilder markdown, List<SummaryRow> rows)
    {
        var models = rows.Select(r => r.BaseModel).Distinct().ToList();
        var sorted = rows
            .OrderBy(r => r.BaseModel != "").ThenBy(r => models.IndexOf(r.BaseModel))
            .ThenBy(r => Array.IndexOf(MethodOrder, r.Method) is var rank and >= 0 ? rank : MethodOrder.Length)
            .ThenBy(r => r.W).ThenBy(r => r.K).ThenBy(r => r.L ?? int.MaxValue).ThenBy(r => r.N).ThenBy(r => r.Beta)
            .ToList();
        var winRates = rows.Any(r => r.WinRate is not null);
        var lcWinRates = rows.Any(r => r.LcWinRate is not null);

        var header = new List<string> { "Method", "Base model", "n", "Gold [95% CI]" };
        if (winRates) header.Add("Win rate [95% CI]");
        if (lcWinRates) header.Add("LC win rate [95% CI]");
        header.AddRange(["Large tokens / prompt", "Wall s / sample"]);
        AppendRow(markdown, header);
        AppendRow(markdown, header.Select((_, i) => i < 2 ? "---" : "---:"));
        foreach (var row in sorted)
        {
            var cells = new List<string>
            {
                Escape(row.Label),
                row.BaseModel == "" ? "—" : Escape(row.BaseModel),
                row.Count.ToString(CultureInfo.InvariantCulture),
                $"{Number(row.GoldMean)} [{Number(row.GoldLow)}, {Number(row.GoldHigh)}]",
            };
            if (winRates) cells.Add(Rate(row.WinRate, row.WinRateLow, row.WinRateHigh));
            if (lcWinRates) cells.Add(Rate(row.LcWinRate, row.LcWinRateLow, row.LcWinRateHigh));
            cells.Add(row.LargeTokens.ToString("0.0", CultureInfo.InvariantCulture));
            cells.Add(Number(row.WallSeconds));
            AppendRow(markdown, cells);
        }
    }

    static void AppendRow(StringBuilder markdown, IEnumerable<string> cells) =>
        markdown.AppendLine($"| {string.Join(" | ", cells)} |");

    static string Number(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    static string Rate(double? rate, double? low, double? high)
    {
        if (rate is not double value) return "—";
        static string Percent(double x) => (100 * x).ToString("0.0", CultureInfo.InvariantCulture);
        var interval = low is double l && high is double h ? $" [{Percent(l)}, {Percent(h)}]" : "";
        return $"{Percent(value)}%{interval}";
    }

    /// <summary>Table cells are one line and their pipes are text.</summary>
    static string Escape(string text) => text.ReplaceLineEndings(" ").Replace("|", "\\|");

    static string Relative(string readmeDirectory, string path) =>
        Path.GetRelativePath(readmeDirectory, path).Replace(Path.DirectorySeparatorChar, '/');

    /// <summary>A relative link, each segment percent-encoded so that spaces and parentheses keep the link whole.</summary>
    static string Link(string readmeDirectory, string path) =>
        string.Join('/', Relative(readmeDirectory, path).Split('/').Select(Uri.EscapeDataString));
}
