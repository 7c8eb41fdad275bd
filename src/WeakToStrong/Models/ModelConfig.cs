using System.Text.Json;

namespace WeakToStrong.Models;

/// <summary>Which backbone a Hugging Face config describes.</summary>
public enum Architecture { Gpt2, Llama, DistilBert }

/// <summary>What the top of the backbone is: next-token logits or a sequence-classification head.</summary>
public enum HeadKind { CausalLM, SequenceClassification }

/// <summary>HF rope_scaling of type "llama3" (Llama 3.1+): frequency-dependent interpolation.</summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings);

/// <summary>
/// A Hugging Face <c>config.json</c>, read with the same keys and defaults as transformers' config classes
/// (GPT2Config, LlamaConfig / MistralConfig / Qwen2Config, DistilBertConfig). Unknown model types and
/// unsupported values are refused with the key named. A record, so that variants are made with <c>with</c>;
/// <see cref="ToJson"/> writes it back as transformers' <c>save_pretrained</c> would.
/// </summary>
public sealed partial record ModelConfig
{
    public required string Path { get; init; }
    public required string ModelType { get; init; }
    public required Architecture Architecture { get; init; }
    public required HeadKind Head { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int IntermediateSize { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    /// <summary>layer_norm_epsilon (GPT-2), rms_norm_eps (Llama family); DistilBERT's LayerNorm uses 1e-12.</summary>
    public required double NormEpsilon { get; init; }
    /// <summary>activation_function (GPT-2), hidden_act (Llama), activation (DistilBERT).</summary>
    public required string Activation { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    public bool QkvBias { get; init; }
    public bool OutputProjectionBias { get; init; }
    public bool MlpBias { get; init; }
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>rope_scaling of type "linear": positions are divided by this factor.</summary>
    public double? RopeLinearFactor { get; init; }
    public Llama3RopeScaling? RopeLlama3 { get; init; }
    public int? SlidingWindow { get; init; }
    public int NumLabels { get; init; } = 2;
    public IReadOnlyDictionary<int, string> Id2Label { get; init; } = new Dictionary<int, string>();
    public int? PadTokenId { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public string? TorchDtype { get; init; }
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>A GPT-2 configuration built in code (random-weight benchmarks, models trained from scratch).</summary>
    public static ModelConfig Gpt2(int layers, int hidden, int heads, int vocabSize = 50257, int positions = 1024) => new()
    {
        Path = $"<gpt2 {layers}x{hidden}>", ModelType = "gpt2", Architecture = Architecture.Gpt2, Head = HeadKind.CausalLM,
        VocabSize = vocabSize, HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = heads,
        HeadDim = hidden / heads, IntermediateSize = 4 * hidden, MaxPositionEmbeddings = positions, NormEpsilon = 1e-5,
        Activation = "gelu_new", TieWordEmbeddings = true, QkvBias = true, OutputProjectionBias = true, MlpBias = true,
        BosTokenId = vocabSize - 1, EosTokenIds = [vocabSize - 1],
    };

    /// <summary>A Llama configuration built in code (models trained from scratch); untied head, no biases.</summary>
    /// <param name="bosTokenId">defaults to the last id, where a trained byte-level BPE puts &lt;|endoftext|&gt;</param>
    public static ModelConfig Llama(int layers, int hidden, int heads, int kvHeads, int intermediate, int vocabSize, int positions,
        double ropeTheta = 10000.0, double rmsNormEps = 1e-6, bool tieWordEmbeddings = false, int? headDim = null,
        int? bosTokenId = null, int? eosTokenId = null)
    {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(kvHeads), kvHeads, $"must be a positive divisor of heads ({heads})");
        if (headDim is null && hidden % heads != 0)
            throw new ArgumentOutOfRangeException(nameof(heads), heads, $"must divide hidden ({hidden}) unless headDim is given");
        return new()
        {
            Path = $"<llama {layers}x{hidden}>", ModelType = "llama", Architecture = Architecture.Llama, Head = HeadKind.CausalLM,
            VocabSize = vocabSize, HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads,
            HeadDim = headDim ?? hidden / heads, IntermediateSize = intermediate, MaxPositionEmbeddings = positions,
            NormEpsilon = rmsNormEps, Activation = "silu", TieWordEmbeddings = tieWordEmbeddings, RopeTheta = ropeTheta,
            BosTokenId = bosTokenId ?? vocabSize - 1, EosTokenIds = [eosTokenId ?? vocabSize - 1],
        };
    }

    /// <summary>
    /// This backbone with a sequence-classification head (<c>…ForSequenceClassification</c>) of one logit per label;
    /// labels default to transformers' LABEL_0, LABEL_1, …
    /// </summary>
    public ModelConfig WithClassificationHead(int numLabels, IReadOnlyList<string>? labels = null)
    {
        if (numLabels <= 0) throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "must be positive");
        if (labels is not null && labels.Count != numLabels)
            throw new ArgumentException($"{labels.Count} label names given for {numLabels} labels", nameof(labels));
        if (labels is not null && labels.Distinct().Count() != labels.Count)
            throw new ArgumentException("label names must be distinct (label2id maps each back to its id)", nameof(labels));
        return this with
        {
            Head = HeadKind.SequenceClassification, NumLabels = numLabels,
            Id2Label = Enumerable.Range(0, numLabels).ToDictionary(i => i, i => labels?[i] ?? $"LABEL_{i}"),
        };
    }

    /// <summary>Random-weight presets for benchmarks: the shapes of the released GPT-2 models.</summary>
    public static ModelConfig Preset(string name) => name switch
    {
        "gpt2-small" or "gpt2" => Gpt2(12, 768, 12),
        "gpt2-medium" => Gpt2(24, 1024, 16),
        "gpt2-large" => Gpt2(36, 1280, 20),
        _ => throw new InvalidInputException($"--random: expected gpt2-small, gpt2-medium or gpt2-large, got \"{name}\""),
    };

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: config.json not found");
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(Data.StrictUtf8.ReadAllText(path));
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON ({e.Message})", e);
        }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{path}: expected a JSON object");
        return Parse(new ConfigReader(path, root));
    }

