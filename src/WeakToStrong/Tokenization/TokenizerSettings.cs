using System.Text.Json;

namespace WeakToStrong.Tokenization;

/// <summary>A special token's text and the file that named it, so that errors can point at that file.</summary>
internal sealed record NamedToken(string Content, string SourceFile);

/// <summary>A chat template from tokenizer_config.json: <see cref="Name"/> is null for the plain string form.</summary>
internal sealed record ConfigChatTemplate(string? Name, string Template);

/// <summary>
/// What the side files of a model directory say about special tokens and framing: <c>tokenizer_config.json</c>
/// (which wins), <c>special_tokens_map.json</c> (fills in roles the config leaves out), <c>added_tokens.json</c>
/// and <c>generation_config.json</c>. All of them are optional.
/// </summary>
internal sealed class TokenizerSettings
{
    public const string ConfigFile = "tokenizer_config.json";
    public const string SpecialTokensMapFile = "special_tokens_map.json";
    public const string AddedTokensFile = "added_tokens.json";
    public const string GenerationConfigFile = "generation_config.json";

    public static readonly string[] Roles = ["bos_token", "eos_token", "unk_token", "pad_token", "cls_token", "sep_token", "mask_token"];

    /// <summary>True when tokenizer_config.json exists; without it, tokenizers fall back to their HF class defaults.</summary>
    public bool HasConfig { get; private init; }
    /// <summary>Role ("bos_token", ...) to token. A role set to null in a file is absent here but listed in <see cref="ExplicitlyUnset"/>.</summary>
    public Dictionary<string, NamedToken> SpecialTokens { get; } = [];
    public HashSet<string> ExplicitlyUnset { get; } = [];
    public List<NamedToken> AdditionalSpecialTokens { get; } = [];
    public List<AddedToken> AddedTokens { get; } = [];
    public bool? AddBosToken { get; private set; }
    public bool? AddEosToken { get; private set; }
    public bool? DoLowerCase { get; private set; }
    public bool? StripAccents { get; private set; }
    public bool? TokenizeChineseChars { get; private set; }
    /// <summary>LlamaTokenizer's <c>legacy</c>: true (or unset) puts the dummy-prefix "▁" in front of every piece of text between added tokens, false only at the start of the text.</summary>
    public bool? Legacy { get; private set; }
    /// <summary>Whether decode removes the spaces before punctuation and contractions (" ." → ".", " 's" → "'s"), as transformers' clean_up_tokenization.</summary>
    public bool? CleanUpTokenizationSpaces { get; private set; }
    public IReadOnlyList<int> GenerationEosTokenIds { get; private set; } = [];
    public string GenerationConfigPath { get; private init; } = "";
    public string ConfigPath { get; private init; } = "";
    /// <summary>
    /// tokenizer_config.json's "chat_template": null when absent; one unnamed entry for the string form, or the
    /// named entries of the list form <c>[{"name": …, "template": …}]</c>. (chat_template.jinja beside it is read by ChatTemplate.)
    /// </summary>
    public IReadOnlyList<ConfigChatTemplate>? ChatTemplates { get; private set; }

    public static TokenizerSettings Load(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile);
        var config = JsonFiles.ReadOptionalObject(configPath);
        var settings = new TokenizerSettings { HasConfig = config is not null, ConfigPath = configPath, GenerationConfigPath = Path.Combine(directory, GenerationConfigFile) };

        if (config is { } c)
        {
            settings.ReadRoles(c, configPath);
            settings.AddBosToken = c.Bool("add_bos_token", configPath);
            settings.AddEosToken = c.Bool("add_eos_token", configPath);
            settings.DoLowerCase = c.Bool("do_lower_case", configPath);
            settings.StripAccents = c.Bool("strip_accents", configPath);
            settings.TokenizeChineseChars = c.Bool("tokenize_chinese_chars", configPath);
            settings.Legacy = c.Bool("legacy", configPath);
            settings.CleanUpTokenizationSpaces = c.Bool("clean_up_tokenization_spaces", configPath);
            if (c.Property("added_tokens_decoder") is { } decoder) settings.ReadAddedTokensDecoder(decoder, configPath);
            if (c.Property("chat_template") is { } chatTemplate) settings.ChatTemplates = ReadChatTemplates(chatTemplate, configPath);
        }

