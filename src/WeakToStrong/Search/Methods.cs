using System.Text.RegularExpressions;
using WeakToStrong.Evaluation;

namespace WeakToStrong.Search;

/// <summary>The methods of the paper's comparisons: the large model alone, the small models alone, and the searches.</summary>
public enum MethodKind { Base, SmallTuned, SmallUntuned, BestOfN, Eft, Cbs }

public enum GuideKind { ImplicitValue, RewardModel, Likelihood }

/// <summary>
/// What scores the states of BoN and CBS: the paper's implicit value log π_tuned − log π_untuned (the default), a
/// reward model read through a template with {raw_prompt} and {response}, or the large model's own
/// log-likelihood (beam search without guidance).
/// </summary>
public sealed partial record Guide(GuideKind Kind, string? RewardModel = null, string RewardTemplate = Guide.DefaultRewardTemplate)
{
    public const string DefaultRewardTemplate = "{raw_prompt}{response}";

    public static Guide ImplicitValue { get; } = new(GuideKind.ImplicitValue);
    public static Guide Likelihood { get; } = new(GuideKind.Likelihood);

    /// <summary>The names a config or flag uses: implicit-value, likelihood, reward-model.</summary>
    public string Name => Kind switch { GuideKind.ImplicitValue => "implicit-value", GuideKind.Likelihood => "likelihood", _ => "reward-model" };

    /// <summary>Appended to a method's key and label; empty for the default.</summary>
    public string KeySuffix => Kind switch
    {
        GuideKind.ImplicitValue => "",
        GuideKind.Likelihood => "-likelihood",
        _ => "-rm-" + UnsafeKeyCharacters().Replace(RewardModel ?? "", "_"),
    };

    public string LabelSuffix => Kind switch { GuideKind.ImplicitValue => "", GuideKind.Likelihood => " LL", _ => " RM" };

    /// <summary>implicit-value, likelihood or reward-model:REF (the CLI's spelling).</summary>
    public static Guide Parse(string text, string source)
    {
        const string rewardPrefix = "reward-model:";
        if (text == "implicit-value") return ImplicitValue;
        if (text == "likelihood") return Likelihood;
        if (text.StartsWith(rewardPrefix, StringComparison.Ordinal) && text.Length > rewardPrefix.Length) return new(GuideKind.RewardModel, text[rewardPrefix.Length..]);
        throw new InvalidInputException($"{source}: expected implicit-value, likelihood or reward-model:REF, got \"{text}\"");
    }

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex UnsafeKeyCharacters();
}

/// <summary>
/// A method with its parameters: one row of the paper's tables. Best-of-N is CBS(1, N, ∞) with the same guide;
/// Base samples the large model alone. <see cref="Finished"/> and <see cref="Retokenize"/> default to the reference
/// implementation's behaviour; the other values are our options.
/// </summary>
public sealed record MethodSpec(MethodKind Kind, int? W = null, int? K = null, int? L = null, int? N = null, double? Beta = null,
    Guide? Guide = null, FinishedStates Finished = FinishedStates.CompeteAll, bool Retokenize = true)
{
    /// <summary>The guide of BoN and CBS (the implicit value unless the config says otherwise).</summary>
    public Guide Guide { get; init; } = Guide ?? Guide.ImplicitValue;

    /// <summary>The names used in configs and on the command line, one per kind.</summary>
    public static IReadOnlyDictionary<string, MethodKind> Names { get; } = new Dictionary<string, MethodKind>
    {
        ["base"] = MethodKind.Base, ["small-tuned"] = MethodKind.SmallTuned, ["small-untuned"] = MethodKind.SmallUntuned,
        ["bon"] = MethodKind.BestOfN, ["eft"] = MethodKind.Eft, ["cbs"] = MethodKind.Cbs,
    };

    public string Name => Names.First(n => n.Value == Kind).Key;

    public bool IsSearch => Kind is MethodKind.BestOfN or MethodKind.Cbs;

    public string Label => Kind switch
    {
        MethodKind.Base => "Base", MethodKind.SmallTuned => "Small tuned", MethodKind.SmallUntuned => "Small untuned",
        MethodKind.BestOfN => $"BoN({N})", MethodKind.Eft => $"EFT(β={Beta:0.###})", _ => $"CBS({W},{K},{L?.ToString() ?? "∞"})",
    } + (IsSearch ? Guide.LabelSuffix + (Finished == FinishedStates.OneSlot ? " one-slot" : "") + (Retokenize ? "" : " ids") : "");

    /// <summary>File- and key-safe identity, e.g. cbs-w4-k4-l5; options other than the defaults add a suffix.</summary>
    public string Key => Kind switch
    {
        MethodKind.BestOfN => $"bon-n{N}", MethodKind.Eft => $"eft-beta{Beta:0.###}",
        MethodKind.Cbs => $"cbs-w{W}-k{K}-l{L?.ToString() ?? "inf"}", _ => Name,
    } + (IsSearch ? Guide.KeySuffix + (Finished == FinishedStates.OneSlot ? "-oneslot" : "") + (Retokenize ? "" : "-ids") : "");

    public bool UsesBaseModel => Kind is not (MethodKind.SmallTuned or MethodKind.SmallUntuned);

    /// <summary>Whether the method needs the small tuned/untuned pair (as its guide, or as the model sampled).</summary>
    public bool NeedsSmallPair => Kind is MethodKind.SmallTuned or MethodKind.SmallUntuned or MethodKind.Eft
        || IsSearch && Guide.Kind == GuideKind.ImplicitValue;

    public BeamSearchOptions Beam => Kind switch
    {
        MethodKind.Cbs => new BeamSearchOptions(W!.Value, K!.Value, L, Finished),
        MethodKind.BestOfN => BeamSearchOptions.BestOfN(N!.Value) with { Finished = Finished },
        _ => BeamSearchOptions.Sampling,
    };
}

