using System.CommandLine;
using System.Text.Json;
using WeakToStrong.Models;
using WeakToStrong.Search;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts generate`: sample a continuation from one causal LM.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "model directory or Hugging Face hub id (offline cache)", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "prompt text (encoded without special tokens)", Required = true };
        var maxNewTokens = new Option<int>("--max-new-tokens") { DefaultValueFactory = _ => 50 };
        var sampling = new SamplingFlags();
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "print prompt ids, generated ids and text as JSON" };
        var runtime = new RuntimeOptions();
        var command = new Command("generate", "Sample a continuation of a prompt.") { model, prompt, maxNewTokens, seed, json };
        sampling.AddTo(command);
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            var samplingOptions = sampling.Read(result);
            int newTokens = result.GetValue(maxNewTokens);
            if (newTokens <= 0) throw new InvalidInputException($"--max-new-tokens must be positive, got {newTokens}");
            var options = runtime.Apply(result);
            string reference = result.GetValue(model)!;
            var lm = PretrainedModels.LoadCausalLM(reference, options, Cli.Warn);
            var tokenizer = Cli.LoadTokenizerFor(reference, lm.Config);
            var promptIds = tokenizer.Encode(result.GetValue(prompt)!);
            // The KV cache is reserved for prompt + new tokens at once: refuse what the model's positions cannot hold.
            if ((long)promptIds.Count + newTokens > lm.Config.MaxPositionEmbeddings)
                throw new InvalidInputException($"--max-new-tokens: the prompt's {promptIds.Count} tokens plus {newTokens} new ones exceed the {lm.Config.MaxPositionEmbeddings} positions of {lm.Config.Path}");
            var stop = tokenizer.EosTokenIds.Concat(lm.Config.EosTokenIds).ToHashSet();
            var ids = Generation.Sample(lm, promptIds, newTokens, samplingOptions, stop, result.GetValue(seed));
            string text = tokenizer.Decode(ids, skipSpecialTokens: true);
            if (result.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { prompt = result.GetValue(prompt), prompt_ids = promptIds, ids, text }, Cli.Json));
            else
                Console.WriteLine(result.GetValue(prompt) + text);
            return 0;
        }));
        return command;
    }
}
