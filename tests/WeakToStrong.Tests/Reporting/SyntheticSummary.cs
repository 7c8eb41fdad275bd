using WeakToStrong.Evaluation;

namespace WeakToStrong.Tests.Reporting;

/// <summary>Summary rows shaped like an experiment's: main comparisons, sweeps and an instruction task with win rates.</summary>
internal static class SyntheticSummary
{
    public static readonly string[] BaseModels = ["gpt2-large", "gpt2-xl", "/models/llama 7b"];

    public static SummaryRow Row(string task, string baseModel, string method, string label,
        int? w = null, int? k = null, int? l = null, int? n = null, double? beta = null,
        double gold = 0, string sweep = "", double largeTokens = 0) => new(
        task, baseModel, method, label, sweep, w, k, l, n, beta, Seeds: 2, Count: 100,
        GoldMean: gold, GoldLow: gold - 0.25, GoldHigh: gold + 0.25, ImplicitValueMean: null,
        WinRate: null, WinRateLow: null, WinRateHigh: null, LcWinRate: null, LcWinRateLow: null, LcWinRateHigh: null,
        LargeTokens: largeTokens, SmallTokens: 50, WallSeconds: 0.125);

    static string L(int? l) => l is int value ? value.ToString() : "∞";

    /// <summary>Sentiment: three base models × base/EFT/BoN/CBS, the small models, a chunk-length sweep (W=K ∈ {2,4},
    /// four chunk lengths), a beam-width sweep (W·K = 16, L ∈ {5,∞}) and a compute sweep of CBS and BoN.</summary>
    public static List<SummaryRow> Sentiment()
    {
        List<SummaryRow> rows =
        [
            Row("sentiment", "", "small-tuned", "Small tuned", gold: 2.5, largeTokens: 0),
            Row("sentiment", "", "small-untuned", "Small untuned", gold: 0.5, largeTokens: 0),
        ];
        for (var i = 0; i < BaseModels.Length; i++)
        {
            var model = BaseModels[i];
            rows.Add(Row("sentiment", model, "base", "Base", gold: 1 + i, largeTokens: 50));
            rows.Add(Row("sentiment", model, "eft", "EFT(β=1)", beta: 1, gold: 2 + i, largeTokens: 50));
            rows.Add(Row("sentiment", model, "bon", "BoN(16)", n: 16, gold: 3 + i, largeTokens: 800));
            rows.Add(Row("sentiment", model, "cbs", "CBS(4,4,5)", w: 4, k: 4, l: 5, gold: 3.5 + i, largeTokens: 800));
        }
        foreach (var w in new[] { 2, 4 })
            foreach (var l in new int?[] { 10, null, 1, 5 })
                rows.Add(Row("sentiment", "gpt2-xl", "cbs", $"CBS({w},{w},{L(l)})", w: w, k: w, l: l,
                    gold: 3 + w / 4.0 + (l ?? 20) / 10.0, sweep: "chunk-length", largeTokens: 50 * w * w));
        foreach (var l in new int?[] { null, 5 })
            foreach (var w in new[] { 1, 2, 4, 8, 16 })
                rows.Add(Row("sentiment", "gpt2-xl", "cbs", $"CBS({w},{16 / w},{L(l)})", w: w, k: 16 / w, l: l,
                    gold: 3 + w / 16.0, sweep: "beam-width", largeTokens: 800));
        foreach (var w in new[] { 1, 2, 3 })
            rows.Add(Row("sentiment", "gpt2-xl", "cbs", $"CBS({w},{w},5)", w: w, k: w, l: 5, gold: 2 + w, sweep: "compute", largeTokens: 50 * w * w));
        foreach (var n in new[] { 1, 4, 64 })
            rows.Add(Row("sentiment", "gpt2-xl", "bon", $"BoN({n})", n: n, gold: 1 + n / 32.0, sweep: "compute", largeTokens: 50 * n));
        return rows;
    }

    /// <summary>Instruction following: base and CBS for two base models, with win rates, and the small models.</summary>
    public static List<SummaryRow> Instruction()
    {
        static SummaryRow WithRates(SummaryRow row, double lc) => row with
        {
            WinRate = lc + 0.05, WinRateLow = lc, WinRateHigh = lc + 0.1,
            LcWinRate = lc, LcWinRateLow = lc - 0.04, LcWinRateHigh = lc + 0.04,
        };
        return
        [
            WithRates(Row("instruction", "", "small-tuned", "Small tuned", gold: 5), 0.3),
            WithRates(Row("instruction", "", "small-untuned", "Small untuned", gold: 4), 0.1),
            WithRates(Row("instruction", "tulu-7b", "base", "Base", gold: 6, largeTokens: 300), 0.2),
            WithRates(Row("instruction", "tulu-7b", "cbs", "CBS(2,2,30)", w: 2, k: 2, l: 30, gold: 7, largeTokens: 1200), 0.35),
            WithRates(Row("instruction", "tulu-70b", "base", "Base", gold: 7, largeTokens: 300), 0.4),
            WithRates(Row("instruction", "tulu-70b", "cbs", "CBS(2,2,30)", w: 2, k: 2, l: 30, gold: 8, largeTokens: 1200), 0.5),
        ];
    }
}