/// <summary>The models a method may use; which ones it needs is <see cref="MethodSpec.NeedsSmallPair"/> and its guide.</summary>
/// <param name="LargeApi">the large model behind an OpenAI-compatible API, in place of <paramref name="Large"/> (Base, BoN and CBS only)</param>
public sealed record MethodModels(PromptedModel? Large, PromptedModel? Tuned, PromptedModel? Untuned, RewardModel? RewardGuide = null, ApiChunkSampler? LargeApi = null);

/// <summary>
/// The one place a method becomes a search: `wts search` and experiment cells both call <see cref="Run"/>
/// (search-and-learn's table of approaches, in C#).
/// </summary>
public static class Methods
{
    public static IReadOnlyList<SearchOutput> Run(MethodSpec method, MethodModels models, GenerationOptions generation, IReadOnlyList<SearchPrompt> prompts)
    {
        if (OnApi(method, models) is { } api)
            return new ChunkLevelBeamSearch(api, method.IsSearch ? GuideOf(method, models) : null, method.IsSearch ? method.Beam : BeamSearchOptions.Sampling, generation).Run(prompts);
        var sampler = Sampler(method, models);
        return method.Kind switch
        {
            MethodKind.Eft => new EmulatedFineTuning(sampler, Need(models.Tuned, method, "tuned"), Need(models.Untuned, method, "untuned"), method.Beta!.Value, generation).Run(prompts),
            MethodKind.Cbs or MethodKind.BestOfN => new ChunkLevelBeamSearch(sampler, GuideOf(method, models), method.Beam, generation).Run(prompts),
            _ => new ChunkLevelBeamSearch(sampler, null, BeamSearchOptions.Sampling, generation).Run(prompts),
        };
    }

    /// <summary>The model whose tokens the response is made of.</summary>
    public static PromptedModel Sampler(MethodSpec method, MethodModels models) => method.Kind switch
    {
        MethodKind.SmallTuned => Need(models.Tuned, method, "tuned"),
        MethodKind.SmallUntuned => Need(models.Untuned, method, "untuned"),
        _ => Need(models.Large, method, "large"),
    };

    /// <summary>The scorer that guides BoN and CBS.</summary>
    public static IScorer GuideOf(MethodSpec method, MethodModels models)
    {
        if (OnApi(method, models) is not null)
            return method.Guide.Kind == GuideKind.RewardModel ? new RewardModelScorer(models.RewardGuide ?? throw new InvalidOperationException($"{method.Label}: its reward model was not loaded"), method.Guide.RewardTemplate)
                // Text-level: the small pair re-tokenizes the response text (the large model's tokens are never seen).
                : LogProbScorer.ImplicitValue(Need(models.Tuned, method, "tuned"), Need(models.Tuned, method, "tuned"), Need(models.Untuned, method, "untuned"));
        var large = Sampler(method, models);
        return method.Guide.Kind switch
        {
            GuideKind.Likelihood => LogProbScorer.LogLikelihood(large, method.Retokenize),
            GuideKind.RewardModel => new RewardModelScorer(models.RewardGuide ?? throw new InvalidOperationException($"{method.Label}: its reward model was not loaded"), method.Guide.RewardTemplate),
            _ => LogProbScorer.ImplicitValue(large, Need(models.Tuned, method, "tuned"), Need(models.Untuned, method, "untuned"), method.Retokenize),
        };
    }

    /// <summary>
    /// The implicit value of a method's answer, whatever chose it, scored as the reference implementation scores
    /// (so methods compare on one scale); null without the small pair.
    /// </summary>
    public static double? ImplicitValueOf(MethodSpec method, MethodModels models, SearchOutput output, IReadOnlyList<string> stopStrings)
    {
        if (models.Tuned is null || models.Untuned is null) return null;
        if (OnApi(method, models) is not null)
        {
            // Only the text is known: score it as `wts score` does (the maximum length unknown until tokenized).
            using var session = LogProbScorer.ImplicitValue(models.Tuned, models.Tuned, models.Untuned).Begin([output.Prompt.Text], rowsPerPrompt: 1, maxNewTokens: 0, updates: 1);
            return session.Score([Response.FromText(output.Best.Text, output.Best.Finish)])[0];
        }
        var sampler = Sampler(method, models);
        return Scoring.ScoreFinal(LogProbScorer.ImplicitValue(sampler, models.Tuned, models.Untuned), output.Prompt.Text, output.Best, sampler, stopStrings);
    }

    /// <summary>The API sampler when the method runs on a large model behind an API; refuses what needs its logits.</summary>
    static ApiChunkSampler? OnApi(MethodSpec method, MethodModels models)
    {
        if (models.LargeApi is not { } api || !method.UsesBaseModel) return null;
        if (method.Kind == MethodKind.Eft || method.IsSearch && method.Guide.Kind == GuideKind.Likelihood)
            throw new InvalidInputException($"{method.Label} needs the large model's token distribution, which {api.Name} behind an API does not give; use cbs or bon with the implicit value or a reward model");
        if (method.IsSearch && !method.Retokenize)
            throw new InvalidInputException($"{method.Label}: retokenize: false scores sampled token ids, which {api.Name} behind an API does not return");
        return api;
    }

    static PromptedModel Need(PromptedModel? model, MethodSpec method, string role) =>
        model ?? throw new InvalidInputException($"{method.Label} needs the {role} model");
}
