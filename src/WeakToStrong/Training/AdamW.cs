using TorchSharp;
using WeakToStrong.Models;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace WeakToStrong.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter 2019) computed exactly as TorchSharp's optim.AdamW computes it (β = 0.9, 0.999, ε = 1e-8,
/// no AMSGrad), op for op, so training results are unchanged; but every Scalar it passes is owned (see Models.Scalars),
/// where TorchSharp 0.107's own step converts six C# numbers per parameter into temporaries.
/// </summary>
public sealed class AdamW : IDisposable
{
    const double Beta1 = 0.9, Beta2 = 0.999;
    static readonly Scalar Beta1Scalar = Beta1.ToScalar(), Beta2Scalar = Beta2.ToScalar(),
        OneMinusBeta1 = (1 - Beta1).ToScalar(), OneMinusBeta2 = (1 - Beta2).ToScalar(), Epsilon = 1e-8.ToScalar();
    readonly Parameter[] parameters;
    readonly Tensor[] averages, squaredAverages;
    readonly double weightDecay;
    long steps;

    public AdamW(Parameter[] parameters, double learningRate, double weightDecay)
    {
        this.parameters = parameters;
        this.weightDecay = weightDecay;
        LearningRate = learningRate;
        averages = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        squaredAverages = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    public double LearningRate { get; set; }

    /// <summary>Zeroes the gradients in place, as TorchSharp's optimizers do.</summary>
    public void ZeroGrad()
    {
        foreach (var parameter in parameters)
        {
            using var gradient = parameter.grad;
            gradient?.zero_();
        }
    }

    public void Step()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        steps++;
        double biasCorrection1 = 1 - Math.Pow(Beta1, steps), biasCorrection2 = 1 - Math.Pow(Beta2, steps);
        using Scalar decay = (1 - LearningRate * weightDecay).ToScalar(), biasRoot = Math.Sqrt(biasCorrection2).ToScalar(),
            negativeStepSize = (-(LearningRate / biasCorrection1)).ToScalar();
        for (int i = 0; i < parameters.Length; i++)
        {
            var gradient = parameters[i].grad;
            if (gradient is null) continue;
            parameters[i].mul_(decay);
            averages[i].mul_(Beta1Scalar).add_(gradient, OneMinusBeta1);
            squaredAverages[i].mul_(Beta2Scalar).addcmul_(gradient, gradient, OneMinusBeta2);
            var denominator = squaredAverages[i].sqrt().div(biasRoot).add_(Epsilon, Scalars.One);
            parameters[i].addcdiv_(averages[i], denominator, negativeStepSize);
        }
    }

    public void Dispose()
    {
        foreach (var tensor in averages.Concat(squaredAverages)) tensor.Dispose();
    }
}
