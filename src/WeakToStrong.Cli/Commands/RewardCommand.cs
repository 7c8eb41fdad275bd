using System.CommandLine;
using System.Text.Json;
using WeakToStrong.Evaluation;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts reward`: a sequence classifier's logits and the scalar reward read from them.</summary>
internal static class RewardCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "reward model / classifier directory or hub id", Required = true };
        var text = new Option<string>("--text") { Required = true };
        var json = new Option<bool>("--json") { Description = "print logits, labels and reward as JSON" };
        var runtime = new RuntimeOptions();
        var command = new Command("reward", "Score a text with a reward model (GPT-2/Llama score head, or DistilBERT classifier).") { model, text, json };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            var options = runtime.Apply(result);
            using var rewardModel = RewardModel.Load(result.GetValue(model)!, options, Cli.Warn);
            float[] logits = rewardModel.Logits([result.GetValue(text)!])[0];
            double reward = rewardModel.RewardOf(logits);
            var labels = Enumerable.Range(0, logits.Length).Select(rewardModel.LabelName).ToArray();
            if (result.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { logits, labels, reward }, Cli.Json));
            else
            {
                for (int i = 0; i < logits.Length; i++) Console.WriteLine($"{labels[i],-12} {logits[i],10:F4}");
                Console.WriteLine($"{"reward",-12} {reward,10:F4}");
            }
            return 0;
        }));
        return command;
    }
}
