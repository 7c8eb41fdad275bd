using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;
using Parameter = TorchSharp.Modules.Parameter;

namespace WeakToStrong.Models;

// Building blocks with Hugging Face's parameter names ("weight", "bias"). Parameters are created
// uninitialized: a loaded checkpoint overwrites them, and training calls InitializeWeights explicitly,
// so opening a large model never pays for a random initialization it throws away.

/// <summary>
/// Where a weight [rows, cols] that multiplies activations as x·Wᵀ keeps its values. On CPU, a projection onto
/// the vocabulary (an LM head, or an embedding tied to one) runs up to 1.6× faster when W is stored as
/// contiguous [cols, rows] and seen through a transposed view (measured: 50257-wide heads, TorchSharp 0.107).
/// Shape, names and values stay Hugging Face's; only the memory layout differs.
/// </summary>
internal static class WeightLayout
{
    public static Tensor Empty(long rows, long cols, ModelOptions options, bool projectsOntoVocabulary) =>
        projectsOntoVocabulary && options.Device.type == DeviceType.CPU
            ? empty(cols, rows, dtype: options.DType, device: options.Device).t()
            : empty(rows, cols, dtype: options.DType, device: options.Device);
}

/// <summary>torch.nn.Linear: weight [out, in].</summary>
public sealed class Linear : Module
{
    public readonly Parameter weight;
    public readonly Parameter? bias;

    public Linear(long inFeatures, long outFeatures, bool hasBias, ModelOptions options, bool projectsOntoVocabulary = false) : base(nameof(Linear))
    {
        weight = new Parameter(WeightLayout.Empty(outFeatures, inFeatures, options, projectsOntoVocabulary));
        register_parameter("weight", weight);
        if (hasBias)
        {
            bias = new Parameter(empty(outFeatures, dtype: options.DType, device: options.Device));
            register_parameter("bias", bias);
        }
    }

    public Tensor forward(Tensor input) => F.linear(input, weight, bias);
}

/// <summary>GPT-2's Conv1D: a linear layer whose weight is stored transposed, [in, out].</summary>
public sealed class Conv1D : Module
{
    public readonly Parameter weight;
    public readonly Parameter bias;

    public Conv1D(long outFeatures, long inFeatures, ModelOptions options) : base(nameof(Conv1D))
    {
        weight = new Parameter(empty(inFeatures, outFeatures, dtype: options.DType, device: options.Device));
        bias = new Parameter(empty(outFeatures, dtype: options.DType, device: options.Device));
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }

    public Tensor forward(Tensor input)
    {
        var shape = input.shape.ToArray();
        shape[^1] = weight.shape[1];
        return bias.addmm(input.reshape(-1, input.shape[^1]), weight).view(shape);
    }
}

public sealed class LayerNorm : Module
{
    public readonly Parameter weight;
    public readonly Parameter bias;
    readonly double eps;

    public LayerNorm(long size, double eps, ModelOptions options) : base(nameof(LayerNorm))
    {
        this.eps = eps;
        weight = new Parameter(empty(size, dtype: options.DType, device: options.Device));
        bias = new Parameter(empty(size, dtype: options.DType, device: options.Device));
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }

    public double Epsilon => eps;

    public Tensor forward(Tensor input) => F.layer_norm(input, [weight.shape[0]], weight, bias, eps);
}

/// <summary>LlamaRMSNorm: normalizes in fp32, then scales in the model dtype.</summary>
public sealed class RmsNorm : Module
{
    public readonly Parameter weight;
    readonly double eps;
    readonly Scalar epsilon; // owned: see Scalars

    public RmsNorm(long size, double eps, ModelOptions options) : base(nameof(RmsNorm))
    {
        this.eps = eps;
        epsilon = eps.ToScalar();
        weight = new Parameter(empty(size, dtype: options.DType, device: options.Device));
        register_parameter("weight", weight);
    }

    public double Epsilon => eps;

    public Tensor forward(Tensor input)
    {
        var inputType = input.dtype;
        var x = input.to(ScalarType.Float32);
        var variance = x.pow(Scalars.Two).mean([-1L], keepdim: true);
        x = x * variance.add(epsilon, Scalars.One).rsqrt();
        return weight * x.to(inputType);
    }
}

public sealed class Embedding : Module
{
    public readonly Parameter weight;

    /// <param name="tiedToLmHead">the same matrix is the output projection (tie_word_embeddings)</param>
    public Embedding(long count, long size, ModelOptions options, bool tiedToLmHead = false) : base(nameof(Embedding))
    {
        weight = new Parameter(WeightLayout.Empty(count, size, options, tiedToLmHead));
        register_parameter("weight", weight);
    }

    public Tensor forward(Tensor ids) => weight.index_select(0, ids.reshape(-1)).view([.. ids.shape, weight.shape[1]]);
}

public static class Activations
{
    /// <summary>The activation named by a config's activation_function / hidden_act / activation.</summary>
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" => F.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => F.gelu(x),
        "relu" => F.relu(x),
        "silu" => F.silu(x),
        _ => throw new InvalidInputException($"unsupported activation \"{name}\""),
    };
}

/// <summary>
/// Runs a decoder (or encoder) layer in its own dispose scope, as PyTorch frees each layer's intermediates
/// when the layer returns: only the output hidden state leaves it, and the input hidden state is released
/// (autograd keeps its own reference when training). Without this, every intermediate of every layer would
/// live until the whole forward returns.
/// </summary>
internal static class LayerScope
{
    public static Tensor Run(Tensor hidden, Func<Tensor, Tensor> layer)
    {
        Tensor output;
        using (var scope = NewDisposeScope())
            output = layer(hidden).MoveToOuterDisposeScope();
        hidden.Dispose();
        return output;
    }
}