    static ModelConfig Parse(ConfigReader c)
    {
        string modelType = c.RequiredString("model_type");
        var architectures = c.StringList("architectures");
        bool classifier = architectures.Any(a => a.EndsWith("ForSequenceClassification", StringComparison.Ordinal));
        var head = classifier ? HeadKind.SequenceClassification : HeadKind.CausalLM;
        var id2label = c.Id2Label();
        int numLabels = c.OptionalInt("num_labels") ?? (id2label.Count > 0 ? id2label.Count : 2);
        var eos = c.IntOrIntList("eos_token_id");

        switch (modelType)
        {
            case "gpt2":
            {
                int hidden = c.Int("n_embd", 768);
                int heads = c.Int("n_head", 12);
                CheckDivisible(c, "n_embd", hidden, "n_head", heads);
                string activation = c.String("activation_function", "gelu_new");
                CheckActivation(c, "activation_function", activation);
                if (c.Bool("scale_attn_by_inverse_layer_idx", false) || c.Bool("reorder_and_upcast_attn", false))
                    throw c.Error("scale_attn_by_inverse_layer_idx/reorder_and_upcast_attn", "false (other GPT-2 attention variants are not supported)");
                if (!c.Bool("scale_attn_weights", true))
                    throw c.Error("scale_attn_weights", "true");
                return new ModelConfig
                {
                    Path = c.Path, ModelType = modelType, Architecture = Architecture.Gpt2, Head = head,
                    VocabSize = c.Int("vocab_size", 50257), HiddenSize = hidden,
                    NumHiddenLayers = c.Int("n_layer", 12), NumAttentionHeads = heads, NumKeyValueHeads = heads,
                    HeadDim = hidden / heads, IntermediateSize = c.OptionalInt("n_inner") ?? 4 * hidden,
                    MaxPositionEmbeddings = c.Int("n_positions", 1024),
                    NormEpsilon = c.Double("layer_norm_epsilon", 1e-5), Activation = activation,
                    TieWordEmbeddings = c.Bool("tie_word_embeddings", true),
                    QkvBias = true, OutputProjectionBias = true, MlpBias = true,
                    NumLabels = numLabels, Id2Label = id2label,
                    PadTokenId = c.OptionalInt("pad_token_id"), BosTokenId = c.OptionalInt("bos_token_id"), EosTokenIds = eos,
                    TorchDtype = c.OptionalString("torch_dtype"), InitializerRange = c.Double("initializer_range", 0.02),
                };
            }
            case "llama" or "mistral" or "qwen2":
            {
                int hidden = c.Int("hidden_size", 4096);
                int heads = c.Int("num_attention_heads", 32);
                int kvHeads = c.OptionalInt("num_key_value_heads") ?? heads;
                if (kvHeads <= 0 || heads % kvHeads != 0)
                    throw c.Error("num_key_value_heads", $"a positive divisor of num_attention_heads ({heads}), got {kvHeads}");
                int? headDim = c.OptionalInt("head_dim");
                if (headDim is null) CheckDivisible(c, "hidden_size", hidden, "num_attention_heads", heads);
                string activation = c.String("hidden_act", "silu");
                if (activation != "silu") throw c.Error("hidden_act", "\"silu\"");
                bool attentionBias = c.Bool("attention_bias", false);
                int? slidingWindow = modelType switch
                {
                    "mistral" => c.OptionalInt("sliding_window"),
                    "qwen2" => c.Bool("use_sliding_window", false) ? c.OptionalInt("sliding_window") : null,
                    _ => null,
                };
                var (linearFactor, llama3) = ParseRopeScaling(c);
                return new ModelConfig
                {
                    Path = c.Path, ModelType = modelType, Architecture = Architecture.Llama, Head = head,
                    VocabSize = c.Int("vocab_size", 32000), HiddenSize = hidden,
                    NumHiddenLayers = c.Int("num_hidden_layers", 32), NumAttentionHeads = heads, NumKeyValueHeads = kvHeads,
                    HeadDim = headDim ?? hidden / heads, IntermediateSize = c.Int("intermediate_size", 11008),
                    MaxPositionEmbeddings = c.Int("max_position_embeddings", 2048),
                    NormEpsilon = c.Double("rms_norm_eps", 1e-6), Activation = activation,
                    TieWordEmbeddings = c.Bool("tie_word_embeddings", false),
                    // Qwen2 always has q/k/v biases and no o_proj bias; Llama's attention_bias covers all four.
                    QkvBias = modelType == "qwen2" || attentionBias,
                    OutputProjectionBias = modelType != "qwen2" && attentionBias,
                    MlpBias = c.Bool("mlp_bias", false),
                    RopeTheta = c.Double("rope_theta", 10000.0), RopeLinearFactor = linearFactor, RopeLlama3 = llama3,
                    SlidingWindow = slidingWindow,
                    NumLabels = numLabels, Id2Label = id2label,
                    PadTokenId = c.OptionalInt("pad_token_id"), BosTokenId = c.OptionalInt("bos_token_id"), EosTokenIds = eos,
                    TorchDtype = c.OptionalString("torch_dtype"), InitializerRange = c.Double("initializer_range", 0.02),
                };
            }
            case "distilbert":
            {
                int hidden = c.Int("dim", 768);
                int heads = c.Int("n_heads", 12);
                CheckDivisible(c, "dim", hidden, "n_heads", heads);
                string activation = c.String("activation", "gelu");
                CheckActivation(c, "activation", activation);
                if (c.Bool("sinusoidal_pos_embds", false)) throw c.Error("sinusoidal_pos_embds", "false");
                return new ModelConfig
                {
                    Path = c.Path, ModelType = modelType, Architecture = Architecture.DistilBert,
                    Head = HeadKind.SequenceClassification,
                    VocabSize = c.Int("vocab_size", 30522), HiddenSize = hidden,
                    NumHiddenLayers = c.Int("n_layers", 6), NumAttentionHeads = heads, NumKeyValueHeads = heads,
                    HeadDim = hidden / heads, IntermediateSize = c.Int("hidden_dim", 4 * hidden),
                    MaxPositionEmbeddings = c.Int("max_position_embeddings", 512),
                    NormEpsilon = 1e-12, Activation = activation, TieWordEmbeddings = false,
                    QkvBias = true, OutputProjectionBias = true, MlpBias = true,
                    NumLabels = numLabels, Id2Label = id2label,
                    PadTokenId = c.OptionalInt("pad_token_id") ?? 0, TorchDtype = c.OptionalString("torch_dtype"),
                    InitializerRange = c.Double("initializer_range", 0.02),
                };
            }
            default:
                throw c.Error("model_type", $"one of gpt2, llama, mistral, qwen2, distilbert; got \"{modelType}\"");
        }
    }

