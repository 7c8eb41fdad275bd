using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using WeakToStrong.Models;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts template`: a model's chat template rendered for a conversation, as transformers' apply_chat_template(add_generation_prompt=True).</summary>
internal static class TemplateCommand
{
    // The text holds special tokens (<|user|>, </s>): keep them readable in JSON instead of \u003C escapes.
    static readonly JsonSerializerOptions ReadableJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "model directory or Hugging Face hub id (offline cache)", Required = true };
        var system = new Option<string?>("--system") { Description = "system prompt (a system turn before --user; \"\" gives an empty one)" };
        var user = new Option<string?>("--user") { Description = "the user's message" };
        var messages = new Option<string?>("--messages") { Description = "a JSON file: [{\"role\": …, \"content\": …}, …] instead of --system/--user" };
        var json = new Option<bool>("--json") { Description = "print {\"text\": …, \"ids\": […]}: the prompt and its token ids (no special tokens added; those in the text are matched)" };
        var command = new Command("template", "Render a model's chat template for a conversation, ending with the generation prompt.") { model, system, user, messages, json };
        command.SetAction(result => Cli.Run(() =>
        {
            string? givenUser = result.GetValue(user), givenFile = result.GetValue(messages), givenSystem = result.GetValue(system);
            if ((givenUser is null) == (givenFile is null)) throw new InvalidInputException("give exactly one of --user and --messages");
            if (givenFile is not null && givenSystem is not null) throw new InvalidInputException("--system goes with --user; put a system turn in the --messages file instead");

            var conversation = givenFile is not null ? ChatMessage.ReadJsonFile(givenFile) : [];
            if (givenSystem is not null) conversation.Add(new ChatMessage("system", givenSystem));
            if (givenUser is not null) conversation.Add(new ChatMessage("user", givenUser));

            string directory = ModelLocator.Resolve(result.GetValue(model)!);
            string text = ChatTemplate.Load(directory).Render(conversation, addGenerationPrompt: true);
            if (result.GetValue(json))
            {
                var ids = HfTokenizer.Load(directory).Encode(text, addSpecialTokens: false);
                Console.WriteLine(JsonSerializer.Serialize(new { text, ids }, ReadableJson));
            }
            else Console.Out.Write(text); // exactly the prompt: no newline added
            return 0;
        }));
        return command;
    }
}
