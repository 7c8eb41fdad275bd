using System.Globalization;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.World;
using static TorchSharp.torch;

namespace WeakToStrong.Experiments;

/// <summary>
/// Peak device memory of a run, said before any weights are read: every model's weights in the run's dtype, and for
/// each cell the KV caches of the rows each model holds there (the large model W·K rows per prompt of a batch; the
/// small guides the same rows at their own prompt lengths; EFT one row per prompt in each of its three models) at the
/// longest prompt + max_new_tokens, plus the largest forward's working memory. The models a run keeps resident (the
/// cell's base model, the small pair, the gold and the reward guides) are counted together; the peak is the largest cell.
/// A response is assumed to take at most max_new_tokens tokens in every model's tokenizer.
/// </summary>
public sealed class RunMemoryEstimate
{
    public sealed record ModelLine(string Role, string Name, long Parameters, long WeightBytes, long CacheBytes, long WorkingBytes, string Worst);

    public required ScalarType DType { get; init; }
    public required IReadOnlyList<ModelLine> Models { get; init; }
    public required long PeakBytes { get; init; }
    public required string PeakCell { get; init; }
    /// <summary>The peak of each base model's cells (one base model is loaded at a time); "small" for the small models' own cells.</summary>
    public required IReadOnlyDictionary<string, long> PeakByBase { get; init; }

    /// <summary>The estimate for <paramref name="prompts"/> (raw text) under the resolved <paramref name="models"/>, reading config.json and tokenizers only.</summary>
    public static RunMemoryEstimate For(ExperimentConfig config, IReadOnlyDictionary<string, ModelFingerprint> models, IReadOnlyList<string> prompts, ScalarType dtype)
    {
        int maxNew = config.Generation.MaxNewTokens;
        int batch = Math.Max(1, Math.Min(config.BatchPrompts, prompts.Count));
        // A base model behind an API takes no memory here.
        var apiBases = config.Bases.Where(b => b.Api is not null).Select(b => "base:" + b.Name).ToHashSet();
        var configs = models.Where(m => !apiBases.Contains(m.Key)).ToDictionary(m => m.Key, m => ModelConfig.Load(Path.Combine(m.Value.Path, "config.json")));

        int Longest(string role, Func<string, string> render)
        {
            if (prompts.Count == 0) return 1;
            var tokenizer = HfTokenizer.Load(models[role].Path);
            return prompts.Max(p => tokenizer.Encode(render(p)).Count);
        }
        var promptTokens = new Dictionary<string, int>();
        int PromptTokens(string role) => promptTokens.TryGetValue(role, out int n) ? n : promptTokens[role] = role switch
        {
            "tuned" => Longest(role, config.Tuned!.Template.Resolve(models[role].Path).Apply),
            "untuned" => Longest(role, config.Untuned!.Template.Resolve(models[role].Path).Apply),
            "gold" => Longest(role, p => GoldSpec.Apply(config.Gold.FormatFor(models[role].Path), p, "")),
            _ when role.StartsWith("base:", StringComparison.Ordinal) =>
                Longest(role, config.Bases.Single(b => "base:" + b.Name == role).Template.Resolve(models[role].Path).Apply),
            _ => 1,
        };
        int RewardPromptTokens(string role, string template) =>
            promptTokens.TryGetValue(role + template, out int n) ? n : promptTokens[role + template] =
                Longest(role, p => template.Replace("{raw_prompt}", p, StringComparison.Ordinal).Replace("{response}", "", StringComparison.Ordinal));

        // A model that searches: its prompts prefilled together, then rows decoding one token (or a chunk) against the whole cache.
        ModelUse Decoding(string what, string role, int rows, int fedPerStep, bool logitsForEveryFed)
        {
            int total = PromptTokens(role) + maxNew;
            return new ModelUse(what, rows, total, fedPerStep, total, logitsForEveryFed ? fedPerStep : 1);
        }
        ModelUse Prefill(string role) => new("prompt prefill", batch, PromptTokens(role) + maxNew, PromptTokens(role), PromptTokens(role), 1);

        var perModel = new Dictionary<string, (long Cache, long Working, string Worst)>();
        long peak = 0;
        string peakCell = "";
        var peakByBase = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var resident = new List<string>();
        if (config.Tuned is not null) resident.Add("tuned");
        if (config.Untuned is not null) resident.Add("untuned");
        if (models.ContainsKey("gold")) resident.Add("gold");
        resident.AddRange(models.Keys.Where(k => k.StartsWith("guide:", StringComparison.Ordinal)));

        foreach (var cell in config.Cells().DistinctBy(c => (c.BaseModel, c.Method.Key)))
        {
            var uses = new List<(string Role, ModelUse Use)>();
            var method = cell.Method;
            string? large = cell.BaseModel is string b ? "base:" + b : null;
            bool largeHere = large is not null && !apiBases.Contains(large);
            int rows = batch * method.Beam.RowsPerPrompt;
            int chunk = Math.Min(method.Beam.ChunkLength ?? maxNew, maxNew);
            switch (method.Kind)
            {
                case MethodKind.SmallTuned or MethodKind.SmallUntuned:
                    string small = method.Kind == MethodKind.SmallTuned ? "tuned" : "untuned";
                    uses.Add((small, Decoding("sampling", small, batch, 1, false)));
                    uses.Add((small, Prefill(small)));
                    break;
                case MethodKind.Eft:
                    foreach (string role in new[] { large!, "tuned", "untuned" })
                    {
                        uses.Add((role, Decoding("EFT, one row per prompt", role, batch, 1, false)));
                        uses.Add((role, Prefill(role)));
                    }
                    break;
                default:
                    if (largeHere)
                    {
                        uses.Add((large!, Decoding($"{rows} rows (W·K × {batch} prompts)", large!, rows, 1, false)));
                        uses.Add((large!, Prefill(large!)));
                    }
                    if (!method.IsSearch) break;
                    // The guide rescores each row's new chunk (BoN: the whole response at once), logits at every new position.
                    if (method.Guide.Kind == GuideKind.ImplicitValue)
                        foreach (string role in new[] { "tuned", "untuned" })
                            uses.Add((role, Decoding($"guide, {rows} rows", role, rows, chunk, true)));
                    else if (method.Guide.Kind == GuideKind.Likelihood)
                        uses.Add((large!, Decoding($"likelihood guide, {rows} rows", large!, rows, chunk, true)));
                    else
                    {
                        string role = "guide:" + method.Guide.RewardModel;
                        int tokens = RewardPromptTokens(role, method.Guide.RewardTemplate) + maxNew;
                        uses.Add((role, new ModelUse("reward guide, batches of 16", Math.Min(16, rows), 0, tokens, tokens, 0)));
                    }
                    break;
            }
            if (models.ContainsKey("gold"))
            {
                int tokens = PromptTokens("gold") + maxNew;
                uses.Add(("gold", new ModelUse("gold, one response", 1, 0, tokens, tokens, 0)));
            }

            long weights = resident.Concat(largeHere ? [large!] : []).Sum(role => MemoryEstimate.WeightBytes(configs[role], dtype));
            long caches = 0, working = 0;
            foreach (var (role, use) in uses)
            {
                // A model's caches in a cell: its largest decoding use, plus a second one when the large model also guides.
                long cache = MemoryEstimate.KvCacheBytes(configs[role], dtype, use.Rows, use.CacheTokens);
                long work = MemoryEstimate.WorkingBytes(configs[role], dtype, use);
                if (use.What != "prompt prefill") caches += cache;
                working = Math.Max(working, work);
                var (oldCache, oldWork, oldWorst) = perModel.GetValueOrDefault(role);
                long cellCache = uses.Where(u => u.Role == role && u.Use.What != "prompt prefill")
                    .Sum(u => MemoryEstimate.KvCacheBytes(configs[role], dtype, u.Use.Rows, u.Use.CacheTokens));
                perModel[role] = (Math.Max(oldCache, cellCache), Math.Max(oldWork, work),
                    cellCache > oldCache ? $"{cell.Method.Key}: {use.Rows} rows × {use.CacheTokens} tokens" : oldWorst ?? "");
            }
            long total = weights + caches + working;
            string baseName = cell.BaseModel ?? "small";
            peakByBase[baseName] = Math.Max(peakByBase.GetValueOrDefault(baseName), total);
            if (total > peak) (peak, peakCell) = (total, $"{cell.BaseModel ?? "small"}/{cell.Method.Key}");
        }

        var lines = models.Keys.Where(configs.ContainsKey).Select(role =>
        {
            var c = configs[role];
            var (cache, work, worst) = perModel.GetValueOrDefault(role);
            return new ModelLine(role, models[role].Reference, MemoryEstimate.Parameters(c), MemoryEstimate.WeightBytes(c, dtype), cache, work, worst ?? "");
        }).ToArray();
        return new RunMemoryEstimate { DType = dtype, Models = lines, PeakBytes = peak, PeakCell = peakCell, PeakByBase = peakByBase };
    }

