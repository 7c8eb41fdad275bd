using System.Diagnostics;
using System.Globalization;
using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>
/// How one model will use a device in one cell of a run: <see cref="Rows"/> sequences each holding up to
/// <see cref="CacheTokens"/> tokens in the KV cache (0: no cache, a full forward each time), and the largest
/// forward it runs: <see cref="QueryTokens"/> new tokens per row against <see cref="KeyTokens"/> keys, with logits
/// at <see cref="LogitPositions"/> positions per row (0 for a classifier, which reads one hidden state).
/// </summary>
public sealed record ModelUse(string What, int Rows, int CacheTokens, int QueryTokens, int KeyTokens, int LogitPositions);

/// <summary>
/// Device memory a model needs, from its config.json alone (no weights read): parameters created in the run's dtype
/// (the loader converts every tensor to it), KV caches of the rows a method holds, and the working memory of its
/// largest forward with one decoder layer's intermediates alive at a time (what per-layer disposal gives; PyTorch's
/// own peak). The per-layer functions are what a layer-wise device map needs to split a model.
/// </summary>
public static class MemoryEstimate
{
    public const long GiB = 1L << 30;

    public static int BytesPerElement(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "expected float32, bfloat16 or float16"),
    };

    /// <summary>Parameters before the first layer: token (and position) embeddings, DistilBERT's embedding LayerNorm.</summary>
    public static long EmbeddingParameters(ModelConfig c)
    {
        long tokens = (long)c.VocabSize * c.HiddenSize;
        return c.Architecture switch
        {
            Architecture.Gpt2 => tokens + (long)c.MaxPositionEmbeddings * c.HiddenSize,
            Architecture.DistilBert => tokens + (long)c.MaxPositionEmbeddings * c.HiddenSize + 2L * c.HiddenSize,
            _ => tokens,
        };
    }

    /// <summary>Parameters of one decoder (or encoder) layer.</summary>
    public static long LayerParameters(ModelConfig c)
    {
        long h = c.HiddenSize, i = c.IntermediateSize;
        switch (c.Architecture)
        {
            case Architecture.Gpt2:
                // ln_1, c_attn (h → 3h), c_proj, ln_2, c_fc (h → i), mlp.c_proj: all with biases.
                return 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h);
            case Architecture.DistilBert:
                return 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
            default:
                long q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
                long attention = h * q + 2 * h * kv + q * h + (c.QkvBias ? q + 2 * kv : 0) + (c.OutputProjectionBias ? h : 0);
                long mlp = 3 * h * i + (c.MlpBias ? 2 * i + h : 0);
                return attention + mlp + 2 * h; // input_layernorm, post_attention_layernorm
        }
    }

    /// <summary>Parameters after the last layer: the final norm and the LM head (untied) or the classification head.</summary>
    public static long HeadParameters(ModelConfig c)
    {
        long h = c.HiddenSize;
        long finalNorm = c.Architecture switch { Architecture.Gpt2 => 2 * h, Architecture.Llama => h, _ => 0 };
        long head = c.Head == HeadKind.SequenceClassification
            ? c.Architecture == Architecture.DistilBert ? h * h + h + h * c.NumLabels + c.NumLabels : h * c.NumLabels
            : c.TieWordEmbeddings ? 0 : h * c.VocabSize;
        return finalNorm + head;
    }

    public static long Parameters(ModelConfig c) => EmbeddingParameters(c) + c.NumHiddenLayers * LayerParameters(c) + HeadParameters(c);

    public static long WeightBytes(ModelConfig c, ScalarType dtype) => Parameters(c) * BytesPerElement(dtype);

    /// <summary>One layer's weights in the run's dtype.</summary>
    public static long LayerWeightBytes(ModelConfig c, ScalarType dtype) => LayerParameters(c) * BytesPerElement(dtype);

    /// <summary>One layer's KV cache for one token of one row: K and V over the key/value heads; an encoder keeps none.</summary>
    public static long LayerKvBytesPerToken(ModelConfig c, ScalarType dtype) =>
        c.Architecture == Architecture.DistilBert ? 0 : 2L * c.NumKeyValueHeads * c.HeadDim * BytesPerElement(dtype);

    public static long KvCacheBytes(ModelConfig c, ScalarType dtype, long rows, long tokens) =>
        c.NumHiddenLayers * LayerKvBytesPerToken(c, dtype) * rows * tokens;

    /// <summary>
    /// Intermediates of one layer's forward: the residual stream and its normed copy, then the larger of attention
    /// (q, k, v, scores and probabilities over every key, output) and the MLP (gate, up, their product).
    /// </summary>
    public static long LayerWorkingBytes(ModelConfig c, ScalarType dtype, long rows, long queryTokens, long keyTokens)
    {
        long b = BytesPerElement(dtype), positions = rows * queryTokens;
        long residual = 2 * positions * c.HiddenSize * b;
        long projections = positions * ((long)c.NumAttentionHeads * 2 + 2L * c.NumKeyValueHeads) * c.HeadDim * b;
        long scores = 2 * rows * c.NumAttentionHeads * queryTokens * keyTokens * b;
        long mlp = (c.Architecture == Architecture.Llama ? 3 : 2) * positions * c.IntermediateSize * b;
        return residual + Math.Max(projections + scores, mlp);
    }

    /// <summary>Logits in the model's dtype and their float32 log-softmax.</summary>
    public static long LogitsBytes(ModelConfig c, ScalarType dtype, long rows, long positions) =>
        rows * positions * c.VocabSize * (BytesPerElement(dtype) + 4L);

    public static long WorkingBytes(ModelConfig c, ScalarType dtype, ModelUse use) =>
        LayerWorkingBytes(c, dtype, use.Rows, use.QueryTokens, use.KeyTokens) + LogitsBytes(c, dtype, use.Rows, use.LogitPositions);

    public static string Gib(long bytes) => (bytes / (double)GiB).ToString("F2", CultureInfo.InvariantCulture) + " GiB";
}

