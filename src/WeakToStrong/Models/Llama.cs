using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace WeakToStrong.Models;

// Llama as in transformers' modeling_llama.py (Mistral and Qwen2 differ only in config: sliding window,
// q/k/v biases), with its names: model.{embed_tokens,layers.N.{input_layernorm,self_attn.{q,k,v,o}_proj,
// post_attention_layernorm,mlp.{gate,up,down}_proj},norm}, lm_head.

/// <summary>LlamaRotaryEmbedding: inverse frequencies (with rope_scaling applied) and cos/sin per position.</summary>
public sealed class LlamaRotaryEmbedding
{
    readonly Tensor invFreq; // [head_dim / 2], float32
    readonly double positionScale;
    readonly Scalar positionScaleScalar; // owned: see Scalars

    public LlamaRotaryEmbedding(ModelConfig config, Device device)
    {
        var frequencies = InverseFrequencies(config);
        invFreq = tensor(frequencies.Select(f => (float)f).ToArray(), device: device).DetachFromDisposeScope();
        positionScale = config.RopeLinearFactor is double factor ? 1.0 / factor : 1.0;
        positionScaleScalar = positionScale.ToScalar();
    }

    /// <summary>1 / theta^(2i/d), then the llama3 frequency-dependent rescaling when configured.</summary>
    public static double[] InverseFrequencies(ModelConfig config)
    {
        int dim = config.HeadDim;
        // transformers computes theta ** (arange(0, d, 2).float() / d) in float32; we match that rounding.
        var frequencies = Enumerable.Range(0, dim / 2)
            .Select(i => (double)(1.0f / MathF.Pow((float)config.RopeTheta, (float)(2 * i) / dim))).ToArray();
        if (config.RopeLlama3 is not { } scaling) return frequencies;
        double lowFreqWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        double highFreqWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        for (int i = 0; i < frequencies.Length; i++)
        {
            double frequency = frequencies[i];
            double wavelength = 2 * Math.PI / frequency;
            if (wavelength > lowFreqWavelength) frequencies[i] = frequency / scaling.Factor;
            else if (wavelength >= highFreqWavelength)
            {
                double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelength - scaling.LowFreqFactor)
                    / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                frequencies[i] = (1 - smooth) * frequency / scaling.Factor + smooth * frequency;
            }
        }
        return frequencies;
    }

    /// <summary>cos and sin [B, 1, T, head_dim] for position ids [B, T], in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Forward(Tensor positionIds, ScalarType dtype)
    {
        var positions = positionIds.to(ScalarType.Float32);
        if (positionScale != 1.0) positions = positions.mul(positionScaleScalar);
        var angles = positions.unsqueeze(-1) * invFreq;
        var embedding = cat([angles, angles], -1).unsqueeze(1);
        return (embedding.cos().to(dtype), embedding.sin().to(dtype));
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        return (x * cos).add(rotated * sin, Scalars.One);
    }
}

public sealed class LlamaAttention : Module
{
    readonly Linear q_proj, k_proj, v_proj, o_proj;
    readonly int layerIndex, numHeads, numKvHeads, headDim;

    public LlamaAttention(ModelConfig config, int layerIndex, ModelOptions options) : base(nameof(LlamaAttention))
    {
        this.layerIndex = layerIndex;
        numHeads = config.NumAttentionHeads;
        numKvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        q_proj = new Linear(config.HiddenSize, numHeads * headDim, config.QkvBias, options);
        k_proj = new Linear(config.HiddenSize, numKvHeads * headDim, config.QkvBias, options);
        v_proj = new Linear(config.HiddenSize, numKvHeads * headDim, config.QkvBias, options);
        o_proj = new Linear(numHeads * headDim, config.HiddenSize, config.OutputProjectionBias, options);
        register_module("q_proj", q_proj);
        register_module("k_proj", k_proj);
        register_module("v_proj", v_proj);
        register_module("o_proj", o_proj);
    }

