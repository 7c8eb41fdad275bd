using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace WeakToStrong.Models;

/// <summary>A decoder-only language model: GPT2LMHeadModel or LlamaForCausalLM (also Mistral, Qwen2).</summary>
public abstract class CausalLanguageModel : Module
{
    protected CausalLanguageModel(string name, ModelConfig config, DeviceMap deviceMap) : base(name) => (Config, DeviceMap) = (config, deviceMap);

    public ModelConfig Config { get; }

    /// <summary>Where each decoder layer lives; inputs go to its first device (that of <see cref="InputEmbeddings"/>) and logits come back there.</summary>
    public DeviceMap DeviceMap { get; }

    /// <summary>A cache reserved for <paramref name="capacity"/> columns: the prompt and every token to be generated.</summary>
    public KvCache NewCache(int capacity) => new(Config.NumHiddenLayers, capacity);

    /// <summary>
    /// Logits [B, T', V] for new tokens <paramref name="inputIds"/> [B, T].
    /// <paramref name="attentionMask"/> [B, past+T] covers cached and new tokens (1 = real, 0 = left padding);
    /// null means no padding. With a cache, new keys and values are appended to it.
    /// <paramref name="logitsToKeep"/> = 0 returns every position; n returns the last n (generation needs 1).
    /// Intermediates are freed here; only the logits reach the caller's dispose scope.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, int logitsToKeep = 0)
    {
        using var scope = NewDisposeScope();
        var hidden = Backbone(inputIds, attentionMask, cache);
        if (logitsToKeep > 0 && logitsToKeep < hidden.shape[1])
            hidden = hidden.narrow(1, hidden.shape[1] - logitsToKeep, logitsToKeep);
        // A tied head multiplies by the embeddings on the first device, so the (smaller) hidden state travels there;
        // otherwise the head runs on the last device and its logits travel.
        var logits = Config.TieWordEmbeddings ? LmHead(DeviceMap.ToOutput(hidden)) : DeviceMap.ToOutput(LmHead(hidden));
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Final hidden states [B, T, hidden] (after the last norm), on the device map's last device.</summary>
    public abstract Tensor Backbone(Tensor inputIds, Tensor? attentionMask, KvCache? cache);

    protected abstract Tensor LmHead(Tensor hidden);

    /// <summary>The token embedding matrix [V, hidden].</summary>
    public abstract Tensor InputEmbeddings { get; }

    /// <summary>Fresh weights as transformers' _init_weights does, for training from scratch.</summary>
    public abstract void InitializeWeights(Generator? generator = null);
}

/// <summary>A sequence classifier / reward model: logits [B, num_labels] per sequence.</summary>
public abstract class SequenceClassifier : Module
{
    protected SequenceClassifier(string name, ModelConfig config, DeviceMap deviceMap) : base(name) => (Config, DeviceMap) = (config, deviceMap);

    public ModelConfig Config { get; }

    /// <summary>Where each layer lives; scores come back to the first device, where the inputs go.</summary>
    public DeviceMap DeviceMap { get; }

    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        return Classify(inputIds, attentionMask).MoveToOuterDisposeScope();
    }

    protected abstract Tensor Classify(Tensor inputIds, Tensor? attentionMask);

    public abstract void InitializeWeights(Generator? generator = null);

    /// <summary>
    /// The row index of each sequence's last real token, as transformers' *ForSequenceClassification:
    /// the rightmost token that is not pad_token_id (this handles left and right padding alike). Without a
    /// pad token, the rightmost position the attention mask keeps.
    /// </summary>
    protected Tensor LastTokenIndex(Tensor inputIds, Tensor? attentionMask)
    {
        long length = inputIds.shape[1];
        var positions = Scalars.Arange(0, length, inputIds.device).unsqueeze(0);
        using var pad = (Config.PadTokenId ?? 0).ToScalar();
        Tensor keep = Config.PadTokenId is not null ? inputIds.ne(pad)
            : attentionMask is not null ? attentionMask.ne(Scalars.Zero)
            : ones_like(inputIds, dtype: ScalarType.Bool);
        return (positions * keep.to(ScalarType.Int64)).argmax(-1);
    }
}