    static (double? Linear, Llama3RopeScaling? Llama3) ParseRopeScaling(ConfigReader c)
    {
        var scaling = c.OptionalObject("rope_scaling");
        if (scaling is null) return (null, null);
        var s = new ConfigReader(c.Path, scaling.Value, "rope_scaling.");
        // Older configs say "type", newer ones "rope_type".
        string type = s.OptionalString("rope_type") ?? s.OptionalString("type")
            ?? throw c.Error("rope_scaling.rope_type", "a string");
        return type switch
        {
            "default" => (null, null),
            "linear" => (s.RequiredDouble("factor"), null),
            "llama3" => (null, new Llama3RopeScaling(s.RequiredDouble("factor"), s.RequiredDouble("low_freq_factor"),
                s.RequiredDouble("high_freq_factor"), s.RequiredInt("original_max_position_embeddings"))),
            _ => throw c.Error("rope_scaling.rope_type", $"\"default\", \"linear\" or \"llama3\"; got \"{type}\""),
        };
    }

    static void CheckDivisible(ConfigReader c, string sizeKey, int size, string headsKey, int heads)
    {
        if (heads <= 0 || size % heads != 0)
            throw c.Error(headsKey, $"a positive divisor of {sizeKey} ({size}), got {heads}");
    }

    static readonly string[] SupportedActivations = ["gelu_new", "gelu", "gelu_pytorch_tanh", "relu", "silu"];

