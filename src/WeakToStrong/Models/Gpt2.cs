using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace WeakToStrong.Models;

// GPT-2 as in transformers' modeling_gpt2.py, with its module and parameter names:
// transformer.{wte,wpe,h.N.{ln_1,attn.{c_attn,c_proj},ln_2,mlp.{c_fc,c_proj}},ln_f}.

public sealed class GPT2Attention : Module
{
    readonly Conv1D c_attn;
    readonly Conv1D c_proj;
    readonly int layerIndex, numHeads, headDim;

    public GPT2Attention(ModelConfig config, int layerIndex, ModelOptions options) : base(nameof(GPT2Attention))
    {
        this.layerIndex = layerIndex;
        numHeads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        c_attn = new Conv1D(3 * config.HiddenSize, config.HiddenSize, options);
        c_proj = new Conv1D(config.HiddenSize, config.HiddenSize, options);
        register_module("c_attn", c_attn);
        register_module("c_proj", c_proj);
    }

    public Tensor forward(Tensor hidden, Tensor? mask, bool isCausal, KvCache? cache)
    {
        long batch = hidden.shape[0], steps = hidden.shape[1], width = hidden.shape[2];
        var qkv = c_attn.forward(hidden).view(batch, steps, 3, numHeads, headDim).permute(2, 0, 3, 1, 4);
        Tensor query = qkv[0], key = qkv[1], value = qkv[2];
        if (cache is not null) (key, value) = cache.Update(layerIndex, key, value);
        var attended = F.scaled_dot_product_attention(query, key, value, mask, 0.0, isCausal);
        return c_proj.forward(attended.transpose(1, 2).reshape(batch, steps, width));
    }
}

public sealed class GPT2MLP : Module
{
    readonly Conv1D c_fc;
    readonly Conv1D c_proj;
    readonly string activation;

    public GPT2MLP(ModelConfig config, ModelOptions options) : base(nameof(GPT2MLP))
    {
        activation = config.Activation;
        c_fc = new Conv1D(config.IntermediateSize, config.HiddenSize, options);
        c_proj = new Conv1D(config.HiddenSize, config.IntermediateSize, options);
        register_module("c_fc", c_fc);
        register_module("c_proj", c_proj);
    }

    public Tensor forward(Tensor hidden) => c_proj.forward(Activations.Apply(activation, c_fc.forward(hidden)));
}

public sealed class GPT2Block : Module
{
    readonly LayerNorm ln_1, ln_2;
    readonly GPT2Attention attn;
    readonly GPT2MLP mlp;

    public GPT2Block(ModelConfig config, int layerIndex, ModelOptions options) : base(nameof(GPT2Block))
    {
        ln_1 = new LayerNorm(config.HiddenSize, config.NormEpsilon, options);
        attn = new GPT2Attention(config, layerIndex, options);
        ln_2 = new LayerNorm(config.HiddenSize, config.NormEpsilon, options);
        mlp = new GPT2MLP(config, options);
        register_module("ln_1", ln_1);
        register_module("attn", attn);
        register_module("ln_2", ln_2);
        register_module("mlp", mlp);
    }

    public Tensor forward(Tensor hidden, Tensor? mask, bool isCausal, KvCache? cache)
    {
        hidden = hidden.add(attn.forward(ln_1.forward(hidden), mask, isCausal, cache), Scalars.One);
        return hidden.add(mlp.forward(ln_2.forward(hidden)), Scalars.One);
    }
}

public sealed class GPT2Model : Module
{
    public readonly Embedding wte, wpe;
    readonly TorchSharp.Modules.ModuleList<GPT2Block> h;
    public readonly LayerNorm ln_f;
    readonly ModelConfig config;
    readonly DeviceMap deviceMap;

