using System.CommandLine;
using WeakToStrong.Benchmarks;
using WeakToStrong.Models;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts bench …`: speed benchmarks that print tables (never timed tests).</summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks.") { ForwardCommand() };

    static Command ForwardCommand()
    {
        var model = new Option<string?>("--model") { Description = "model directory or hub id" };
        var random = new Option<string?>("--random") { Description = "random weights of a preset shape: gpt2-small, gpt2-medium, gpt2-large" };
        var batches = new Option<string>("--batch-sizes") { DefaultValueFactory = _ => "1,16" };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 64 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 50 };
        var repeats = new Option<int>("--repeats") { DefaultValueFactory = _ => 3 };
        var memorySteps = new Option<int>("--memory-steps") { Description = "also report RSS after 100 and after this many decode steps (0 = skip)", DefaultValueFactory = _ => 1000 };
        var runtime = new RuntimeOptions();
        var command = new Command("forward", "Prefill and cached-decode tokens/s at several batch sizes.") { model, random, batches, promptTokens, newTokens, repeats, memorySteps };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            string? reference = result.GetValue(model), preset = result.GetValue(random);
            if ((reference is null) == (preset is null)) throw new InvalidInputException("give exactly one of --model and --random");
            int prompt = result.GetValue(promptTokens), generated = result.GetValue(newTokens), runs = result.GetValue(repeats);
            if (prompt <= 0 || generated <= 0 || runs <= 0) throw new InvalidInputException("--prompt-tokens, --new-tokens and --repeats must be positive");
            var options = runtime.Apply(result);
            CausalLanguageModel lm;
            if (reference is not null) lm = PretrainedModels.LoadCausalLM(reference, options, Cli.Warn);
            else
            {
                var config = ModelConfig.Preset(preset!);
                lm = config.Architecture == Architecture.Gpt2 ? new GPT2LMHeadModel(config, options) : new LlamaForCausalLM(config, options);
                lm.InitializeWeights(new TorchSharp.torch.Generator(0, options.Device));
            }
            var c = lm.Config;
            Console.WriteLine($"model: {reference ?? "random " + preset} ({c.NumHiddenLayers} layers, {c.HiddenSize} wide, vocab {c.VocabSize}), " +
                $"{options.DType}, {options.Device.type}, threads {TorchSharp.torch.get_num_threads()}");
            Console.WriteLine($"{"batch",5}  {"prefill tok",11}  {"prefill ms",10}  {"prefill tok/s",13}  {"decode ms/step",14}  {"decode tok/s",12}");
            foreach (int batch in Cli.ParseIds(result.GetValue(batches)!, "--batch-sizes"))
            {
                if (batch == 0) throw new InvalidInputException("--batch-sizes: batch sizes must be positive");
                var row = ForwardBenchmark.Measure(lm, batch, prompt, generated, runs);
                Console.WriteLine($"{batch,5}  {prompt,11}  {row.PrefillSeconds * 1000,10:F1}  {row.PrefillTokensPerSecond,13:F1}  {row.DecodeSecondsPerStep * 1000,14:F2}  {row.DecodeTokensPerSecond,12:F1}");
            }
            int steps = result.GetValue(memorySteps);
            if (steps > 0)
            {
                var (first, last) = ForwardBenchmark.MemoryAfterSteps(lm, 100, steps);
                Console.WriteLine($"RSS after 100 decode steps: {first / 1048576.0:F1} MiB; after {steps}: {last / 1048576.0:F1} MiB ({(last - first) * 100.0 / first:+0.0;-0.0}%)");
            }
            return 0;
        }));
        return command;
    }
}
