using System.Text.Json;

namespace WeakToStrong.Tokenization;

/// <summary>Reading the JSON files of a model directory, turning every problem into an <see cref="InvalidInputException"/> that names the file.</summary>
internal static class JsonFiles
{
    /// <summary>The parsed file, or null when it does not exist (all tokenizer side files are optional).</summary>
    public static JsonElement? ReadOptionalObject(string path) => File.Exists(path) ? ReadObject(path) : null;

    public static JsonElement ReadObject(string path)
    {
        string text;
        try { text = Data.StrictUtf8.ReadAllText(path); }
        catch (IOException e) { throw new InvalidInputException($"{path}: cannot be read: {e.Message}", e); }
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidInputException($"{path}: expected a JSON object at the top level, found {document.RootElement.ValueKind}");
            return document.RootElement.Clone();
        }
        catch (JsonException e) { throw new InvalidInputException($"{path}: malformed JSON: {e.Message}", e); }
    }

    public static JsonElement? Property(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static string? String(this JsonElement element, string name, string file) => element.Property(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        var value => throw new InvalidInputException($"{file}: \"{name}\" should be a string, found {value.Value.ValueKind}"),
    };

    public static bool? Bool(this JsonElement element, string name, string file) => element.Property(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        var value => throw new InvalidInputException($"{file}: \"{name}\" should be true or false, found {value.Value.ValueKind}"),
    };

    public static int ToInt(this JsonElement value, string what, string file) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number)
            ? number
            : throw new InvalidInputException($"{file}: {what} should be an integer, found {value}");
}
