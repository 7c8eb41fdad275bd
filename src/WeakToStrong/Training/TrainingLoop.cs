using System.Diagnostics;
using System.Globalization;
using CsvHelper;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

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
/// </summary>
public static class TrainingLoop
{
    /// <param name="lossAt">builds the loss of step s (a scalar with a graph to the parameters)</param>
    public static IReadOnlyList<TrainingStep> Run(Module model, TrainingOptions options, Func<int, Tensor> lossAt,
        Action<TrainingStep>? progress = null)
    {
        options.Validate();
        var parameters = model.parameters().Where(p => p.requires_grad).ToArray();
        using var optimizer = optim.AdamW(parameters, options.LearningRate, weight_decay: options.WeightDecay);
        var log = new List<TrainingStep>(options.Steps);
        var clock = Stopwatch.StartNew();
        model.train();
        try
        {
            for (int step = 0; step < options.Steps; step++)
            {
                using var scope = NewDisposeScope();
                double learningRate = options.LearningRateAt(step);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate;
                optimizer.zero_grad();
                var loss = lossAt(step);
                double lossValue = loss.item<float>();
                if (!double.IsFinite(lossValue))
                    throw new InvalidOperationException($"training diverged at step {step}: loss {lossValue}; lower the learning rate");
                loss.backward();
                double gradNorm = TorchSharp.torch.nn.utils.clip_grad_norm_(parameters, options.MaxGradNorm);
                optimizer.step();
                var row = new TrainingStep(step, lossValue, learningRate, gradNorm, clock.Elapsed.TotalSeconds);
                log.Add(row);
                progress?.Invoke(row);
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
