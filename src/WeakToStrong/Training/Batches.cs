using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Training;

/// <summary>
/// Sequences right-padded into one batch: input ids [B, T], attention mask [B, T], and a weight per position
/// saying which tokens are trained on (1 for a token the loss predicts, 0 for prompt and padding).
/// </summary>
public sealed record PaddedBatch(Tensor InputIds, Tensor AttentionMask, Tensor TargetWeights)
{
    /// <summary>Each sequence is prompt + target; only target tokens carry loss.</summary>
    public static PaddedBatch Build(IReadOnlyList<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Target)> sequences, Device device)
    {
        int length = sequences.Max(s => s.Prompt.Count + s.Target.Count);
        var ids = new long[sequences.Count * length];
        var mask = new long[sequences.Count * length];
        var weights = new float[sequences.Count * length];
        for (int row = 0; row < sequences.Count; row++)
        {
            var (prompt, target) = sequences[row];
            int at = row * length;
            for (int i = 0; i < prompt.Count; i++, at++) { ids[at] = prompt[i]; mask[at] = 1; }
            for (int i = 0; i < target.Count; i++, at++) { ids[at] = target[i]; mask[at] = 1; weights[at] = 1; }
        }
        return new PaddedBatch(tensor(ids, [sequences.Count, length], device: device), AttentionMasks.FromHost(mask, sequences.Count, length, device),
            tensor(weights, [sequences.Count, length], device: device));
    }

    /// <summary>Plain sequences (classifier inputs), no target weights.</summary>
    public static PaddedBatch Build(IReadOnlyList<IReadOnlyList<int>> sequences, Device device) =>
        Build(sequences.Select(s => ((IReadOnlyList<int>)s, (IReadOnlyList<int>)Array.Empty<int>())).ToArray(), device);

    /// <summary>
    /// Σ log p(target tokens) per row [B] under a causal LM's logits [B, T, V] for this batch
    /// (position t−1 predicts token t), in float32 whatever the model's dtype (a bfloat16 log-softmax
    /// over a vocabulary loses about two decimal digits).
    /// </summary>
    public Tensor TargetLogprobs(Tensor logits)
    {
        long length = InputIds.shape[1];
        var predicted = logits.narrow(1, 0, length - 1).to(ScalarType.Float32).log_softmax(-1);
        var next = InputIds.narrow(1, 1, length - 1).unsqueeze(-1);
        var tokenLogprobs = predicted.gather(-1, next).squeeze(-1);
        return (tokenLogprobs * TargetWeights.narrow(1, 1, length - 1)).sum(-1);
    }
}
