using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using CsvHelper;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Parameter = TorchSharp.Modules.Parameter;

using WeakToStrong.Models;

namespace WeakToStrong.Training;

/// <summary>Optimization settings shared by every trainer (pretraining, SFT, DPO, reward models).</summary>
public sealed record TrainingOptions
{
    public int Steps { get; init; } = 200;
    public int BatchSize { get; init; } = 16;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Linear warm-up steps, then cosine decay to <see cref="FinalLearningRateFraction"/> of the peak.</summary>
    public int WarmupSteps { get; init; } = 20;
    public double FinalLearningRateFraction { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    public ulong Seed { get; init; }
    /// <summary>Where the per-step loss is written as CSV (null: not written).</summary>
    public string? LogCsv { get; init; }

    public void Validate()
    {
        if (Steps <= 0) throw new InvalidInputException($"training steps must be positive, got {Steps}");
        if (BatchSize <= 0) throw new InvalidInputException($"batch size must be positive, got {BatchSize}");
        if (!(LearningRate > 0)) throw new InvalidInputException($"learning rate must be positive, got {LearningRate}");
        if (WarmupSteps < 0) throw new InvalidInputException($"warm-up steps must be ≥ 0, got {WarmupSteps}");
        if (MaxGradNorm <= 0) throw new InvalidInputException($"max grad norm must be positive, got {MaxGradNorm}");
    }

    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps) return LearningRate * (step + 1) / WarmupSteps;
        double progress = Steps <= WarmupSteps ? 1 : (step - WarmupSteps) / (double)(Steps - WarmupSteps);
        double floor = FinalLearningRateFraction;
        return LearningRate * (floor + (1 - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}

/// <summary>One logged optimizer step.</summary>
[CsvRecord]
public sealed partial record TrainingStep(int Step, double Loss, double LearningRate, double GradNorm, double Seconds);

/// <summary>
/// The optimizer loop every trainer shares: AdamW, warm-up + cosine schedule, gradient clipping, a CSV
/// log of every step and a progress callback. Each step's tensors live in their own dispose scope.
/// A model in bfloat16 or float16 trains on float32 master weights (see <see cref="MasterWeights"/>).
/// </summary>
public static class TrainingLoop
{
    /// <summary>
    /// Positions a trainer puts through one forward and backward pass at most: a longer batch goes through in consecutive
    /// parts (micro-batches) whose gradients add up to the batch's. Activations, not weights, fill a tiny model's memory:
    /// the summarization base-large's batches of 16 × 256 tokens held 540 MB in one pass; the zoo trains two models at once.
    /// </summary>
    public const int MaxPartTokens = 2048;

    /// <param name="lossAt">builds the loss of step s (a scalar with a graph to the parameters)</param>
    public static IReadOnlyList<TrainingStep> Run(Module model, TrainingOptions options, Func<int, Tensor> lossAt,
        Action<TrainingStep>? progress = null) =>
        Run(model, options, step => [lossAt(step)], progress);

    /// <param name="lossPartsAt">yields the loss of step s in parts whose sum is the loss (micro-batches): each part is
    /// back-propagated and its tensors freed before the next is built, so a step's memory is that of its largest part</param>
    public static IReadOnlyList<TrainingStep> Run(Module model, TrainingOptions options, Func<int, IEnumerable<Tensor>> lossPartsAt,
        Action<TrainingStep>? progress = null)
    {
        options.Validate();
        using var master = new MasterWeights(model.parameters().Where(p => p.requires_grad).ToArray());
        using var optimizer = new AdamW(master.Parameters, options.LearningRate, options.WeightDecay);
        var log = new List<TrainingStep>(options.Steps);
        var clock = Stopwatch.StartNew();
        model.train();
        try
        {
            for (int step = 0; step < options.Steps; step++)
            {
                using var scope = NewDisposeScope();
                double learningRate = options.LearningRateAt(step);
                optimizer.LearningRate = learningRate;
                optimizer.ZeroGrad();
                model.zero_grad();
                double lossValue = 0;
                using (var parts = lossPartsAt(step).GetEnumerator())
                    while (true)
                    {
                        using var partScope = NewDisposeScope();
                        if (!parts.MoveNext()) break;
                        double partValue = parts.Current.to(ScalarType.Float32).item<float>();
                        if (!double.IsFinite(partValue))
                            throw new InvalidOperationException($"training diverged at step {step}: loss {partValue}; lower the learning rate");
                        master.Backward(parts.Current);
                        lossValue += partValue;
                    }
                double gradNorm = TorchSharp.torch.nn.utils.clip_grad_norm_(master.Parameters, options.MaxGradNorm);
                optimizer.Step();
                master.EndStep();
                var row = new TrainingStep(step, lossValue, learningRate, gradNorm, clock.Elapsed.TotalSeconds);
                log.Add(row);
                progress?.Invoke(row);
                // Native memory that only finalizers free (not tensors: the dispose scopes hold every one) piled up by about
                // 2.5 MB a step until the runtime's first collection (summarization base-large: 607 MB after 30 steps, and
                // rising; with this, flat at 554 MB). A young-generation collection per step costs well under a millisecond.
                GC.Collect(0);
            }
        }
        finally
        {
            model.eval();
        }
        if (options.LogCsv is string path) WriteCsv(path, log);
        return log;
    }

    static void WriteCsv(string path, IReadOnlyList<TrainingStep> log)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var writer = new StreamWriter(path);
        using var csv = CsvWriter.Create(writer, new CsvWriterOptions { FormatProvider = CultureInfo.InvariantCulture }, leaveOpen: false);
        csv.WriteRecords(log);
    }
}

/// <summary>
/// Mixed-precision training as PyTorch's AMP recipes do it: the model computes in its own dtype, AdamW keeps
/// and updates float32 copies of the weights (an update of 1e-4 on a bfloat16 weight near 1, whose spacing
/// is 2⁻⁸, would round away), and the updated copies are written back after every step. float16 also scales
/// the loss so that small gradients do not flush to zero, dynamically as torch.amp.GradScaler (start at 2¹⁶,
/// halve on overflow, double after 2000 clean steps) except that an overflow does not skip the step: the
/// graph is kept through the backward pass and the step back-propagates again at half the scale, so float16
/// training takes the same steps as float32. A float32 model trains on its own parameters, unchanged.
/// </summary>
public sealed class MasterWeights : IDisposable
{
    const double InitialLossScale = 65536;
    readonly Parameter[] modelParameters;
    readonly bool separate, scaled;
    readonly int growthInterval;
    double lossScale;
    int cleanSteps;