    static void CheckActivation(ConfigReader c, string key, string value)
    {
        if (!SupportedActivations.Contains(value))
            throw c.Error(key, $"one of {string.Join(", ", SupportedActivations)}; got \"{value}\"");
    }
}

/// <summary>Typed access to config.json keys, with errors that name the file and the key.</summary>
internal sealed class ConfigReader(string path, JsonElement root, string prefix = "")
{
    public string Path => path;

    public InvalidInputException Error(string key, string expected) =>
        new($"{path}: \"{prefix}{key}\" must be {expected}");

    bool TryGet(string key, out JsonElement value) =>
        root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

    public int? OptionalInt(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i)) throw Error(key, $"an integer, got {v.GetRawText()}");
        return i;
    }

    public int Int(string key, int fallback)
    {
        int value = OptionalInt(key) ?? fallback;
        if (value <= 0) throw Error(key, $"a positive integer, got {value}");
        return value;
    }

    public int RequiredInt(string key) => OptionalInt(key) ?? throw Error(key, "an integer (missing)");

    public double? OptionalDouble(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number) throw Error(key, $"a number, got {v.GetRawText()}");
        return v.GetDouble();
    }

    public double Double(string key, double fallback) => OptionalDouble(key) ?? fallback;
    public double RequiredDouble(string key) => OptionalDouble(key) ?? throw Error(key, "a number (missing)");

    public bool Bool(string key, bool fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(key, $"true or false, got {v.GetRawText()}"),
        };
    }

    public string? OptionalString(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.String) throw Error(key, $"a string, got {v.GetRawText()}");
        return v.GetString();
    }

    public string String(string key, string fallback) => OptionalString(key) ?? fallback;
    public string RequiredString(string key) => OptionalString(key) ?? throw Error(key, "a string (missing)");

    public JsonElement? OptionalObject(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Object) throw Error(key, $"an object, got {v.GetRawText()}");
        return v;
    }

    public IReadOnlyList<string> StringList(string key)
    {
        if (!TryGet(key, out var v)) return [];
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw Error(key, "a list of strings");
        return v.EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    /// <summary>eos_token_id may be one id or a list of ids (Llama 3).</summary>
    public IReadOnlyList<int> IntOrIntList(string key)
    {
        if (!TryGet(key, out var v)) return [];
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int single)) return [single];
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
            return v.EnumerateArray().Select(e => e.GetInt32()).ToList();
        throw Error(key, "an integer or a list of integers");
    }

    public IReadOnlyDictionary<int, string> Id2Label()
    {
        var map = new Dictionary<int, string>();
        var obj = OptionalObject("id2label");
        if (obj is null) return map;
        foreach (var entry in obj.Value.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, out int id) || entry.Value.ValueKind != JsonValueKind.String)
                throw Error("id2label", "a map from integer strings to label names");
            map[id] = entry.Value.GetString()!;
        }
        return map;
    }
}