    public Tensor forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, bool isCausal, KvCache? cache)
    {
        long batch = hidden.shape[0], steps = hidden.shape[1];
        var query = q_proj.forward(hidden).view(batch, steps, numHeads, headDim).transpose(1, 2);
        var key = k_proj.forward(hidden).view(batch, steps, numKvHeads, headDim).transpose(1, 2);
        var value = v_proj.forward(hidden).view(batch, steps, numKvHeads, headDim).transpose(1, 2);
        query = LlamaRotaryEmbedding.Apply(query, cos, sin);
        key = LlamaRotaryEmbedding.Apply(key, cos, sin);
        if (cache is not null) (key, value) = cache.Update(layerIndex, key, value);
        var attended = numKvHeads == numHeads
            ? F.scaled_dot_product_attention(query, key, value, mask, 0.0, isCausal)
            : GroupedQueryAttention(query, key, value, mask, isCausal);
        return o_proj.forward(attended.transpose(1, 2).reshape(batch, steps, numHeads * headDim));
    }

    /// <summary>
    /// Each key/value head serves groups = numHeads / numKvHeads consecutive query heads. Instead of repeating
    /// the keys and values over the whole cache (transformers' repeat_kv), the queries of a group become extra
    /// rows: query [B, H, T, D] is seen as [B, KV, groups·T, D] against keys [B, KV, S, D] as they are, and the
    /// mask's T rows are tiled once per group. Row g·T + t of key head j is query head j·groups + g at step t,
    /// so the result is the same attention, laid back out as [B, H, T, D].
    /// </summary>
    Tensor GroupedQueryAttention(Tensor query, Tensor key, Tensor value, Tensor? mask, bool isCausal)
    {
        long batch = query.shape[0], steps = query.shape[2], keyLength = key.shape[2];
        int groups = numHeads / numKvHeads;
        var groupedQuery = query.reshape(batch, numKvHeads, groups * steps, headDim);
        Tensor? groupedMask = mask;
        if (mask is not null)
            groupedMask = mask.unsqueeze(2).expand(-1, -1, groups, -1, -1).reshape(mask.shape[0], mask.shape[1], groups * steps, keyLength);
        else if (isCausal)
        {
            // is_causal (a fresh prompt: S = T) would let row g·T + t see columns up to g·T + t; each group needs
            // the causal rule of its own steps, as a boolean mask (true = may attend).
            var queryPositions = Scalars.Arange(0, steps, query.device).repeat(groups).unsqueeze(1);
            var keyPositions = Scalars.Arange(0, keyLength, query.device).unsqueeze(0);
            groupedMask = keyPositions.le(queryPositions);
        }
        var attended = F.scaled_dot_product_attention(groupedQuery, key, value, groupedMask, 0.0, is_casual: false);
        return attended.reshape(batch, numHeads, steps, headDim);
    }
}

public sealed class LlamaMLP : Module
{
    readonly Linear gate_proj, up_proj, down_proj;

    public LlamaMLP(ModelConfig config, ModelOptions options) : base(nameof(LlamaMLP))
    {
        gate_proj = new Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias, options);
        up_proj = new Linear(config.HiddenSize, config.IntermediateSize, config.MlpBias, options);
        down_proj = new Linear(config.IntermediateSize, config.HiddenSize, config.MlpBias, options);
        register_module("gate_proj", gate_proj);
        register_module("up_proj", up_proj);
        register_module("down_proj", down_proj);
    }

    public Tensor forward(Tensor hidden) => down_proj.forward(F.silu(gate_proj.forward(hidden)) * up_proj.forward(hidden));
}

public sealed class LlamaDecoderLayer : Module
{
    readonly RmsNorm input_layernorm, post_attention_layernorm;
    readonly LlamaAttention self_attn;
    readonly LlamaMLP mlp;

    public LlamaDecoderLayer(ModelConfig config, int layerIndex, ModelOptions options) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(config, layerIndex, options);
        mlp = new LlamaMLP(config, options);
        input_layernorm = new RmsNorm(config.HiddenSize, config.NormEpsilon, options);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.NormEpsilon, options);
        register_module("self_attn", self_attn);
        register_module("mlp", mlp);
        register_module("input_layernorm", input_layernorm);
        register_module("post_attention_layernorm", post_attention_layernorm);
    }

    public Tensor forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, bool isCausal, KvCache? cache)
    {
        hidden = hidden.add(self_attn.forward(input_layernorm.forward(hidden), cos, sin, mask, isCausal, cache), Scalars.One);
        return hidden.add(mlp.forward(post_attention_layernorm.forward(hidden)), Scalars.One);
    }
}

public sealed class LlamaModel : Module
{
    public readonly Embedding embed_tokens;
    readonly TorchSharp.Modules.ModuleList<LlamaDecoderLayer> layers;
    public readonly RmsNorm norm;
    readonly LlamaRotaryEmbedding rotary;
    readonly ModelConfig config;
    readonly DeviceMap deviceMap;

