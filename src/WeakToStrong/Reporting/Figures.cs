using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ScottPlot;
using ScottPlot.TickGenerators;
using WeakToStrong.Evaluation;

namespace WeakToStrong.Reporting;

/// <summary>
/// The paper's figures drawn from summary rows, each saved as PNG and SVG:
/// <list type="bullet">
/// <item><c>main-&lt;task&gt;</c>: gold reward per base model for base, EFT, BoN and CBS, with the small tuned model as a line.</item>
/// <item><c>lc-winrate-&lt;task&gt;</c>: length-controlled win rates of base and CBS, with the small models as lines.</item>
/// <item><c>ablation-beam-width-&lt;task&gt;-&lt;sweep&gt;</c>: for a CBS sweep that varies W at a fixed W·K (per L), gold vs W, a line per L.</item>
/// <item><c>ablation-chunk-length-&lt;task&gt;-&lt;sweep&gt;</c>: for a CBS sweep over several L, gold vs L, a line per (W, K) (a grid over W and L makes both).</item>
/// <item><c>compute-&lt;task&gt;</c>: gold vs large-model tokens, a line per (BoN or CBS, base model) with two or more
/// cells, drawn from the main comparison and every sweep that makes no ablation figure.</item>
/// </list>
/// Ablation names get a <c>-&lt;base model&gt;</c> suffix when a sweep covers several base models. Error bars are the
/// rows' 95% intervals. Figures the rows cannot support are left out.
/// </summary>
public static class Figures
{
    public const int Width = 900;
    public const int Height = 560;

    public const string SmallTunedLegend = "Small tuned (sampled alone)";
    public const string SmallUntunedLegend = "Small untuned (sampled alone)";

    /// <summary>The methods drawn as bars, in bar order.</summary>
    static readonly string[] BarMethods = ["base", "eft", "bon", "cbs"];

