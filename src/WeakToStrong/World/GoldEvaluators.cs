using WeakToStrong.Evaluation;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.World;

/// <summary>
/// The gold evaluator: the instruction task's judge, or a reward model / classifier reading the template (a format with
/// {raw_prompt} and {response}, or <c>chat</c>: its own chat template over a user and an assistant turn).
/// </summary>
public sealed record GoldSpec(string Reference, string Template)
{
    public const string InstructionJudge = "instruction-judge";
    public const string PromptPlaceholder = "{raw_prompt}", ResponsePlaceholder = "{response}";
    /// <summary>The prompt followed by the response (no chat template).</summary>
    public const string DefaultTemplate = PromptPlaceholder + ResponsePlaceholder;
    public bool IsInstructionJudge => Reference == InstructionJudge;
    public static GoldSpec WithDefaultTemplate(string reference) => new(reference, DefaultTemplate);
    public bool UsesChatTemplate => Template == PromptFormat.ChatName;

    /// <summary>The format with {raw_prompt} and {response} for the model in <paramref name="modelDirectory"/>.</summary>
    public string FormatFor(string modelDirectory) => !UsesChatTemplate ? Template
        : ChatTemplate.Load(modelDirectory).Render([new ChatMessage("user", PromptPlaceholder), new ChatMessage("assistant", ResponsePlaceholder)], addGenerationPrompt: false);

    public static string Apply(string format, string prompt, string response) =>
        format.Replace(PromptPlaceholder, prompt, StringComparison.Ordinal).Replace(ResponsePlaceholder, response, StringComparison.Ordinal);
}

/// <summary>Opening a gold evaluator, and scoring with it as every report does.</summary>
public static class Gold
{
    /// <summary>The gold evaluator a spec names; <paramref name="path"/> is its resolved directory (none for the instruction judge).</summary>
    public static IGoldEvaluator Open(GoldSpec gold, string? path, ModelOptions options, Action<string>? warn = null)
    {
        if (gold.IsInstructionJudge) return new InstructionJudgeGold();
        ArgumentNullException.ThrowIfNull(path);
        string format = gold.FormatFor(path);
        // A chat template writes the model's special tokens itself (Llama 3's starts with <|begin_of_text|>); adding the
        // tokenizer's on top would give the gold a second BOS that apply_chat_template(tokenize=True) never gives.
        var rewardModel = RewardModel.Load(path, options, warn, addSpecialTokens: !gold.UsesChatTemplate);
        return new RewardModelGold(gold.Reference, rewardModel, (prompt, response) => GoldSpec.Apply(format, prompt, response));
    }

    /// <summary>Gold scores computed one response at a time: batch-independent, so a sharded run scores as a whole one.</summary>
    public static double[] ScoreAlone(IGoldEvaluator gold, IReadOnlyList<string> prompts, IReadOnlyList<string> responses) =>
        prompts.Select((p, i) => gold.Score([p], [responses[i]])[0]).ToArray();

    /// <summary>Instruction following against the reference policy's output: 1 win, 0.5 tie, 0 loss.</summary>
    public static double Win(string prompt, string response, string reference) =>
        InstructionTask.Compare(InstructionTask.InstructionOf(prompt), response, reference) switch
        {
            InstructionTask.PairwiseOutcome.Win => 1.0,
            InstructionTask.PairwiseOutcome.Tie => 0.5,
            _ => 0.0,
        };
}

/// <summary>The task's gold judgement of responses: what experiments report and what labels DPO pairs.</summary>
public interface IGoldEvaluator : IDisposable
{
    string Name { get; }

    /// <summary>One score per (prompt, response); higher is better.</summary>
    double[] Score(IReadOnlyList<string> prompts, IReadOnlyList<string> responses);
}

/// <summary>
/// A trained reward model or classifier reading prompt + response (distilbert-imdb's role, the TL;DR gold RM's
/// role), or whatever text <paramref name="format"/> makes of the pair (a chat template).
/// </summary>
public sealed class RewardModelGold(string name, RewardModel rewardModel, Func<string, string, string>? format = null) : IGoldEvaluator
{
    public string Name => name;

    public double[] Score(IReadOnlyList<string> prompts, IReadOnlyList<string> responses) =>
        rewardModel.Score(prompts.Zip(responses, format ?? ((p, r) => p + r)).ToArray());

    public void Dispose() => rewardModel.Dispose();
}

/// <summary>The instruction task's rule-based judge (correct answer, requested format).</summary>
public sealed class InstructionJudgeGold : IGoldEvaluator
{
    public string Name => "instruction judge";

    public double[] Score(IReadOnlyList<string> prompts, IReadOnlyList<string> responses) =>
        prompts.Zip(responses, (p, r) => InstructionTask.Judge(InstructionTask.InstructionOf(p), r)).ToArray();

    public void Dispose() { }
}
