namespace WeakToStrong.Models;

public sealed partial record ModelConfig
{
    /// <summary>
    /// transformers' class name for this model: GPT2LMHeadModel, GPT2ForSequenceClassification, LlamaForCausalLM,
    /// LlamaForSequenceClassification (also the name of our module implementing it).
    /// </summary>
    public string ArchitectureName => (ModelType, Head) switch
    {
        ("gpt2", HeadKind.CausalLM) => "GPT2LMHeadModel",
        ("gpt2", HeadKind.SequenceClassification) => "GPT2ForSequenceClassification",
        ("llama", HeadKind.CausalLM) => "LlamaForCausalLM",
        ("llama", HeadKind.SequenceClassification) => "LlamaForSequenceClassification",
        ("mistral", HeadKind.CausalLM) => "MistralForCausalLM",
        ("mistral", HeadKind.SequenceClassification) => "MistralForSequenceClassification",
        ("qwen2", HeadKind.CausalLM) => "Qwen2ForCausalLM",
        ("qwen2", HeadKind.SequenceClassification) => "Qwen2ForSequenceClassification",
        ("distilbert", _) => "DistilBertForSequenceClassification",
        _ => throw new InvalidInputException($"{Path}: no transformers class for model_type \"{ModelType}\" with a {Head} head"),
    };

    /// <summary>
    /// config.json as transformers' <c>save_pretrained</c> writes it for this model type (gpt2 or llama): every key
    /// <c>from_pretrained</c> reads, sorted, 2-space indent, trailing newline. <see cref="Load"/> reads it back to an
    /// equal configuration. Models we run have no dropout, so the dropout probabilities are 0.0.
    /// </summary>
    public string ToJson() => HfJsonWriter.Serialize(ToJsonObject());

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllText(path, ToJson(), new System.Text.UTF8Encoding(false));

    Dictionary<string, object?> ToJsonObject()
    {
        var json = new Dictionary<string, object?>
        {
            ["model_type"] = ModelType,
            ["architectures"] = new[] { ArchitectureName },
            ["vocab_size"] = VocabSize,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["initializer_range"] = InitializerRange,
            ["torch_dtype"] = TorchDtype ?? "float32",
            ["use_cache"] = true,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIds.Count switch { 0 => null, 1 => EosTokenIds[0], _ => EosTokenIds.ToArray() },
        };
        if (PadTokenId is int pad) json["pad_token_id"] = pad;
        if (Head == HeadKind.SequenceClassification)
        {
            // transformers derives num_labels from id2label; labels it was not told default to LABEL_i.
            var labels = Enumerable.Range(0, NumLabels).ToDictionary(i => i, i => Id2Label.GetValueOrDefault(i, $"LABEL_{i}"));
            if (Id2Label.Keys.Any(id => id < 0 || id >= NumLabels) || labels.Values.Distinct().Count() != NumLabels)
                throw new InvalidInputException($"{Path}: id2label must name labels 0..{NumLabels - 1} (num_labels) with distinct names");
            json["id2label"] = labels.ToDictionary(l => l.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), l => (object?)l.Value);
            json["label2id"] = labels.ToDictionary(l => l.Value, l => (object?)l.Key);
        }

        switch (ModelType)
        {
            case "gpt2":
                if (HeadDim * NumAttentionHeads != HiddenSize || NumKeyValueHeads != NumAttentionHeads)
                    throw new InvalidInputException($"{Path}: GPT-2 needs head_dim × n_head = n_embd and no grouped-query attention");
                json["n_embd"] = HiddenSize;
                json["n_layer"] = NumHiddenLayers;
                json["n_head"] = NumAttentionHeads;
                json["n_inner"] = IntermediateSize == 4 * HiddenSize ? null : IntermediateSize;
                json["n_positions"] = MaxPositionEmbeddings;
                json["n_ctx"] = MaxPositionEmbeddings;
                json["activation_function"] = Activation;
                json["layer_norm_epsilon"] = NormEpsilon;
                json["resid_pdrop"] = 0.0;
                json["embd_pdrop"] = 0.0;
                json["attn_pdrop"] = 0.0;
                json["scale_attn_weights"] = true;
                json["scale_attn_by_inverse_layer_idx"] = false;
                json["reorder_and_upcast_attn"] = false;
                // GPT2DoubleHeadsModel's summary head: unused by our classes, written with transformers' defaults.
                json["summary_type"] = "cls_index";
                json["summary_use_proj"] = true;
                json["summary_activation"] = null;
                json["summary_proj_to_labels"] = true;
                json["summary_first_dropout"] = 0.1;
                break;
            case "llama":
                if (QkvBias != OutputProjectionBias)
                    throw new InvalidInputException($"{Path}: Llama's attention_bias covers q/k/v and o_proj alike; this configuration has q/k/v bias {QkvBias} but o_proj bias {OutputProjectionBias}");
                if (SlidingWindow is not null)
                    throw new InvalidInputException($"{Path}: Llama has no sliding_window ({SlidingWindow} set)");
                json["hidden_size"] = HiddenSize;
                json["intermediate_size"] = IntermediateSize;
                json["num_hidden_layers"] = NumHiddenLayers;
                json["num_attention_heads"] = NumAttentionHeads;
                json["num_key_value_heads"] = NumKeyValueHeads;
                json["head_dim"] = HeadDim;
                json["max_position_embeddings"] = MaxPositionEmbeddings;
                json["rms_norm_eps"] = NormEpsilon;
                json["rope_theta"] = RopeTheta;
                json["rope_scaling"] = RopeScalingJson();
                json["hidden_act"] = Activation;
                json["attention_bias"] = QkvBias;
                json["attention_dropout"] = 0.0;
                json["mlp_bias"] = MlpBias;
                json["pretraining_tp"] = 1;
                break;
            default:
                throw new InvalidInputException($"{Path}: writing config.json is supported for gpt2 and llama, not \"{ModelType}\"");
        }
        return json;
    }

    Dictionary<string, object?>? RopeScalingJson()
    {
        if (RopeLlama3 is { } llama3)
        {
            if (RopeLinearFactor is not null) throw new InvalidInputException($"{Path}: both linear and llama3 rope_scaling set");
            return new()
            {
                ["rope_type"] = "llama3", ["factor"] = llama3.Factor, ["low_freq_factor"] = llama3.LowFreqFactor,
                ["high_freq_factor"] = llama3.HighFreqFactor, ["original_max_position_embeddings"] = llama3.OriginalMaxPositionEmbeddings,
            };
        }
        return RopeLinearFactor is double factor ? new() { ["rope_type"] = "linear", ["factor"] = factor } : null;
    }
}