    static readonly ScottPlot.Palettes.Category10 Palette = new();
    static readonly LinePattern[] Patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];
    static readonly MarkerShape[] Markers =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond, MarkerShape.FilledTriangleDown];

    /// <summary>Writes every figure <paramref name="rows"/> support into <paramref name="directory"/>; returns the paths
    /// written, PNG then SVG for each figure.</summary>
    public static IReadOnlyList<string> WriteAll(IReadOnlyList<SummaryRow> rows, string directory)
    {
        var written = new List<string>();
        foreach (var (name, plot) in Build(rows))
        {
            using (plot)
            {
                Directory.CreateDirectory(directory);
                var png = Path.Combine(directory, name + ".png");
                var svg = Path.Combine(directory, name + ".svg");
                plot.SavePng(png, Width, Height);
                File.WriteAllText(svg, RenumberIds(plot.GetSvgXml(Width, Height)));
                written.Add(png);
                written.Add(svg);
            }
        }
        return written;
    }

    /// <summary>A file-name-safe form of <paramref name="text"/>: letters, digits, '.', '_' and '-' kept, runs of
    /// anything else (path separators, spaces) turned into one '-'.</summary>
    public static string SafeName(string text)
    {
        var name = new StringBuilder();
        foreach (var c in text)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-') name.Append(c);
            else if (name.Length > 0 && name[^1] != '-') name.Append('-');
        }
        var safe = name.ToString().Trim('-', '.');
        return safe.Length == 0 ? "unnamed" : safe;
    }

    /// <summary>Skia numbers SVG clip paths with a counter shared by the whole process; numbering them per document
    /// makes the same figure the same file.</summary>
    static string RenumberIds(string svg)
    {
        var ids = new Dictionary<string, string>();
        foreach (Match match in Regex.Matches(svg, "id=\"([^\"]+)\""))
            ids.TryAdd(match.Groups[1].Value, $"id{ids.Count}");
        return Regex.Replace(svg, "(?<prefix>id=\"|#)(?<name>[^\"()\\s]+)",
            match => ids.TryGetValue(match.Groups["name"].Value, out var id) ? match.Groups["prefix"].Value + id : match.Value);
    }

    static IEnumerable<(string Name, Plot Plot)> Build(IReadOnlyList<SummaryRow> rows)
    {
        foreach (var task in rows.Select(r => r.Task).Distinct())
        {
            var taskRows = rows.Where(r => r.Task == task).ToList();
            if (MainFigure(task, taskRows) is Plot main) yield return ($"main-{SafeName(task)}", main);
            if (LcWinRateFigure(task, taskRows) is Plot winRate) yield return ($"lc-winrate-{SafeName(task)}", winRate);
            var ablations = Ablations(task, taskRows);
            foreach (var ablation in ablations) yield return (ablation.Name, AblationFigure(task, ablation));
            if (ComputeFigure(task, taskRows, ablations) is Plot compute) yield return ($"compute-{SafeName(task)}", compute);
        }
    }

    static Plot? MainFigure(string task, List<SummaryRow> rows)
    {
        var bars = rows.Where(r => r.Sweep == "" && r.BaseModel != "" && BarMethods.Contains(r.Method)).ToList();
        if (bars.Count == 0) return null;
        var plot = NewPlot($"{TaskTitle(task)}: weak-to-strong search and baselines", "Base model", GoldLabel(task));
        var extent = AddGroupedBars(plot, bars, row => new Interval(row.GoldMean, row.GoldLow, row.GoldHigh));
        if (MainRow(rows, "small-tuned") is SummaryRow smallTuned)
            extent.Add(AddReferenceLine(plot, smallTuned.GoldMean, SmallTunedLegend, MethodColor("small-tuned"), LinePattern.Dashed));
        FitBarAxes(plot, bars.Select(r => r.BaseModel).Distinct().Count(), extent);
        return plot;
    }

    static Plot? LcWinRateFigure(string task, List<SummaryRow> rows)
    {
        var bars = rows.Where(r => r.Sweep == "" && r.BaseModel != "" && r.Method is "base" or "cbs" && r.LcWinRate is not null).ToList();
        if (bars.Count == 0) return null;
        var plot = NewPlot($"{TaskTitle(task)}: length-controlled win rate against the reference",
            "Base model", "Length-controlled win rate vs reference (%)");
        var extent = AddGroupedBars(plot, bars, row => Percent(row.LcWinRate!.Value, row.LcWinRateLow, row.LcWinRateHigh));
        foreach (var (method, legend, pattern) in new[]
                 {
                     ("small-tuned", SmallTunedLegend, LinePattern.Dashed),
                     ("small-untuned", SmallUntunedLegend, LinePattern.DenselyDashed),
                 })
            if (MainRow(rows, method) is { LcWinRate: double rate })
                extent.Add(AddReferenceLine(plot, 100 * rate, legend, MethodColor(method), pattern));
        FitBarAxes(plot, bars.Select(r => r.BaseModel).Distinct().Count(), extent);
        return plot;
    }

    enum AblationKind { ChunkLength, BeamWidth }

    /// <summary>The CBS cells of one sweep for one base model that make an ablation figure.</summary>
    sealed record Ablation(AblationKind Kind, string Name, string Sweep, string BaseModel, List<SummaryRow> Cells);

    static List<Ablation> Ablations(string task, List<SummaryRow> rows)
    {
        var ablations = new List<Ablation>();
        var swept = rows.Where(r => r.Method == "cbs" && r.Sweep != "" && r.BaseModel != "").ToList();
        foreach (var sweep in swept.Select(r => r.Sweep).Distinct())
        {
            var sweepRows = swept.Where(r => r.Sweep == sweep).ToList();
            var models = sweepRows.Select(r => r.BaseModel).Distinct().ToList();
            foreach (var model in models)
            {
                var cells = sweepRows.Where(r => r.BaseModel == model).ToList();
                var suffix = models.Count > 1 ? $"-{SafeName(model)}" : "";
                // A grid over both W and L makes both figures, as the paper plots one grid both ways.
                if (IsBeamWidthSweep(cells))
                    ablations.Add(new(AblationKind.BeamWidth, $"ablation-beam-width-{SafeName(task)}-{SafeName(sweep)}{suffix}", sweep, model, cells));
                if (cells.Select(r => r.L).Distinct().Count() >= 2)
                    ablations.Add(new(AblationKind.ChunkLength, $"ablation-chunk-length-{SafeName(task)}-{SafeName(sweep)}{suffix}", sweep, model, cells));
            }
        }
        return ablations;
    }

    static Plot AblationFigure(string task, Ablation ablation) => ablation.Kind switch
    {
        AblationKind.BeamWidth => BeamWidthFigure(task, ablation.Sweep, ablation.BaseModel, ablation.Cells),
        _ => ChunkLengthFigure(task, ablation.Sweep, ablation.BaseModel, ablation.Cells),
    };

    /// <summary>W varies while each chunk length keeps one W·K budget: the paper's beam-width ablation.</summary>
    static bool IsBeamWidthSweep(List<SummaryRow> cells) =>
        cells.All(r => r.W is not null && r.K is not null)
        && cells.Select(r => r.W).Distinct().Count() >= 2
        && cells.GroupBy(r => r.L).All(line => line.Select(r => r.W * r.K).Distinct().Count() == 1);

    static Plot ChunkLengthFigure(string task, string sweep, string model, List<SummaryRow> cells)
    {
        var lengths = cells.Select(r => r.L).Distinct().OrderBy(ChunkLengthOrder).ToList();
        var plot = NewPlot($"{TaskTitle(task)}: chunk length ablation ({model}, sweep {sweep})", "Chunk length L (tokens)", GoldLabel(task));
        var lines = cells.GroupBy(r => (r.W, r.K)).OrderBy(line => line.Key.W).ThenBy(line => line.Key.K).ToList();
        for (var i = 0; i < lines.Count; i++)
        {
            var points = lines[i].DistinctBy(r => r.L).OrderBy(r => ChunkLengthOrder(r.L)).ToList();
            var xs = points.Select(r => lengths.IndexOf(r.L) + Dodge(i, lines.Count)).ToArray();
            AddLine(plot, xs, points, $"W={lines[i].Key.W}, K={lines[i].Key.K}", Palette.GetColor(i), Patterns[0], Markers[i % Markers.Length]);
        }
        SetCategories(plot, lengths.Select(ChunkLengthText).ToList());
        return plot;
    }

    static Plot BeamWidthFigure(string task, string sweep, string model, List<SummaryRow> cells)
    {
        var budgets = cells.Select(r => r.W * r.K).Distinct().ToList();
        var budget = budgets.Count == 1 ? $"W·K = {budgets[0]}" : "W·K fixed per chunk length";
        var widths = cells.Select(r => r.W!.Value).Distinct().Order().ToList();
        var plot = NewPlot($"{TaskTitle(task)}: beam width ablation at {budget} ({model}, sweep {sweep})",
            "Beam width W (successors per state K = W·K / W)", GoldLabel(task));
        var lines = cells.GroupBy(r => r.L).OrderBy(line => ChunkLengthOrder(line.Key)).ToList();
        for (var i = 0; i < lines.Count; i++)
        {
            var points = lines[i].DistinctBy(r => r.W).OrderBy(r => r.W).ToList();
            var xs = points.Select(r => widths.IndexOf(r.W!.Value) + Dodge(i, lines.Count)).ToArray();
            AddLine(plot, xs, points, $"L={ChunkLengthText(lines[i].Key)}", Palette.GetColor(i), Patterns[0], Markers[i % Markers.Length]);
        }
        SetCategories(plot, widths.Select(w => w.ToString(CultureInfo.InvariantCulture)).ToList());
        return plot;
    }

    /// <summary>The main comparison and every sweep that is not an ablation: ablations hold the large model's compute
    /// fixed by design, so their cells would stack up at one x.</summary>
    static Plot? ComputeFigure(string task, List<SummaryRow> rows, List<Ablation> ablations)
    {
        var candidates = rows
            .Where(r => r.Method is "bon" or "cbs" && r.BaseModel != "")
            .Where(r => !ablations.Any(a => a.Sweep == r.Sweep && a.BaseModel == r.BaseModel))
            .ToList();
        var models = candidates.Select(r => r.BaseModel).Distinct().ToList();
        var lines = candidates
            .GroupBy(r => (r.Method, r.BaseModel))
            .Select(line => (line.Key.Method, line.Key.BaseModel,
                // A configuration run in several sweeps is one point.
                Points: line.DistinctBy(r => (r.W, r.K, r.L, r.N)).OrderBy(r => r.LargeTokens).ToList()))
            .Where(line => line.Points.Count >= 2)
            .OrderBy(line => Array.IndexOf(BarMethods, line.Method)).ThenBy(line => models.IndexOf(line.BaseModel))
            .ToList();
        if (lines.Count == 0) return null;
        var plot = NewPlot($"{TaskTitle(task)}: gold reward against large-model compute", "Large-model tokens sampled per prompt", GoldLabel(task));
        foreach (var (method, model, points) in lines)
        {
            var index = models.IndexOf(model);
            AddLine(plot, points.Select(r => r.LargeTokens).ToArray(), points, $"{MethodName(method)}, {model}",
                MethodColor(method), Patterns[index % Patterns.Length], Markers[index % Markers.Length]);
        }
        return plot;
    }

    readonly record struct Interval(double Mean, double Low, double High);

    static Interval Percent(double rate, double? low, double? high) =>
        new(100 * rate, 100 * (low ?? rate), 100 * (high ?? rate));

    static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title, size: 15);
        plot.XLabel(xLabel, size: 13);
        plot.YLabel(yLabel, size: 13);
        // Outside the data area, so it never hides bars or points.
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    /// <summary>One group of bars per base model (first appearance order), one bar per (method, label) in method
    /// order, with interval error bars; returns the values the y axis must show.</summary>
    static List<double> AddGroupedBars(Plot plot, List<SummaryRow> rows, Func<SummaryRow, Interval> value)
    {
        var models = rows.Select(r => r.BaseModel).Distinct().ToList();
        var series = rows.Select(r => (r.Method, r.Label)).Distinct().OrderBy(s => Array.IndexOf(BarMethods, s.Method)).ToList();
        var slot = 0.8 / series.Count;
        var extent = new List<double> { 0 };
        var centres = new List<double>();
        var intervals = new List<Interval>();
        for (var s = 0; s < series.Count; s++)
        {
            // Several labels of one method (two EFT betas, say) get lighter shades of its colour.
            var shade = series.Take(s).Count(other => other.Method == series[s].Method);
            var color = MethodColor(series[s].Method).Lighten(0.3 * shade);
            var bars = new List<Bar>();
            for (var g = 0; g < models.Count; g++)
            {
                if (rows.FirstOrDefault(r => r.BaseModel == models[g] && (r.Method, r.Label) == series[s]) is not SummaryRow row) continue;
                var interval = value(row);
                var centre = g - 0.4 + slot * (s + 0.5);
                bars.Add(new Bar { Position = centre, Value = interval.Mean, Size = slot * 0.9, FillColor = color, LineWidth = 0 });
                centres.Add(centre);
                intervals.Add(interval);
                extent.AddRange([interval.Low, interval.High, interval.Mean]);
            }
            var barPlot = plot.Add.Bars(bars);
            barPlot.LegendText = series[s].Label;
            barPlot.Color = color;
        }
        AddErrorBars(plot, centres, intervals, Colors.Black);
        SetCategories(plot, models);
        return extent;
    }

    static double AddReferenceLine(Plot plot, double y, string legend, Color color, LinePattern pattern)
    {
        var line = plot.Add.HorizontalLine(y, 2, color, pattern);
        line.LegendText = legend;
        return y;
    }

    static void AddLine(Plot plot, double[] xs, List<SummaryRow> points, string legend, Color color, LinePattern pattern, MarkerShape marker)
    {
        var scatter = plot.Add.Scatter(xs, points.Select(r => r.GoldMean).ToArray(), color);
        scatter.LegendText = legend;
        scatter.LinePattern = pattern;
        scatter.LineWidth = 2;
        scatter.MarkerShape = marker;
        scatter.MarkerSize = 8;
        AddErrorBars(plot, xs, points.Select(r => new Interval(r.GoldMean, r.GoldLow, r.GoldHigh)).ToList(), color);
    }

    static void AddErrorBars(Plot plot, IReadOnlyList<double> xs, IReadOnlyList<Interval> intervals, Color color)
    {
        var errorBars = plot.Add.ErrorBar(xs, intervals.Select(i => i.Mean).ToArray(), intervals.Select(i => Math.Max(0, i.High - i.Mean)).ToArray());
        errorBars.YErrorNegative = intervals.Select(i => Math.Max(0, i.Mean - i.Low)).ToArray();
        errorBars.Color = color;
        errorBars.LineWidth = 1.5f;
    }

    /// <summary>Axis limits that show every bar from zero, every interval and every reference line.</summary>
    static void FitBarAxes(Plot plot, int groups, List<double> extent)
    {
        var (low, high) = (extent.Min(), extent.Max());
        var pad = Math.Max(high - low, 1e-9) * 0.08;
        plot.Axes.SetLimits(-0.6, groups - 0.4, low < 0 ? low - pad : 0, high + pad);
    }

    /// <summary>Categorical x axis: category i at x = i, labelled by its value.</summary>
    static void SetCategories(Plot plot, IReadOnlyList<string> labels)
    {
        plot.Axes.Bottom.TickGenerator = new NumericManual(Enumerable.Range(0, labels.Count).Select(i => (double)i).ToArray(), labels.ToArray());
        plot.Axes.SetLimitsX(-0.5, labels.Count - 0.5);
    }

    /// <summary>Small horizontal offsets so that lines sharing categorical x values keep their error bars apart.</summary>
    static double Dodge(int line, int lines) => (line - (lines - 1) / 2.0) * 0.06;

    static int ChunkLengthOrder(int? l) => l ?? int.MaxValue;

    static string ChunkLengthText(int? l) => l is int value ? value.ToString(CultureInfo.InvariantCulture) : "∞";

    static SummaryRow? MainRow(List<SummaryRow> rows, string method) => rows.FirstOrDefault(r => r.Sweep == "" && r.Method == method);

    static Color MethodColor(string method) => Palette.GetColor(method switch
    {
        "bon" => 0,
        "eft" => 1,
        "small-tuned" => 2,
        "cbs" => 3,
        "small-untuned" => 4,
        "base" => 7,
        _ => 5,
    });

    static string MethodName(string method) => method switch
    {
        "bon" => "BoN",
        "cbs" => "CBS",
        "eft" => "EFT",
        _ => method,
    };

    static string TaskTitle(string task) => task switch
    {
        "sentiment" => "Controlled-sentiment generation",
        "summarization" => "Summarization",
        "instruction" => "Instruction following",
        _ => task,
    };

    static string GoldLabel(string task) => task == "instruction" ? "Gold judge score" : "Gold reward";
}
