using WeakToStrong.Evaluation;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.World;

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
