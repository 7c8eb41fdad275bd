using System.CommandLine;
using System.Text.Json;
using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts logprobs`: log p(ids[i] | ids[&lt;i]) per token, the quantity the implicit reward is built from.</summary>
internal static class LogprobsCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "model directory or Hugging Face hub id (offline cache)", Required = true };
        var text = new Option<string?>("--text") { Description = "text to score (encoded without special tokens)" };
        var ids = new Option<string?>("--ids") { Description = "comma-separated token ids to score instead of --text" };
        var json = new Option<bool>("--json") { Description = "print {\"ids\":[...],\"logprobs\":[...]}; logprobs[0] is null" };
        var runtime = new RuntimeOptions();
        var command = new Command("logprobs", "Per-token log-probabilities of a sequence under a causal LM.") { model, text, ids, json };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            string? givenText = result.GetValue(text), givenIds = result.GetValue(ids);
            if ((givenText is null) == (givenIds is null)) throw new InvalidInputException("give exactly one of --text and --ids");
            var options = runtime.Apply(result);
            string reference = result.GetValue(model)!;
            var lm = PretrainedModels.LoadCausalLM(reference, options, Cli.Warn);
            // Text can encode to any id of the tokenizer; given --ids are checked against the model below, and then the tokenizer only decodes.
            var tokenizer = givenText is not null ? Cli.LoadTokenizerFor(reference, lm.Config) : !result.GetValue(json) ? Cli.LoadTokenizer(reference) : null;
            int[] sequence = givenText is not null ? tokenizer!.Encode(givenText).ToArray() : Cli.ParseIds(givenIds!, "--ids");
            Cli.CheckIds(sequence, lm.Config, givenIds is not null ? "--ids" : "--text");
            float[] logprobs = TokenLogprobs(lm, sequence, options);

            if (result.GetValue(json))
            {
                var values = new double?[sequence.Length];
                for (int i = 1; i < sequence.Length; i++) values[i] = logprobs[i - 1];
                Console.WriteLine(JsonSerializer.Serialize(new { ids = sequence, logprobs = values }, Cli.Json));
                return 0;
            }
            Console.WriteLine($"{"pos",4}  {"id",7}  {"logprob",10}  token");
            for (int i = 0; i < sequence.Length; i++)
            {
                string piece = tokenizer!.Decode([sequence[i]]).Replace("\n", "\\n");
                string value = i == 0 ? "" : logprobs[i - 1].ToString("F4");
                Console.WriteLine($"{i,4}  {sequence[i],7}  {value,10}  {piece}");
            }
            Console.WriteLine($"total log p(ids[1:] | ids[0]) = {logprobs.Sum():F4}");
            return 0;
        }));
        return command;
    }

    /// <summary>log p(ids[i] | ids[&lt;i]) for i = 1..n−1, computed in fp32.</summary>
    public static float[] TokenLogprobs(CausalLanguageModel lm, int[] sequence, ModelOptions options)
    {
        if (sequence.Length < 2) return [];
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var input = tensor(sequence.Select(i => (long)i).ToArray(), device: options.Device).unsqueeze(0);
        var logits = lm.Forward(input).to(ScalarType.Float32).log_softmax(-1);
        var next = input.narrow(1, 1, sequence.Length - 1).unsqueeze(-1);
        return logits.narrow(1, 0, sequence.Length - 1).gather(-1, next).squeeze(-1).squeeze(0).cpu().data<float>().ToArray();
    }
}
