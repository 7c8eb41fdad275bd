using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;

namespace WeakToStrong.Cli.Commands;

/// <summary>
/// `wts doctor`: the self-check to run first on a new machine or GPU node. A tiny random Llama-shaped model (grouped-query
/// attention, built in memory) runs on the device in the dtype, is compared with the same weights in float32 on the CPU,
/// and takes one CBS step as large model and guides; each check prints ok or FAIL, and any FAIL makes the exit code 1.
/// </summary>
internal static class DoctorCommand
{
    // Relative to the largest |logit| of the float32 CPU reference: float32 differs only by summation order (0 on the CPU
    // itself); bfloat16 keeps 8 significant bits (relative rounding 2⁻⁸ ≈ 0.004 per operation, compounded over two layers);
    // float16 keeps 11.
    static double Tolerance(ScalarType dtype) => dtype switch { ScalarType.BFloat16 => 0.05, ScalarType.Float16 => 0.01, _ => 1e-4 };

    public static Command Create()
    {
        var runtime = new RuntimeOptions();
        var command = new Command("doctor", "Check this machine: native libraries, the device and dtype, a tiny forward with float32 parity, one CBS step, memory.");
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() => Check(runtime.Apply(result))));
        return command;
    }

    static int Check(ModelOptions options)
    {
        int failures = 0;
        void Report(string check, bool ok, string detail)
        {
            Console.WriteLine($"{(ok ? "ok  " : "FAIL")}  {check}: {detail}");
            if (!ok) failures++;
        }

        Version? glibc = NativeRequirements.GlibcVersion();
        string? libstdcxx = NativeRequirements.LibstdcxxPath();
        Version? glibcxx = libstdcxx is null ? null : NativeRequirements.HighestGlibcxx(libstdcxx);
        var missing = NativeRequirements.Missing(glibc, glibcxx, libstdcxx);
        Report("system", missing.Count == 0,
            $"glibc {glibc?.ToString() ?? "unknown"} (needs ≥ {NativeRequirements.Glibc}), {libstdcxx ?? "libstdc++.so.6 not found"} up to GLIBCXX_{glibcxx?.ToString() ?? "?"} (needs {NativeRequirements.Glibcxx})" +
            (missing.Count > 0 ? "; missing: " + string.Join(", ", missing) : ""));
        Report("threads", true, $"{get_num_threads()} torch threads; between ops, OpenMP: {NativeThreads.Describe()}");
        Report("device", true, $"{options.Device} ({(cuda.is_available() ? $"CUDA available, {cuda.device_count()} device(s)" : "CUDA not available")}), dtype {Name(options.DType)}");

        string tokenizerDirectory = Directory.CreateTempSubdirectory("wts-doctor-").FullName;
        try
        {
            // A byte-level BPE trained on a few sentences: the search needs text in and text out, and no file ships with the build.
            var corpus = Enumerable.Repeat("the quick brown fox jumps over the lazy dog. a weak model guides a strong one.", 8);
            ByteLevelBpeTrainer.Train(corpus, new ByteLevelBpeTrainingOptions { VocabSize = 300 }).Vocabulary.Save(tokenizerDirectory, 256);
            var tokenizer = HfTokenizer.Load(tokenizerDirectory);
            int eos = tokenizer.EosTokenId ?? throw new InvalidOperationException("the doctor's tokenizer has no EOS token");
            var config = ModelConfig.Llama(layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, vocabSize: tokenizer.VocabSize,
                positions: 256, bosTokenId: eos, eosTokenId: eos);

            using var reference = new LlamaForCausalLM(config, ModelOptions.Cpu);
            reference.InitializeWeights(new Generator(1234));
            using var model = new LlamaForCausalLM(config, options);
            using (no_grad())
                foreach (var ((_, source), (_, target)) in reference.named_parameters().Zip(model.named_parameters()))
                    target.copy_(source);

            var clock = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var ids = randint(0, config.VocabSize, [2, 24], dtype: ScalarType.Int64, generator: new Generator(99));
                var expected = reference.Forward(ids);
                var logits = model.Forward(ids.to(options.Device));
                bool finite = logits.isfinite().all().item<bool>();
                var actual = logits.to(ScalarType.Float32).cpu();
                double diff = (actual - expected).abs().max().item<float>();
                double scale = expected.abs().max().item<float>();
                double tolerance = Tolerance(options.DType) * scale;
                Report("forward", finite && logits.shape.SequenceEqual(new long[] { 2, 24, config.VocabSize }),
                    $"logits [{string.Join(", ", logits.shape)}] {Name(logits.dtype)} on {logits.device}, {clock.ElapsedMilliseconds} ms{(finite ? "" : ", NOT finite")}");
                Report("parity", diff <= tolerance, string.Create(CultureInfo.InvariantCulture,
                    $"max |logit − float32 CPU| = {diff:G3} (tolerance {Tolerance(options.DType):G2} × max |logit| {scale:G3} = {tolerance:G3})"));
            }

            clock.Restart();
            var prompted = new PromptedModel("doctor", model, tokenizer, PromptTemplate.Raw);
            var tuned = new PromptedModel("doctor-tuned", model, tokenizer, PromptTemplate.Raw);
            var cbs = new MethodSpec(MethodKind.Cbs, W: 2, K: 2, L: 4);
            var outputs = Methods.Run(cbs, new MethodModels(prompted, tuned, prompted), new GenerationOptions(MaxNewTokens: 8, Seed: 7),
                [new SearchPrompt(0, "the quick brown fox"), new SearchPrompt(1, "a weak model")]);
            bool searched = outputs.Count == 2 && outputs.All(o => o.Best.TokenIds.Count > 0 && double.IsFinite(o.Best.Score));
            Report("cbs", searched, $"CBS(2,2,4), 2 prompts × 8 new tokens, the model as large, tuned and untuned: " +
                $"{string.Join(", ", outputs.Select(o => $"{o.Best.TokenIds.Count} tokens"))} in {clock.ElapsedMilliseconds} ms");
        }
        finally
        {
            try { Directory.Delete(tokenizerDirectory, recursive: true); } catch (IOException) { }
        }

        Report("memory", true, Memory(options.Device));
        Console.WriteLine(failures == 0 ? "all checks passed" : $"{failures} check(s) failed");
        return failures == 0 ? 0 : 1;
    }

    static string Name(ScalarType dtype) => dtype.ToString().ToLowerInvariant();

    /// <summary>Peak resident memory of this process, and the GPU's use from nvidia-smi (TorchSharp 0.107 has no CUDA memory query).</summary>
    static string Memory(Device device)
    {
        string? peak = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))?[6..].Trim()
            : null;
        string host = $"peak resident {peak ?? $"{Environment.WorkingSet / (1 << 20)} MiB (now)"}";
        if (device.type != DeviceType.CUDA) return host;
        var memory = DeviceMemory.Of($"cuda:{Math.Max(0, device.index)}", null);
        return host + $"; GPU {(memory.Bytes is long bytes ? MemoryEstimate.Gib(bytes) : "memory unknown")} ({memory.Source}); " +
            "CUDA allocator statistics are not exposed by TorchSharp 0.107";
    }
}
