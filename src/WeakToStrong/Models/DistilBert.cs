using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace WeakToStrong.Models;

// DistilBERT as in transformers' modeling_distilbert.py (lvwerra/distilbert-imdb is the paper's gold
// sentiment reward), with its names: distilbert.{embeddings.{word_embeddings,position_embeddings,LayerNorm},
// transformer.layer.N.{attention.{q,k,v,out}_lin,sa_layer_norm,ffn.{lin1,lin2},output_layer_norm}},
// pre_classifier, classifier. Post-norm blocks; positions are 0..T−1 (right padding, as BERT tokenizers pad).

public sealed class DistilBertEmbeddings : Module
{
    public readonly Embedding word_embeddings, position_embeddings;
    readonly LayerNorm LayerNorm;

    public DistilBertEmbeddings(ModelConfig config, ModelOptions options) : base(nameof(DistilBertEmbeddings))
    {
        word_embeddings = new Embedding(config.VocabSize, config.HiddenSize, options);
        position_embeddings = new Embedding(config.MaxPositionEmbeddings, config.HiddenSize, options);
        LayerNorm = new LayerNorm(config.HiddenSize, 1e-12, options);
        register_module("word_embeddings", word_embeddings);
        register_module("position_embeddings", position_embeddings);
        register_module("LayerNorm", LayerNorm);
    }

    public Tensor forward(Tensor inputIds)
    {
        var positions = Scalars.Arange(0, inputIds.shape[1], inputIds.device).unsqueeze(0);
        return LayerNorm.forward(word_embeddings.forward(inputIds).add(position_embeddings.forward(positions), Scalars.One));
    }
}

public sealed class MultiHeadSelfAttention : Module
{
    readonly Linear q_lin, k_lin, v_lin, out_lin;
    readonly int numHeads, headDim;

    public MultiHeadSelfAttention(ModelConfig config, ModelOptions options) : base(nameof(MultiHeadSelfAttention))
    {
        numHeads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        q_lin = new Linear(config.HiddenSize, config.HiddenSize, true, options);
        k_lin = new Linear(config.HiddenSize, config.HiddenSize, true, options);
        v_lin = new Linear(config.HiddenSize, config.HiddenSize, true, options);
        out_lin = new Linear(config.HiddenSize, config.HiddenSize, true, options);
        register_module("q_lin", q_lin);
        register_module("k_lin", k_lin);
        register_module("v_lin", v_lin);
        register_module("out_lin", out_lin);
    }

    public Tensor forward(Tensor hidden, Tensor? keyMask)
    {
        long batch = hidden.shape[0], steps = hidden.shape[1], width = hidden.shape[2];
        Tensor Heads(Tensor x) => x.view(batch, steps, numHeads, headDim).transpose(1, 2);
        var attended = F.scaled_dot_product_attention(
            Heads(q_lin.forward(hidden)), Heads(k_lin.forward(hidden)), Heads(v_lin.forward(hidden)), keyMask, 0.0, false);
        return out_lin.forward(attended.transpose(1, 2).reshape(batch, steps, width));
    }
}

public sealed class FFN : Module
{
    readonly Linear lin1, lin2;
    readonly string activation;

    public FFN(ModelConfig config, ModelOptions options) : base(nameof(FFN))
    {
        activation = config.Activation;
        lin1 = new Linear(config.HiddenSize, config.IntermediateSize, true, options);
        lin2 = new Linear(config.IntermediateSize, config.HiddenSize, true, options);
        register_module("lin1", lin1);
        register_module("lin2", lin2);
    }

    public Tensor forward(Tensor hidden) => lin2.forward(Activations.Apply(activation, lin1.forward(hidden)));
}

public sealed class TransformerBlock : Module
{
    readonly MultiHeadSelfAttention attention;
    readonly LayerNorm sa_layer_norm, output_layer_norm;
    readonly FFN ffn;