    /// <param name="growthInterval">clean steps (not parts: a step may back-propagate several) after which the loss scale doubles</param>
    public MasterWeights(Parameter[] parameters, int growthInterval = 2000)
    {
        modelParameters = parameters;
        this.growthInterval = growthInterval;
        separate = parameters.Any(p => p.dtype != ScalarType.Float32);
        scaled = parameters.Any(p => p.dtype == ScalarType.Float16);
        lossScale = scaled ? InitialLossScale : 1;
        using var noGrad = no_grad();
        Parameters = separate ? parameters.Select(p => new Parameter(p.detach().to(ScalarType.Float32).clone())).ToArray() : parameters;
    }

    /// <summary>What the optimizer updates: float32 copies, or the model's own parameters when they are float32.</summary>
    public Parameter[] Parameters { get; }

    /// <summary>The loss scale float16 training uses now (1 otherwise).</summary>
    public double LossScale => lossScale;

    /// <summary>
    /// Back-propagates the loss (or one part of it) and adds the unscaled float32 gradients to those on
    /// <see cref="Parameters"/>; the optimizer zeroes them at each step.
    /// </summary>
    public void Backward(Tensor loss)
    {
        if (!separate)
        {
            loss.backward();
            return;
        }
        while (true)
        {
            using (var scale = lossScale.ToScalar()) loss.mul(scale).backward(retain_graph: scaled);
            using var inverse = (1 / lossScale).ToScalar();
            var gradients = new Tensor?[modelParameters.Length];
            for (int i = 0; i < modelParameters.Length; i++)
            {
                using var gradient = modelParameters[i].grad;
                if (gradient is null) continue;
                gradients[i] = gradient.to(ScalarType.Float32).mul_(inverse);
                gradient.zero_();
            }
            if (scaled && !AreFinite(gradients))
            {
                foreach (var gradient in gradients) gradient?.Dispose();
                if (lossScale <= 1)
                    throw new InvalidOperationException("float16 gradients overflow even with no loss scaling; train with --dtype bfloat16 or float32");
                (lossScale, cleanSteps) = (lossScale / 2, 0);
                continue;
            }
            for (int i = 0; i < gradients.Length; i++)
            {
                if (gradients[i] is not Tensor gradient) continue;
                using var accumulated = Parameters[i].grad;
                if (accumulated is null) Parameters[i].grad = gradient;
                else { accumulated.add_(gradient, Scalars.One); gradient.Dispose(); }
            }
            return;
        }
    }

    static bool AreFinite(IEnumerable<Tensor?> gradients)
    {
        var present = gradients.OfType<Tensor>().ToArray();
        return present.Length == 0 || stack(present.Select(g => g.abs().max()).ToArray()).isfinite().all().item<bool>();
    }

    /// <summary>
    /// After the optimizer's step: writes the updated float32 weights back into the model's dtype, and counts the step
    /// toward the loss scale's growth (once per step, however many parts it back-propagated).
    /// </summary>
    public void EndStep()
    {
        if (scaled && ++cleanSteps == growthInterval) (lossScale, cleanSteps) = (lossScale * 2, 0);
        if (!separate) return;
        using var noGrad = no_grad();
        for (int i = 0; i < modelParameters.Length; i++) modelParameters[i].copy_(Parameters[i]);
    }

    public void Dispose()
    {
        if (!separate) return;
        foreach (var parameter in Parameters) parameter.Dispose();
    }
}