    public GPT2Model(ModelConfig config, ModelOptions options, DeviceMap deviceMap) : base(nameof(GPT2Model))
    {
        this.config = config;
        this.deviceMap = deviceMap;
        var first = options.On(deviceMap.First);
        wte = new Embedding(config.VocabSize, config.HiddenSize, first, tiedToLmHead: config.TieWordEmbeddings);
        wpe = new Embedding(config.MaxPositionEmbeddings, config.HiddenSize, first);
        h = new TorchSharp.Modules.ModuleList<GPT2Block>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new GPT2Block(config, i, options.On(deviceMap.LayerDevice(i)))).ToArray());
        ln_f = new LayerNorm(config.HiddenSize, config.NormEpsilon, options.On(deviceMap.Last));
        register_module("wte", wte);
        register_module("wpe", wpe);
        register_module("h", h);
        register_module("ln_f", ln_f);
    }

    public Tensor forward(Tensor inputIds, Tensor? attentionMask, KvCache? cache)
    {
        long batch = inputIds.shape[0];
        int steps = (int)inputIds.shape[1];
        int past = cache?.Length ?? 0;
        var positions = attentionMask is null
            ? AttentionMasks.DefaultPositionIds(batch, past, steps, inputIds.device)
            : AttentionMasks.PositionIds(attentionMask, steps);
        // Positions, not cache columns, are bounded: masked-out columns (padding, rolled-back tokens) hold no position.
        // A position never exceeds its column, so the device is read only when the columns alone exceed the bound.
        long lastPosition = past + steps - 1;
        if (attentionMask is not null && lastPosition >= config.MaxPositionEmbeddings)
            lastPosition = HostSync.Item<long>(positions.max(), HostRead.Other);
        if (lastPosition >= config.MaxPositionEmbeddings)
            throw new InvalidInputException($"sequence of {lastPosition + 1} tokens exceeds n_positions = {config.MaxPositionEmbeddings} of {config.Path}");
        var hidden = wte.forward(inputIds).add(wpe.forward(positions), Scalars.One);
        var mask = AttentionMasks.Additive(attentionMask, batch, past, steps, null, hidden.dtype, hidden.device, out bool isCausal);
        for (int i = 0; i < h.Count; i++)
        {
            (hidden, mask) = (deviceMap.ToLayer(i, hidden), deviceMap.LayerInput(i, mask));
            var (block, layerMask) = (h[i], mask);
            hidden = LayerScope.Run(hidden, input => block.forward(input, layerMask, isCausal, cache));
        }
        cache?.Advance(steps);
        return ln_f.forward(deviceMap.ToHead(hidden));
    }

    /// <summary>transformers' GPT2PreTrainedModel._init_weights, including the scaled c_proj init.</summary>
    public void InitializeWeights(Generator? generator)
    {
        using var noGrad = no_grad();
        double std = config.InitializerRange;
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal)) parameter.zero_();
            else if (name.Contains("ln_", StringComparison.Ordinal)) parameter.fill_(Scalars.One);
            else if (name.EndsWith("c_proj.weight", StringComparison.Ordinal))
                HostRandom.Normal(parameter, 0, std / Math.Sqrt(2.0 * config.NumHiddenLayers), generator);
            else HostRandom.Normal(parameter, 0, std, generator);
        }
    }
}

public sealed class GPT2LMHeadModel : CausalLanguageModel
{
    readonly GPT2Model transformer;
    readonly Linear? lm_head; // null when tied to transformer.wte

    public GPT2LMHeadModel(ModelConfig config, ModelOptions options) : base(nameof(GPT2LMHeadModel), config, DeviceMap.For(config, options.DType, options.Devices))
    {
        transformer = new GPT2Model(config, options, DeviceMap);
        register_module("transformer", transformer);
        if (!config.TieWordEmbeddings)
        {
            lm_head = new Linear(config.HiddenSize, config.VocabSize, false, options.On(DeviceMap.Last), projectsOntoVocabulary: true);
            register_module("lm_head", lm_head);
        }
    }

    public override Tensor Backbone(Tensor inputIds, Tensor? attentionMask, KvCache? cache) =>
        transformer.forward(inputIds, attentionMask, cache);

    protected override Tensor LmHead(Tensor hidden) => lm_head?.forward(hidden) ?? WeightLayout.Project(hidden, transformer.wte.weight, null);

    public override Tensor InputEmbeddings => transformer.wte.weight;

    public override void InitializeWeights(Generator? generator = null)
    {
        transformer.InitializeWeights(generator);
        if (lm_head is not null) { using var noGrad = no_grad(); HostRandom.Normal(lm_head.weight, 0, Config.InitializerRange, generator); }
    }
}

public sealed class GPT2ForSequenceClassification : SequenceClassifier
{
    readonly GPT2Model transformer;
    readonly Linear score;

    public GPT2ForSequenceClassification(ModelConfig config, ModelOptions options) : base(nameof(GPT2ForSequenceClassification), config, DeviceMap.For(config, options.DType, options.Devices))
    {
        transformer = new GPT2Model(config, options, DeviceMap);
        score = new Linear(config.HiddenSize, config.NumLabels, false, options.On(DeviceMap.Last));
        register_module("transformer", transformer);
        register_module("score", score);
    }

    protected override Tensor Classify(Tensor inputIds, Tensor? attentionMask)
    {
        var hidden = transformer.forward(inputIds, attentionMask, null);
        var last = LastTokenIndex(inputIds, attentionMask).to(hidden.device);
        var pooled = hidden[Scalars.Arange(0, hidden.shape[0], hidden.device), last];
        return DeviceMap.ToOutput(score.forward(pooled));
    }

    public override void InitializeWeights(Generator? generator = null)
    {
        transformer.InitializeWeights(generator);
        using var noGrad = no_grad();
        HostRandom.Normal(score.weight, 0, Config.InitializerRange, generator);
    }
}