/// <summary>How much memory a device offers, and where the number came from (printed beside it).</summary>
public sealed record DeviceMemory(string Device, long? Bytes, string Source)
{
    /// <summary>
    /// The memory of the named devices (cpu, cuda, cuda:N, or a comma-separated list, summed): <paramref name="overrideGiB"/>
    /// per device when given; else MemAvailable from /proc/meminfo for the CPU, and nvidia-smi's memory.total for a GPU
    /// (TorchSharp 0.107 exposes no CUDA memory query). Unknown when neither answers.
    /// </summary>
    public static DeviceMemory Of(string devices, double? overrideGiB)
    {
        var names = devices.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (string name in names)
            if (name != "cpu" && name != "cuda" && !(name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name.AsSpan(5), out int i) && i >= 0))
                throw new InvalidInputException($"--device: expected cpu, cuda or cuda:N (or a comma-separated list), got \"{devices}\"");
        if (names.Length == 0) throw new InvalidInputException("--device: expected cpu, cuda or cuda:N, got nothing");
        if (overrideGiB is double given)
        {
            if (!(given > 0)) throw new InvalidInputException($"--device-memory: expected a positive number of GiB per device, got {given}");
            return new(devices, (long)(given * MemoryEstimate.GiB) * names.Length, $"--device-memory {given.ToString(CultureInfo.InvariantCulture)} GiB per device");
        }
        long total = 0;
        var sources = new List<string>();
        foreach (string name in names)
        {
            var (bytes, source) = name == "cpu" ? HostAvailable() : Gpu(name == "cuda" ? 0 : int.TryParse(name.AsSpan(5), out int index) ? index : 0);
            if (bytes is null) return new(devices, null, source);
            total += bytes.Value;
            sources.Add(source);
        }
        return new(devices, total, string.Join("; ", sources.Distinct()));
    }

    static (long?, string) HostAvailable()
    {
        const string meminfo = "/proc/meminfo";
        if (!File.Exists(meminfo)) return (null, "unknown: no /proc/meminfo here; pass --device-memory GiB");
        long? Field(string key) => File.ReadLines(meminfo).Where(l => l.StartsWith(key + ":", StringComparison.Ordinal))
            .Select(l => long.TryParse(l[(key.Length + 1)..].Trim().Split(' ')[0], out long kb) ? kb * 1024 : (long?)null).FirstOrDefault();
        long? available = Field("MemAvailable"), total = Field("MemTotal");
        return available is long a
            ? (a, $"MemAvailable in /proc/meminfo (of {(total is long t ? MemoryEstimate.Gib(t) : "?")} MemTotal)")
            : (null, "unknown: /proc/meminfo has no MemAvailable; pass --device-memory GiB");
    }

    static (long?, string) Gpu(int index)
    {
        try
        {
            var start = new ProcessStartInfo("nvidia-smi")
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
                ArgumentList = { $"--id={index}", "--query-gpu=memory.total", "--format=csv,noheader,nounits" },
            };
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromSeconds(20))) { process.Kill(); return (null, "unknown: nvidia-smi did not answer; pass --device-memory GiB"); }
            if (process.ExitCode == 0 && long.TryParse(output.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long mib))
                return (mib * 1024 * 1024, $"memory.total of GPU {index} from nvidia-smi");
            return (null, $"unknown: nvidia-smi gave no memory for GPU {index}; pass --device-memory GiB");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (null, "unknown: nvidia-smi is not installed here and TorchSharp 0.107 cannot query CUDA memory; pass --device-memory GiB");
        }
    }
}