        string mapPath = Path.Combine(directory, SpecialTokensMapFile);
        if (JsonFiles.ReadOptionalObject(mapPath) is { } map) settings.ReadRoles(map, mapPath);

        string addedPath = Path.Combine(directory, AddedTokensFile);
        if (JsonFiles.ReadOptionalObject(addedPath) is { } added)
            foreach (var entry in added.EnumerateObject())
                if (!settings.AddedTokens.Any(t => t.Content == entry.Name))
                    settings.AddedTokens.Add(new AddedToken(entry.Value.ToInt($"the id of \"{entry.Name}\"", addedPath), entry.Name, Special: false));

        if (JsonFiles.ReadOptionalObject(settings.GenerationConfigPath) is { } generation)
            settings.GenerationEosTokenIds = generation.Property("eos_token_id") switch
            {
                null => [],
                { ValueKind: JsonValueKind.Array } list => list.EnumerateArray().Select(v => v.ToInt("eos_token_id entry", settings.GenerationConfigPath)).ToList(),
                var single => [single.Value.ToInt("eos_token_id", settings.GenerationConfigPath)],
            };
        return settings;
    }

    void ReadRoles(JsonElement file, string path)
    {
        foreach (string role in Roles)
        {
            if (SpecialTokens.ContainsKey(role) || ExplicitlyUnset.Contains(role) || !file.TryGetProperty(role, out var value)) continue;
            if (TokenContent(value, role, path) is { } content) SpecialTokens[role] = new NamedToken(content, path);
            else ExplicitlyUnset.Add(role);
        }
        if (file.Property("additional_special_tokens") is { } additional)
        {
            if (additional.ValueKind != JsonValueKind.Array)
                throw new InvalidInputException($"{path}: \"additional_special_tokens\" should be a list, found {additional.ValueKind}");
            foreach (var item in additional.EnumerateArray())
                if (TokenContent(item, "additional_special_tokens entry", path) is { } content && !AdditionalSpecialTokens.Any(t => t.Content == content))
                    AdditionalSpecialTokens.Add(new NamedToken(content, path));
        }
    }

    void ReadAddedTokensDecoder(JsonElement decoder, string path)
    {
        if (decoder.ValueKind != JsonValueKind.Object)
            throw new InvalidInputException($"{path}: \"added_tokens_decoder\" should be an object from id to token, found {decoder.ValueKind}");
        foreach (var entry in decoder.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, out int id))
                throw new InvalidInputException($"{path}: \"added_tokens_decoder\" key \"{entry.Name}\" should be an integer id");
            string content = TokenContent(entry.Value, $"added_tokens_decoder[{id}]", path)
                ?? throw new InvalidInputException($"{path}: added_tokens_decoder[{id}] has no content");
            AddedTokens.Add(AddedToken.Read(entry.Value, id, content, path));
        }
    }

    static List<ConfigChatTemplate> ReadChatTemplates(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.String) return [new ConfigChatTemplate(null, value.GetString()!)];
        if (value.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException($"{path}: \"chat_template\" should be a string or a list of {{\"name\", \"template\"}} objects, found {value.ValueKind}");
        var templates = new List<ConfigChatTemplate>();
        foreach (var (entry, i) in value.EnumerateArray().Select((e, i) => (e, i)))
        {
            string name = entry.String("name", path) ?? throw new InvalidInputException($"{path}: chat_template[{i}] has no \"name\"");
            string template = entry.String("template", path) ?? throw new InvalidInputException($"{path}: chat_template[{i}] (\"{name}\") has no \"template\"");
            if (templates.Any(t => t.Name == name)) throw new InvalidInputException($"{path}: chat_template names \"{name}\" twice");
            templates.Add(new ConfigChatTemplate(name, template));
        }
        return templates;
    }

    /// <summary>A token written as a string or as an AddedToken object {"content": ...}; null when written as null.</summary>
    static string? TokenContent(JsonElement value, string what, string path) => value.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Object => value.String("content", path) ?? throw new InvalidInputException($"{path}: {what} is an object without \"content\""),
        _ => throw new InvalidInputException($"{path}: {what} should be a string or an object with \"content\", found {value.ValueKind}"),
    };
}
