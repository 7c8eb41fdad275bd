using WeakToStrong.Evaluation;
using WeakToStrong.Models;
using WeakToStrong.Models.Api;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.World;

namespace WeakToStrong.Experiments;

/// <summary>
/// The models a run has loaded: the small pair, the gold evaluator and the guiding reward models for the whole
/// run, the current base model until a cell needs another (cells come grouped by base model).
/// </summary>
/// <param name="apiCache">where answers of a base model behind an API are kept (the run directory's cache, this shard's file)</param>
internal sealed class LoadedModels(ExperimentConfig config, IReadOnlyDictionary<string, ModelFingerprint> models, ModelOptions options,
    Func<ResponseCache>? apiCache = null) : IDisposable
{
    readonly Lazy<PromptedModel?> tuned = new(() => config.Tuned is { } t ? Load(t, models["tuned"].Path, options) : null);
    readonly Lazy<PromptedModel?> untuned = new(() => config.Untuned is { } u ? Load(u, models["untuned"].Path, options) : null);
    readonly Lazy<IGoldEvaluator> gold = new(() => Gold.Open(config.Gold, models.TryGetValue("gold", out var g) ? g.Path : null, options));
    readonly Dictionary<string, RewardModel> rewardGuides = [];
    PromptedModel? large;
    (string Name, CompletionsClient Client, ApiChunkSampler Sampler)? largeApi;
    ResponseCache? cache;

    /// <summary>The key of a guiding reward model among the run's resolved models.</summary>
    public static string RewardGuideRole(string reference) => "guide:" + reference;

    static PromptedModel Load(ModelSpec spec, string path, ModelOptions options) =>
        new(spec.Name, PretrainedModels.LoadCausalLM(path, options), HfTokenizer.Load(path), spec.Template.Resolve(path));

    public CellGenerator For(Cell cell)
    {
        if (cell.BaseModel is string name && large?.Name != name && largeApi?.Name != name)
        {
            if (large is not null)
            {
                large.Model.Dispose();
                large = null;
                NativeMemory.ReturnFreedMemory(); // the next base model's caches have other shapes
            }
            largeApi?.Client.Dispose();
            largeApi = null;
            var spec = config.Bases.Single(b => b.Name == name);
            if (spec.Api is { } api)
            {
                cache ??= apiCache?.Invoke();
                var client = new CompletionsClient(api, cache, $"{config.Source}: models.bases ({name}).api");
                largeApi = (name, client, new ApiChunkSampler(client, new PromptTemplate(spec.Template.Literal!)));
            }
            else large = Load(spec, models["base:" + name].Path, options);
        }
        RewardModel? rewardGuide = null;
        if (cell.Method.IsSearch && cell.Method.Guide is { Kind: GuideKind.RewardModel, RewardModel: string reference }
            && !rewardGuides.TryGetValue(reference, out rewardGuide))
            rewardGuides[reference] = rewardGuide = RewardModel.Load(models[RewardGuideRole(reference)].Path, options);
        var onApi = cell.BaseModel is not null && largeApi?.Name == cell.BaseModel;
        return new CellGenerator(config, cell, new MethodModels(onApi ? null : large, tuned.Value, untuned.Value, rewardGuide, onApi ? largeApi!.Value.Sampler : null), gold.Value);
    }

    public void Dispose()
    {
        large?.Model.Dispose();
        largeApi?.Client.Dispose();
        cache?.Dispose();
        if (tuned.IsValueCreated) tuned.Value?.Model.Dispose();
        if (untuned.IsValueCreated) untuned.Value?.Model.Dispose();
        if (gold.IsValueCreated) gold.Value.Dispose();
        foreach (var reward in rewardGuides.Values) reward.Dispose();
    }
}
