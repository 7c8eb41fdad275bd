using System.CommandLine;
using System.Text;
using WeakToStrong.Search;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts score`: the implicit value of given responses, scored as a search scores them, without searching.</summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var tunedRef = new Option<string>("--tuned") { Description = "the small tuned model π* (directory or hub id)", Required = true };
        var untunedRef = new Option<string>("--untuned") { Description = "its untuned reference π_ref", Required = true };
        var tunedTemplate = new Option<string>("--tuned-template") { Description = "how π* sees the prompt", DefaultValueFactory = _ => PromptTemplate.Placeholder };
        var untunedTemplate = new Option<string>("--untuned-template") { Description = "how π_ref sees the prompt", DefaultValueFactory = _ => PromptTemplate.Placeholder };
        var chat = new Option<bool>("--chat") { Description = "both models through their own chat templates (instead of the two template flags)" };
        var systemPrompt = new Option<string?>("--system-prompt") { Description = "with --chat: a system turn (\"\" for an empty one)" };
        var input = new Option<string>("--input") { Description = "JSONL: {\"prompt\": …, \"response\": …, \"finished\": true|false} per line", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL written: each input line with implicit_value, tuned_logprob and untuned_logprob (never overwritten)", Required = true };
        var runtime = new RuntimeOptions();
        var command = new Command("score", "Score given responses with the small pair's implicit value (as CBS and BoN score them), without searching.")
        {
            tunedRef, untunedRef, tunedTemplate, untunedTemplate, chat, systemPrompt, input, output,
        };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            string outputPath = result.GetValue(output)!;
            if (File.Exists(outputPath) || Directory.Exists(outputPath))
                throw new InvalidInputException($"--output: {outputPath} exists; choose a new file (scores are never written over a file)");
            OutputLocations.CheckFile(outputPath, "--output");
            var rows = ResponseScoring.Read(result.GetValue(input)!);
            var options = runtime.Apply(result);
            bool useChat = result.GetValue(chat);
            if (useChat && (result.GetValue(tunedTemplate) != PromptTemplate.Placeholder || result.GetValue(untunedTemplate) != PromptTemplate.Placeholder))
                throw new InvalidInputException("--chat: give either --chat or the template flags, not both");
            if (!useChat && result.GetValue(systemPrompt) is not null) throw new InvalidInputException("--system-prompt applies with --chat only");
            PromptedModel Load(string name, string reference, string template, string flag) =>
                Cli.LoadPrompted(name, reference, useChat ? new PromptFormat(null, result.GetValue(systemPrompt)) : PromptFormat.Parse(template, null, flag), options);
            var tuned = Load("tuned", result.GetValue(tunedRef)!, result.GetValue(tunedTemplate)!, "--tuned-template");
            var untuned = Load("untuned", result.GetValue(untunedRef)!, result.GetValue(untunedTemplate)!, "--untuned-template");

            var scores = ResponseScoring.Score(tuned, untuned, rows,
                done => { if (done % 100 == 0 || done == rows.Count) Console.Error.WriteLine($"wts: scored {done}/{rows.Count}"); });
            OutputLocations.WriteAtomically(outputPath, ResponseScoring.ToJsonl(rows, scores), overwrite: false);
            Console.Error.WriteLine($"wts: {rows.Count} responses scored into {outputPath}; mean implicit value {scores.Average(s => s.ImplicitValue):F4}");
            return 0;
        }));
        return command;
    }
}
