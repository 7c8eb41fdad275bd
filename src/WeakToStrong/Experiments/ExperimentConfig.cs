using WeakToStrong.Data;
using WeakToStrong.Models.Api;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.World;

namespace WeakToStrong.Experiments;

/// <summary>
/// One experiment as its YAML file describes it (schema: experiments/README.md). Every field is validated by
/// <see cref="ExperimentConfigParser"/>; a config that exists is a config that can run, models permitting.
/// </summary>
public sealed record ExperimentConfig
{
    public required string Name { get; init; }
    /// <summary>The file it was read from, for messages.</summary>
    public required string Source { get; init; }
    /// <summary>sentiment, summarization or instruction: picks the embedded generator and the instruction judge.</summary>
    public required string Task { get; init; }
    public required DatasetSpec Dataset { get; init; }
    public required IReadOnlyList<ModelSpec> Bases { get; init; }
    public required ModelSpec? Tuned { get; init; }
    public required ModelSpec? Untuned { get; init; }
    public required GoldSpec Gold { get; init; }
    /// <summary>The main comparison (Sweep == "") followed by each sweep's grid.</summary>
    public required IReadOnlyList<MethodGroup> Groups { get; init; }
    public required GenerationOptions Generation { get; init; }
    public required IReadOnlyList<long> Seeds { get; init; }
    /// <summary>Prompts searched together in one batch (a kill loses at most the batch in flight).</summary>
    public required int BatchPrompts { get; init; }
    /// <summary>Where the run writes, relative to the working directory unless absolute.</summary>
    public required string Output { get; init; }

    /// <summary>device_map: auto splits every model's decoder layers across all visible GPUs (unless --device names devices); null: one device.</summary>
    public string? DeviceMap { get; init; }

    /// <summary>The reward models that guide a search (guide: {reward-model: REF}), each once.</summary>
    public IReadOnlyList<string> RewardGuides =>
        Groups.SelectMany(g => g.Methods).Where(m => m.IsSearch && m.Guide.Kind == GuideKind.RewardModel).Select(m => m.Guide.RewardModel!).Distinct().ToArray();

    /// <summary>Every distinct (base model, method, seed) to generate, grouped by base model so one large model is loaded at a time.</summary>
    public IReadOnlyList<Cell> Cells()
    {
        var cells = new List<Cell>();
        var seen = new HashSet<string>();
        void Add(Cell cell) { if (seen.Add(cell.Key)) cells.Add(cell); }
        foreach (var group in Groups)
            foreach (var method in group.Methods)
                if (!method.UsesBaseModel)
                    foreach (long seed in Seeds) Add(new Cell(null, method, seed));
        foreach (var model in Bases)
            foreach (var group in Groups.Where(g => g.Bases.Contains(model.Name)))
                foreach (var method in group.Methods.Where(m => m.UsesBaseModel))
                    foreach (long seed in Seeds) Add(new Cell(model.Name, method, seed));
        return cells;
    }
}

/// <summary>
/// Where prompts come from: the task's generator (held-out split), or a file as it is distributed
/// (<see cref="DatasetFormat"/>: our JSONL, IMDB or TL;DR parquet, AlpacaEval's JSON).
/// </summary>
public sealed record DatasetSpec(string? Path, string Split, int Prompts, long Seed, DatasetFormat Format = DatasetFormat.Jsonl, PromptSourceOptions? Options = null);

/// <summary>
/// A model: zoo:NAME (the embedded world), a directory, or a Hugging Face hub id in the local cache; or, for a base
/// model, one behind an OpenAI-compatible server (<see cref="Api"/>; then <see cref="Reference"/> is its fingerprint).
/// </summary>
public sealed record ModelSpec(string Name, string Reference, PromptFormat Template)
{
    public ApiModelOptions? Api { get; init; }
}

/// <summary>
/// The methods one entry of the config asks for: an item of the main comparison (Sweep "") or one sweep's
/// grid, on the listed base models. <see cref="Where"/> is its file:line:column, for errors found later.
/// </summary>
public sealed record MethodGroup(string Sweep, IReadOnlyList<string> Bases, IReadOnlyList<MethodSpec> Methods, string Where);

/// <summary>One unit of generation: a method on a base model (null for the small models sampled alone) with one seed.</summary>
public sealed record Cell(string? BaseModel, MethodSpec Method, long Seed)
{
    public string Key => $"{BaseModel ?? "-"}/{Method.Key}/seed{Seed}";
}