    public LlamaModel(ModelConfig config, ModelOptions options, DeviceMap deviceMap) : base(nameof(LlamaModel))
    {
        this.config = config;
        this.deviceMap = deviceMap;
        embed_tokens = new Embedding(config.VocabSize, config.HiddenSize, options.On(deviceMap.First), tiedToLmHead: config.TieWordEmbeddings);
        layers = new TorchSharp.Modules.ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, i, options.On(deviceMap.LayerDevice(i)))).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.NormEpsilon, options.On(deviceMap.Last));
        rotary = new LlamaRotaryEmbedding(config, deviceMap.First);
        register_module("embed_tokens", embed_tokens);
        register_module("layers", layers);
        register_module("norm", norm);
    }

    public Tensor forward(Tensor inputIds, Tensor? attentionMask, KvCache? cache)
    {
        long batch = inputIds.shape[0];
        int steps = (int)inputIds.shape[1];
        int past = cache?.Length ?? 0;
        var positions = attentionMask is null
            ? AttentionMasks.DefaultPositionIds(batch, past, steps, inputIds.device)
            : AttentionMasks.PositionIds(attentionMask, steps);
        var hidden = embed_tokens.forward(inputIds);
        var (cos, sin) = rotary.Forward(positions, hidden.dtype);
        var mask = AttentionMasks.Additive(attentionMask, batch, past, steps, config.SlidingWindow, hidden.dtype, hidden.device, out bool isCausal);
        for (int i = 0; i < layers.Count; i++)
        {
            (hidden, mask) = (deviceMap.ToLayer(i, hidden), deviceMap.LayerInput(i, mask));
            (cos, sin) = (deviceMap.LayerInput(i, cos)!, deviceMap.LayerInput(i, sin)!);
            var (layer, layerMask, layerCos, layerSin) = (layers[i], mask, cos, sin);
            hidden = LayerScope.Run(hidden, input => layer.forward(input, layerCos, layerSin, layerMask, isCausal, cache));
        }
        cache?.Advance(steps);
        return norm.forward(deviceMap.ToHead(hidden));
    }

    /// <summary>transformers' LlamaPreTrainedModel._init_weights.</summary>
    public void InitializeWeights(Generator? generator)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal)) parameter.zero_();
            else if (name.EndsWith("norm.weight", StringComparison.Ordinal)) parameter.fill_(Scalars.One);
            else HostRandom.Normal(parameter, 0, config.InitializerRange, generator);
        }
    }
}

public sealed class LlamaForCausalLM : CausalLanguageModel
{
    readonly LlamaModel model;
    readonly Linear? lm_head; // null when tie_word_embeddings

    public LlamaForCausalLM(ModelConfig config, ModelOptions options) : base(nameof(LlamaForCausalLM), config, DeviceMap.For(config, options.DType, options.Devices))
    {
        model = new LlamaModel(config, options, DeviceMap);
        register_module("model", model);
        if (!config.TieWordEmbeddings)
        {
            lm_head = new Linear(config.HiddenSize, config.VocabSize, false, options.On(DeviceMap.Last), projectsOntoVocabulary: true);
            register_module("lm_head", lm_head);
        }
    }

    public override Tensor Backbone(Tensor inputIds, Tensor? attentionMask, KvCache? cache) =>
        model.forward(inputIds, attentionMask, cache);

    protected override Tensor LmHead(Tensor hidden) => lm_head?.forward(hidden) ?? WeightLayout.Project(hidden, model.embed_tokens.weight, null);

    public override Tensor InputEmbeddings => model.embed_tokens.weight;

    public override void InitializeWeights(Generator? generator = null)
    {
        model.InitializeWeights(generator);
        if (lm_head is not null) { using var noGrad = no_grad(); HostRandom.Normal(lm_head.weight, 0, Config.InitializerRange, generator); }
    }
}

public sealed class LlamaForSequenceClassification : SequenceClassifier
{
    readonly LlamaModel model;
    readonly Linear score;

    public LlamaForSequenceClassification(ModelConfig config, ModelOptions options) : base(nameof(LlamaForSequenceClassification), config, DeviceMap.For(config, options.DType, options.Devices))
    {
        model = new LlamaModel(config, options, DeviceMap);
        score = new Linear(config.HiddenSize, config.NumLabels, false, options.On(DeviceMap.Last));
        register_module("model", model);
        register_module("score", score);
    }

    protected override Tensor Classify(Tensor inputIds, Tensor? attentionMask)
    {
        var hidden = model.forward(inputIds, attentionMask, null);
        var last = LastTokenIndex(inputIds, attentionMask).to(hidden.device);
        return DeviceMap.ToOutput(score.forward(hidden[Scalars.Arange(0, hidden.shape[0], hidden.device), last]));
    }

    public override void InitializeWeights(Generator? generator = null)
    {
        model.InitializeWeights(generator);
        using var noGrad = no_grad();
        HostRandom.Normal(score.weight, 0, Config.InitializerRange, generator);
    }
}
