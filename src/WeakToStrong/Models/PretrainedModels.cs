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
        var model = ModelFactory.NewCausalLM(config, options);
        LoadWeights(model, directory, BackbonePrefix(config), options, warn);
        return model;
    }

    public static SequenceClassifier LoadSequenceClassifier(string reference, ModelOptions options, Action<string>? warn = null)
    {
        string directory = ModelLocator.Resolve(reference);
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        var model = ModelFactory.NewSequenceClassifier(config, options);
        LoadWeights(model, directory, BackbonePrefix(config), options, warn);
        return model;
    }

    /// <summary>Tokenizer files copied by <see cref="Save"/>: every format <see cref="Tokenization.HfTokenizer.Load"/> reads, and their side files.</summary>
    public static readonly string[] TokenizerFiles =
    [
        "tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt",
        "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    ];

    /// <summary>
    /// Writes <paramref name="model"/> as a Hugging Face directory that transformers' <c>from_pretrained</c> and our loaders
    /// read: config.json (<see cref="ModelConfig.ToJson"/>, torch_dtype from the weights), model.safetensors (parameters under
    /// their HF names in logical [out, in] shape; a tied lm_head is not stored, as transformers does), generation_config.json
    /// (bos/eos/pad) and, from <paramref name="tokenizerDirectory"/>, the tokenizer files. Atomic: everything is written into a
    /// sibling temporary directory that is then renamed into place; an existing <paramref name="directory"/> is replaced only once
    /// the new one is complete, and any failure leaves it as it was.
    /// </summary>
    public static void Save(Module model, ModelConfig config, string directory, string? tokenizerDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        if (string.IsNullOrWhiteSpace(directory)) throw new InvalidInputException("model output directory is empty; expected a directory path");
        // Our modules carry transformers' class names, so a model and a config that disagree are caught before anything is written.
        if (model.GetName() != config.ArchitectureName)
            throw new InvalidInputException($"{directory}: the model is a {model.GetName()} but its config describes a {config.ArchitectureName}");
        string target = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(target)) throw new InvalidInputException($"{target}: is a file; expected a model directory");
        string parent = Path.GetDirectoryName(target) ?? throw new InvalidInputException($"{target}: cannot save a model at a file-system root");
        Directory.CreateDirectory(parent);

        string staging = $"{target}.saving-{Guid.NewGuid():N}";
        try
        {
            Directory.CreateDirectory(staging);
            var tensors = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
            if (tensors.Count == 0) throw new InvalidInputException($"{directory}: {model.GetName()} has no parameters to save");
            var dtypes = tensors.Values.Select(t => t.dtype).Distinct().ToList();
            if (dtypes.Count != 1) throw new InvalidInputException($"{directory}: parameters have mixed dtypes ({string.Join(", ", dtypes)}); config.json names one torch_dtype");
            var saved = config with { TorchDtype = TorchDtypeName(dtypes[0], directory) };

            saved.Save(Path.Combine(staging, "config.json"));
            using (no_grad()) SafetensorsWriter.Save(Path.Combine(staging, SafetensorsWriter.SingleFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            WriteGenerationConfig(saved, Path.Combine(staging, "generation_config.json"));
            if (tokenizerDirectory is not null) CopyTokenizer(tokenizerDirectory, staging);
            Replace(target, staging);
        }
        catch
        {
            TryDeleteDirectory(staging);
            throw;
        }
    }

    static string TorchDtypeName(ScalarType dtype, string directory) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new InvalidInputException($"{directory}: parameters of dtype {dtype} cannot be saved as a model (expected float32, bfloat16 or float16)"),
    };

    /// <summary>What transformers' GenerationConfig.from_model_config keeps: the special token ids.</summary>
    static void WriteGenerationConfig(ModelConfig config, string path)
    {
        var json = new Dictionary<string, object?> { ["_from_model_config"] = true };
        if (config.BosTokenId is int bos) json["bos_token_id"] = bos;
        if (config.EosTokenIds.Count > 0) json["eos_token_id"] = config.EosTokenIds.Count == 1 ? config.EosTokenIds[0] : config.EosTokenIds.ToArray();
        if (config.PadTokenId is int pad) json["pad_token_id"] = pad;
        HfJsonWriter.Write(path, json);
    }

    static void CopyTokenizer(string tokenizerDirectory, string staging)
    {
        if (!Directory.Exists(tokenizerDirectory)) throw new InvalidInputException($"{tokenizerDirectory}: tokenizer directory does not exist");
        var present = TokenizerFiles.Where(name => File.Exists(Path.Combine(tokenizerDirectory, name))).ToList();
        if (present.Count == 0)
            throw new InvalidInputException($"{tokenizerDirectory}: no tokenizer files (looked for {string.Join(", ", TokenizerFiles)})");
        foreach (var name in present) File.Copy(Path.Combine(tokenizerDirectory, name), Path.Combine(staging, name));
    }

    /// <summary>Puts the complete <paramref name="staging"/> directory at <paramref name="target"/>; the old one is removed only after the swap.</summary>
    static void Replace(string target, string staging)
    {
        if (!Directory.Exists(target))
        {
            Directory.Move(staging, target);
            return;
        }
        string retired = $"{target}.replaced-{Guid.NewGuid():N}";
        Directory.Move(target, retired);
        try
        {
            Directory.Move(staging, target);
        }
        catch
        {
            Directory.Move(retired, target);
            throw;
        }
        TryDeleteDirectory(retired);
    }

    static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover sibling directory is harmless to readers of the model directory.
        }
        catch (UnauthorizedAccessException)
        {
        }
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
    /// <param name="allowMissing">parameters that may be absent (a new head on a pretrained backbone): they keep their values</param>
    public static void LoadWeights(Module model, string directory, string backbonePrefix, ModelOptions options, Action<string>? warn = null,
        Func<string, bool>? allowMissing = null)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        var used = new HashSet<string>();
        using (no_grad())
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (StoredName(checkpoint, name, backbonePrefix) is null && allowMissing?.Invoke(name) == true) continue;
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
                var weights = checkpoint.ReadTensor(stored, options.DType, parameter.device); // each part of a device map on its own device
                RequireFinite(weights, entry, checkpoint.PathOf(stored));
                parameter.copy_(weights);
                used.Add(stored);
            }
        }
        var tiedHead = model is CausalLanguageModel lm && lm.Config.TieWordEmbeddings ? "lm_head.weight" : null;
        var unused = checkpoint.Names.Where(n => !used.Contains(n) && !IsRecomputedBuffer(n) && n != tiedHead).OrderBy(n => n).ToList();
        if (unused.Count > 0 && warn is not null)
            warn($"{directory}: {unused.Count} tensor(s) not used by {model.GetName()}: {string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", …" : "")}");
    }

    /// <summary>
    /// Refuses a tensor holding NaN or ±Inf (as converted to the run dtype, so a float32 value beyond float16's range counts):
    /// such weights give NaN log-probabilities and crash sampling far from their cause. One pass over the tensor just read.
    /// </summary>
    static void RequireFinite(Tensor weights, SafetensorsEntry entry, string file)
    {
        if (!weights.is_floating_point() || weights.isfinite().all().item<bool>()) return;
        long nan = weights.isnan().sum().item<long>();
        long infinite = weights.isinf().sum().item<long>();
        string converted = entry.ScalarType == weights.dtype ? "" : $" once converted from {entry.DType} to {weights.dtype.ToString().ToLowerInvariant()}";
        throw new InvalidInputException(
            $"{entry.Name} in {file} holds {nan} NaN and {infinite} infinite value(s){converted}; expected finite weights (a checkpoint saved after training diverged?)");
    }

    static string? StoredName(SafetensorsCheckpoint checkpoint, string name, string backbonePrefix)
    {
        if (checkpoint.Contains(name)) return name;
        if (name.StartsWith(backbonePrefix, StringComparison.Ordinal) && checkpoint.Contains(name[backbonePrefix.Length..]))
            return name[backbonePrefix.Length..];
        return null;
    }
}
