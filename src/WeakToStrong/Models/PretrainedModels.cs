using TorchSharp;
using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace WeakToStrong.Models;

/// <summary>Opens Hugging Face model directories: config.json + safetensors weights, names mapped exactly.</summary>
public static class PretrainedModels
{
    public static CausalLanguageModel LoadCausalLM(string reference, ModelOptions options, Action<string>? warn = null)
    {
        string directory = ModelLocator.Resolve(reference);
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        if (config.Head != HeadKind.CausalLM || config.Architecture == Architecture.DistilBert)
            throw new InvalidInputException($"{config.Path}: expected a causal language model, but this is a {config.ModelType} sequence classifier");
        CausalLanguageModel model = config.Architecture == Architecture.Gpt2
            ? new GPT2LMHeadModel(config, options)
            : new LlamaForCausalLM(config, options);
        LoadWeights(model, directory, BackbonePrefix(config), options, warn);
        return model;
    }

    public static SequenceClassifier LoadSequenceClassifier(string reference, ModelOptions options, Action<string>? warn = null)
    {
        string directory = ModelLocator.Resolve(reference);
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        if (config.Head != HeadKind.SequenceClassification)
            throw new InvalidInputException($"{config.Path}: expected a sequence classifier (architectures …ForSequenceClassification), but this is a {config.ModelType} causal language model");
        SequenceClassifier model = config.Architecture switch
        {
            Architecture.Gpt2 => new GPT2ForSequenceClassification(config, options),
            Architecture.Llama => new LlamaForSequenceClassification(config, options),
            _ => new DistilBertForSequenceClassification(config, options),
        };
        LoadWeights(model, directory, BackbonePrefix(config), options, warn);
        return model;
    }

    /// <summary>The attribute holding the backbone in transformers (checkpoints of the bare backbone omit it).</summary>
    public static string BackbonePrefix(ModelConfig config) => config.Architecture switch
    {
        Architecture.Gpt2 => "transformer.",
        Architecture.Llama => "model.",
        _ => "distilbert.",
    };

    // Buffers that some checkpoints carry and transformers recomputes: the causal-mask constants of old GPT-2
    // checkpoints and Llama's rotary inverse frequencies.
    static bool IsRecomputedBuffer(string name) =>
        name.EndsWith(".attn.bias", StringComparison.Ordinal) || name.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
        || name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal);

    /// <summary>
    /// Copies every parameter of <paramref name="model"/> from the checkpoint, one tensor at a time (no second
    /// copy of the checkpoint in memory), converting to the run dtype. Missing tensors and shape mismatches
    /// are errors naming the tensor and file; tensors the model does not use are reported through <paramref name="warn"/>.
    /// </summary>
    public static void LoadWeights(Module model, string directory, string backbonePrefix, ModelOptions options, Action<string>? warn = null)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        var used = new HashSet<string>();
        using (no_grad())
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                string? stored = StoredName(checkpoint, name, backbonePrefix)
                    ?? throw new InvalidInputException(
                        $"{directory}: the checkpoint has no tensor \"{name}\"" +
                        (name.StartsWith(backbonePrefix, StringComparison.Ordinal) ? $" (nor \"{name[backbonePrefix.Length..]}\")" : "") +
                        $" that {model.GetName()} needs");
                var entry = checkpoint.Entry(stored);
                if (!entry.Shape.SequenceEqual(parameter.shape))
                    throw new InvalidInputException(
                        $"{directory}: tensor \"{stored}\" has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", parameter.shape)}] from config.json");
                using var scope = NewDisposeScope();
                parameter.copy_(checkpoint.ReadTensor(stored, options.DType, options.Device));
                used.Add(stored);
            }
        }
        var tiedHead = model is CausalLanguageModel lm && lm.Config.TieWordEmbeddings ? "lm_head.weight" : null;
        var unused = checkpoint.Names.Where(n => !used.Contains(n) && !IsRecomputedBuffer(n) && n != tiedHead).OrderBy(n => n).ToList();
        if (unused.Count > 0 && warn is not null)
            warn($"{directory}: {unused.Count} tensor(s) not used by {model.GetName()}: {string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", …" : "")}");
    }

    static string? StoredName(SafetensorsCheckpoint checkpoint, string name, string backbonePrefix)
    {
        if (checkpoint.Contains(name)) return name;
        if (name.StartsWith(backbonePrefix, StringComparison.Ordinal) && checkpoint.Contains(name[backbonePrefix.Length..]))
            return name[backbonePrefix.Length..];
        return null;
    }
}
