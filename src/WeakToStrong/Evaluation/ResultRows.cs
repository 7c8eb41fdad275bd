using CsvHelper;

namespace WeakToStrong.Evaluation;

/// <summary>
/// One generated response with its evaluation (a row of samples.csv). Method parameters that do not apply
/// are empty: W, K, L for CBS (L empty = ∞), N for best-of-N, Beta for EFT.
/// </summary>
[CsvRecord]
public sealed partial record SampleRow(
    string Task, string BaseModel, string Method, string Label, string Sweep,
    int? W, int? K, int? L, int? N, double? Beta, long Seed,
    string PromptId, string Prompt, string Response, string? Reference,
    double Gold, double? ImplicitValue, double? Win,
    long LargeTokens, long SmallTokens, double WallSeconds);

/// <summary>
/// One cell (task × base model × method × parameters, pooled over seeds) of summary.csv. Intervals are 95%
/// bootstrap intervals over prompts; win rates are against the task's reference outputs (instruction following only).
/// Tokens and seconds are means per sample.
/// </summary>
[CsvRecord]
public sealed partial record SummaryRow(
    string Task, string BaseModel, string Method, string Label, string Sweep,
    int? W, int? K, int? L, int? N, double? Beta, int Seeds, int Count,
    double GoldMean, double GoldLow, double GoldHigh, double? ImplicitValueMean,
    double? WinRate, double? WinRateLow, double? WinRateHigh,
    double? LcWinRate, double? LcWinRateLow, double? LcWinRateHigh,
    double LargeTokens, double SmallTokens, double WallSeconds);