    public TransformerBlock(ModelConfig config, ModelOptions options) : base(nameof(TransformerBlock))
    {
        attention = new MultiHeadSelfAttention(config, options);
        sa_layer_norm = new LayerNorm(config.HiddenSize, 1e-12, options);
        ffn = new FFN(config, options);
        output_layer_norm = new LayerNorm(config.HiddenSize, 1e-12, options);
        register_module("attention", attention);
        register_module("sa_layer_norm", sa_layer_norm);
        register_module("ffn", ffn);
        register_module("output_layer_norm", output_layer_norm);
    }

    public Tensor forward(Tensor hidden, Tensor? keyMask)
    {
        hidden = sa_layer_norm.forward(attention.forward(hidden, keyMask).add(hidden, Scalars.One));
        return output_layer_norm.forward(ffn.forward(hidden).add(hidden, Scalars.One));
    }
}

public sealed class DistilBertModel : Module
{
    readonly DistilBertEmbeddings embeddings;
    readonly Transformer transformer;

    public sealed class Transformer : Module
    {
        readonly TorchSharp.Modules.ModuleList<TransformerBlock> layer;

        public Transformer(ModelConfig config, ModelOptions options) : base(nameof(Transformer))
        {
            layer = new TorchSharp.Modules.ModuleList<TransformerBlock>(
                Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new TransformerBlock(config, options)).ToArray());
            register_module("layer", layer);
        }

        public Tensor forward(Tensor hidden, Tensor? keyMask)
        {
            foreach (var block in layer) hidden = LayerScope.Run(hidden, input => block.forward(input, keyMask));
            return hidden;
        }
    }

    public DistilBertModel(ModelConfig config, ModelOptions options) : base(nameof(DistilBertModel))
    {
        embeddings = new DistilBertEmbeddings(config, options);
        transformer = new Transformer(config, options);
        register_module("embeddings", embeddings);
        register_module("transformer", transformer);
    }

    public Tensor forward(Tensor inputIds, Tensor? attentionMask)
    {
        var hidden = embeddings.forward(inputIds);
        Tensor? keyMask = null;
        if (attentionMask is not null)
        {
            long batch = inputIds.shape[0], steps = inputIds.shape[1];
            keyMask = zeros(batch, 1, 1, steps, dtype: hidden.dtype, device: hidden.device)
                .masked_fill(attentionMask.eq(Scalars.Zero).view(batch, 1, 1, steps), AttentionMasks.Lowest(hidden.dtype));
        }
        return transformer.forward(hidden, keyMask);
    }
}

public sealed class DistilBertForSequenceClassification : SequenceClassifier
{
    readonly DistilBertModel distilbert;
    readonly Linear pre_classifier, classifier;

    public DistilBertForSequenceClassification(ModelConfig config, ModelOptions options) : base(nameof(DistilBertForSequenceClassification), config, DeviceMap.Single(options.Device, config.NumHiddenLayers))
    {
        distilbert = new DistilBertModel(config, options);
        pre_classifier = new Linear(config.HiddenSize, config.HiddenSize, true, options);
        classifier = new Linear(config.HiddenSize, config.NumLabels, true, options);
        register_module("distilbert", distilbert);
        register_module("pre_classifier", pre_classifier);
        register_module("classifier", classifier);
    }

    protected override Tensor Classify(Tensor inputIds, Tensor? attentionMask)
    {
        var first = distilbert.forward(inputIds, attentionMask).select(1, 0); // the [CLS] position
        return classifier.forward(F.relu(pre_classifier.forward(first)));
    }

    public override void InitializeWeights(Generator? generator = null)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal)) parameter.zero_();
            else if (name.Contains("LayerNorm", StringComparison.Ordinal) || name.Contains("layer_norm", StringComparison.Ordinal)) parameter.fill_(Scalars.One);
            else HostRandom.Normal(parameter, 0, Config.InitializerRange, generator);
        }
    }
}
