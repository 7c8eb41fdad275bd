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
/// Where a weight W [out, in] keeps its values, and how it multiplies activations (y = x·Wᵀ + b). Shapes, names
/// and values stay Hugging Face's; only the memory layout and the GEMM's operand order differ. Measured on CPU
/// (libtorch 2.5's MKL, whose generic sgemm path this AMD EPYC takes, float32, 2 threads):
/// - A weight too large for a core's L2 cache (≥ 2^19 elements: gpt2-small's projections and LM head) is stored
///   [out, in], and for up to 256 activation rows it is multiplied as (W·xᵀ)ᵀ: MKL packs its second operand on every
///   call, and packing the weight (58% of a 16-row decode step) costs more than the product itself. (W·xᵀ)ᵀ was
///   1.2–1.5× faster at 4–256 rows, and no slower beyond. One row is padded to two: MKL's GEMV on [out, in] took
///   11.8 ms on gpt2's LM head against 4.2 ms for a two-row GEMM.
/// - A smaller projection onto the vocabulary (an LM head, or an embedding tied to one) is stored [in, out] and seen
///   through a transposed view: up to 1.6× faster for x·W at these sizes. Other small weights keep the usual layout.
/// </summary>
internal static class WeightLayout
{
    const long LargeElements = 1 << 19;
    const long MaxRowsWeightFirst = 256;

    static bool IsLarge(long rows, long cols, ModelOptions options) =>
        rows * cols >= LargeElements && options.Device.type == DeviceType.CPU && options.DType == ScalarType.Float32;

    /// <summary>Storage for a weight of logical shape [rows, cols] (= [out, in]) that multiplies activations as x·Wᵀ.</summary>
    public static Tensor Empty(long rows, long cols, ModelOptions options, bool projectsOntoVocabulary) =>
        !IsLarge(rows, cols, options) && projectsOntoVocabulary && options.Device.type == DeviceType.CPU
            ? empty(cols, rows, dtype: options.DType, device: options.Device).t()
            : empty(rows, cols, dtype: options.DType, device: options.Device);

    /// <summary>Storage for GPT-2's Conv1D weight, of logical shape [in, out] (it multiplies activations as x·W).</summary>
    public static Tensor EmptyInOut(long inFeatures, long outFeatures, ModelOptions options) =>
        IsLarge(outFeatures, inFeatures, options)
            ? empty(outFeatures, inFeatures, dtype: options.DType, device: options.Device).t()
            : empty(inFeatures, outFeatures, dtype: options.DType, device: options.Device);

    /// <summary>x·Wᵀ + b for W of logical shape [out, in], on whichever operand order its layout is fastest for.</summary>
    public static Tensor Project(Tensor input, Tensor weight, Tensor? bias)
    {
        long inFeatures = weight.shape[1], outFeatures = weight.shape[0];
        long rows = input.NumberOfElements / inFeatures;
        bool weightFirst = weight.is_contiguous() && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32
            && outFeatures * inFeatures >= LargeElements && rows <= MaxRowsWeightFirst;
        if (!weightFirst) return F.linear(input, weight, bias);
        var x = input.reshape(rows, inFeatures);
        if (rows == 1) x = cat([x, x]);
        var product = bias is null ? weight.mm(x.t()) : bias.unsqueeze(1).addmm(weight, x.t()); // [out, rows]
        if (rows == 1) product = product.narrow(1, 0, 1);
        return product.t().contiguous().view([.. input.shape[..^1], outFeatures]);
    }
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

    public Tensor forward(Tensor input) => WeightLayout.Project(input, weight, bias);
}

/// <summary>GPT-2's Conv1D: a linear layer whose weight is stored transposed, [in, out].</summary>
public sealed class Conv1D : Module
{
    public readonly Parameter weight;
    public readonly Parameter bias;

    public Conv1D(long outFeatures, long inFeatures, ModelOptions options) : base(nameof(Conv1D))
    {
        weight = new Parameter(WeightLayout.EmptyInOut(inFeatures, outFeatures, options));
        bias = new Parameter(empty(outFeatures, dtype: options.DType, device: options.Device));
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }

    public Tensor forward(Tensor input)
    {
        if (!weight.is_contiguous()) return WeightLayout.Project(input, weight.t(), bias); // stored [out, in]: see WeightLayout
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