    public IEnumerable<string> Lines()
    {
        yield return $"memory estimate ({DType.ToString().ToLowerInvariant()}; weights from config.json, KV caches at longest prompt + max_new_tokens, working memory of the largest forward):";
        foreach (var m in Models)
            yield return string.Create(CultureInfo.InvariantCulture,
                $"  {m.Role} ({m.Name}): {m.Parameters / 1e9:F2} B parameters, weights {MemoryEstimate.Gib(m.WeightBytes)}, " +
                $"KV caches {MemoryEstimate.Gib(m.CacheBytes)}{(m.Worst.Length > 0 ? $" ({m.Worst})" : "")}, working {MemoryEstimate.Gib(m.WorkingBytes)}");
        if (PeakByBase.Count > 1)
            yield return "  peak by base model: " + string.Join(", ", PeakByBase.Select(p => $"{p.Key} {MemoryEstimate.Gib(p.Value)}"));
        yield return $"  peak: {MemoryEstimate.Gib(PeakBytes)} (cell {PeakCell}, with every resident model's weights)";
    }

    /// <summary>Refuses a run whose peak does not fit the device; says nothing can be checked when the device's memory is unknown.</summary>
    public string CheckFits(DeviceMemory device, string source)
    {
        if (device.Bytes is not long capacity)
            return $"  device {device.Device}: memory {device.Source}; not checked";
        if (PeakBytes > capacity)
            throw new InvalidInputException($"{source}: the run needs an estimated {MemoryEstimate.Gib(PeakBytes)} at peak (cell {PeakCell}; " +
                string.Join(", ", Models.Select(m => $"{m.Role} {MemoryEstimate.Gib(m.WeightBytes + m.CacheBytes + m.WorkingBytes)}")) +
                $") but {device.Device} has {MemoryEstimate.Gib(capacity)} ({device.Source}); use a larger device or --dtype bfloat16, " +
                "lower batch_prompts, or pass --device-memory GiB if that figure is wrong");
        return $"  device {device.Device}: {MemoryEstimate.Gib(capacity)} ({device.Source}); fits";
    }
}
