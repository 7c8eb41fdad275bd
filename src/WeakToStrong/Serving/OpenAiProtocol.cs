using System.Text.Json;
using System.Text.Json.Nodes;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Serving;

/// <summary>A request the server refuses: OpenAI's error object <c>{"error": {"message", "type", "param", "code"}}</c> with an HTTP status.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;

    public JsonObject ToJson() => Error(Message, type, param, code);

    public static JsonObject Error(string message, string type, string? param, string? code) => new()
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = param, ["code"] = code },
    };

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, param, code);
}

/// <summary>
/// OpenAI's /v1/completions and /v1/chat/completions bodies read into <see cref="CompletionJob"/>s, and results
/// written back in OpenAI's shapes. Unknown fields are ignored, as OpenAI-compatible servers do; fields that would
/// change the answer in a way this server does not implement (stream, echo, best_of, suffix) are refused.
/// </summary>
public static class OpenAiProtocol
{
    public const int DefaultMaxTokens = 16, MaxStopStrings = 4, MaxCompletionLogprobs = 5, MaxChatTopLogprobs = 20;

    public static (CompletionJob Job, IReadOnlyList<string> Prompts) ReadCompletion(JsonElement body, ServedModel served)
    {
        RequireObject(body);
        RequireModel(body, served);
        Refuse(body, "stream", "echo", "suffix");
        if (Optional(body, "best_of") is { } bestOf && (bestOf.ValueKind != JsonValueKind.Number || !bestOf.TryGetInt32(out int b) || b != 1) && bestOf.ValueKind != JsonValueKind.Null)
            throw ApiException.BadRequest("best_of other than 1 is not supported; use n", "best_of");
        var prompts = Prompts(body);
        int? logprobs = OptionalInt(body, "logprobs");
        if (logprobs is < 0 or > MaxCompletionLogprobs) throw ApiException.BadRequest($"logprobs must be in 0..{MaxCompletionLogprobs}, got {logprobs}", "logprobs");
        var ids = prompts.Select(p => Encode(served, p, "prompt")).ToList();
        return (Job(body, served, "prompt", ids, OptionalInt(body, "max_tokens"), "max_tokens", logprobs), prompts);
    }

    public static CompletionJob ReadChat(JsonElement body, ServedModel served)
    {
        RequireObject(body);
        RequireModel(body, served);
        Refuse(body, "stream", "tools", "functions", "response_format");
        var messages = Messages(body);
        if (served.ChatTemplate is null)
            throw ApiException.BadRequest($"model \"{served.Id}\" has no chat template (chat_template.jinja or tokenizer_config.json's chat_template); use /v1/completions", "messages");
        string prompt;
        try { prompt = served.ChatTemplate.Render(messages, addGenerationPrompt: true); }
        catch (InvalidInputException e) { throw ApiException.BadRequest($"the chat template refused the messages: {e.Message}", "messages"); }
        int? logprobs = null;
        if (Optional(body, "logprobs") is { ValueKind: JsonValueKind.True })
        {
            logprobs = OptionalInt(body, "top_logprobs") ?? 0;
            if (logprobs is < 0 or > MaxChatTopLogprobs) throw ApiException.BadRequest($"top_logprobs must be in 0..{MaxChatTopLogprobs}, got {logprobs}", "top_logprobs");
        }
        else if (Optional(body, "logprobs") is { ValueKind: not (JsonValueKind.False or JsonValueKind.Null) })
            throw ApiException.BadRequest("logprobs must be a boolean", "logprobs");
        string maxName = Optional(body, "max_completion_tokens") is { ValueKind: not JsonValueKind.Null } ? "max_completion_tokens" : "max_tokens";
        return Job(body, served, "messages", [Encode(served, prompt, "messages")], OptionalInt(body, maxName), maxName, logprobs);
    }

    static CompletionJob Job(JsonElement body, ServedModel served, string promptParam, IReadOnlyList<int[]> prompts, int? maxTokens, string maxName, int? logprobs)
    {
        int n = OptionalInt(body, "n") ?? 1;
        if (n < 1) throw ApiException.BadRequest($"n must be at least 1, got {n}", "n");
        if (prompts.Count * n > served.Engine.MaxBatchRows)
            throw ApiException.BadRequest($"{prompts.Count} prompt(s) × n = {n} is {prompts.Count * n} rows, beyond this server's --max-batch-rows {served.Engine.MaxBatchRows}", "n");
        int positions = served.Engine.MaxPositions, longest = prompts.Max(p => p.Length);
        if (longest >= positions)
            throw ApiException.BadRequest($"the prompt is {longest} tokens; this model's context is {positions} tokens, which must hold the prompt and at least one new token",
                promptParam, "context_length_exceeded");
        int tokens = maxTokens ?? Math.Min(DefaultMaxTokens, positions - longest);
        if (tokens < 1) throw ApiException.BadRequest($"{maxName} must be at least 1, got {tokens}", maxName);
        if (longest + tokens > positions)
            throw ApiException.BadRequest($"{maxName} = {tokens} plus the prompt's {longest} tokens exceeds this model's context of {positions} tokens", maxName, "context_length_exceeded");
        double temperature = OptionalDouble(body, "temperature") ?? 1.0;
        if (temperature < 0) throw ApiException.BadRequest($"temperature must be ≥ 0, got {temperature}", "temperature");
        double topP = OptionalDouble(body, "top_p") ?? 1.0;
        if (!(topP > 0 && topP <= 1)) throw ApiException.BadRequest($"top_p must be in (0, 1], got {topP}", "top_p");
        int topK = OptionalInt(body, "top_k") ?? 0; // vLLM's extension; -1 or 0 = off
        if (topK < -1) throw ApiException.BadRequest($"top_k must be -1 or 0 (off) or positive, got {topK}", "top_k");
        long? seed = Optional(body, "seed") is { ValueKind: not JsonValueKind.Null } s
            ? s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long value) ? value : throw ApiException.BadRequest("seed must be an integer", "seed")
            : null;
        bool ignoreEos = Optional(body, "ignore_eos") switch // vLLM's extension
        {
            null or { ValueKind: JsonValueKind.Null or JsonValueKind.False } => false,
            { ValueKind: JsonValueKind.True } => true,
            _ => throw ApiException.BadRequest("ignore_eos must be a boolean", "ignore_eos"),
        };
        return new CompletionJob(prompts, n, tokens, new SamplingOptions(temperature, Math.Max(0, topK), topP), seed, Stops(body), logprobs, ignoreEos);
    }

    static int[] Encode(ServedModel served, string text, string param)
    {
        var ids = served.Engine.Tokenizer.Encode(text).ToArray();
        if (ids.Length == 0) throw ApiException.BadRequest("the prompt encodes to no tokens; a model needs at least one token to predict from", param);
        return ids;
    }

    static void RequireObject(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"the request body must be a JSON object, got {body.ValueKind}");
    }

    static void RequireModel(JsonElement body, ServedModel served)
    {
        if (Optional(body, "model") is not { ValueKind: JsonValueKind.String } model) throw ApiException.BadRequest("model is required (a string)", "model");
        if (model.GetString() != served.Id)
            throw ApiException.BadRequest($"the model \"{model.GetString()}\" does not exist; this server serves \"{served.Id}\"", "model", "model_not_found");
    }

    static void Refuse(JsonElement body, params string[] names)
    {
        foreach (string name in names)
            if (Optional(body, name) is { ValueKind: not (JsonValueKind.Null or JsonValueKind.False) })
                throw ApiException.BadRequest($"{name} is not supported by wts serve", name);
    }

    static List<string> Prompts(JsonElement body)
    {
        var prompt = Optional(body, "prompt") ?? throw ApiException.BadRequest("prompt is required", "prompt");
        if (prompt.ValueKind == JsonValueKind.String) return [prompt.GetString()!];
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String))
            return prompt.EnumerateArray().Select(p => p.GetString()!).ToList();
        throw ApiException.BadRequest("prompt must be a string or a non-empty list of strings (token-id prompts are not supported)", "prompt");
    }

    static List<ChatMessage> Messages(JsonElement body)
    {
        if (Optional(body, "messages") is not { ValueKind: JsonValueKind.Array } messages || messages.GetArrayLength() == 0)
            throw ApiException.BadRequest("messages must be a non-empty list of {role, content} objects", "messages");
        var read = new List<ChatMessage>();
        int index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            string where = $"messages[{index++}]";
            if (message.ValueKind != JsonValueKind.Object || Optional(message, "role") is not { ValueKind: JsonValueKind.String } role)
                throw ApiException.BadRequest($"{where} must be an object with a string role", where);
            read.Add(new ChatMessage(role.GetString()!, Optional(message, "content") switch
            {
                { ValueKind: JsonValueKind.String } text => text.GetString()!,
                // Content parts: text parts are joined; anything else (images, audio) cannot be served by a text model.
                { ValueKind: JsonValueKind.Array } parts when parts.EnumerateArray().All(p => Optional(p, "type")?.GetString() == "text" && Optional(p, "text")?.ValueKind == JsonValueKind.String)
                    => string.Concat(parts.EnumerateArray().Select(p => p.GetProperty("text").GetString())),
                _ => throw ApiException.BadRequest($"{where}.content must be a string or a list of text parts", $"{where}.content"),
            }));
        }
        return read;
    }

    static List<string> Stops(JsonElement body)
    {
        var stop = Optional(body, "stop");
        List<string> stops = stop?.ValueKind switch
        {
            null or JsonValueKind.Null => [],
            JsonValueKind.String => [stop.Value.GetString()!],
            JsonValueKind.Array when stop.Value.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String) => stop.Value.EnumerateArray().Select(s => s.GetString()!).ToList(),
            _ => throw ApiException.BadRequest("stop must be a string or a list of strings", "stop"),
        };
        if (stops.Count > MaxStopStrings) throw ApiException.BadRequest($"stop takes at most {MaxStopStrings} strings, got {stops.Count}", "stop");
        if (stops.Any(s => s.Length == 0)) throw ApiException.BadRequest("stop strings must not be empty", "stop");
        return stops;
    }

    static JsonElement? Optional(JsonElement body, string name) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) ? value : null;

    static int? OptionalInt(JsonElement body, string name) => Optional(body, name) switch
    {
        null or { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.Number } number when number.TryGetInt32(out int value) => value,
        _ => throw ApiException.BadRequest($"{name} must be an integer", name),
    };

    static double? OptionalDouble(JsonElement body, string name) => Optional(body, name) switch
    {
        null or { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.Number } number => number.GetDouble(),
        _ => throw ApiException.BadRequest($"{name} must be a number", name),
    };

    public static JsonObject CompletionResponse(ServedModel served, ServedCompletion result) => Response(served, "cmpl", "text_completion", result,
        choice => new JsonObject
        {
            ["index"] = choice.Index,
            ["text"] = choice.Text,
            ["logprobs"] = choice.Logprobs is { } l ? new JsonObject
            {
                ["tokens"] = new JsonArray(l.Tokens.Select(t => (JsonNode?)t).ToArray()),
                ["token_logprobs"] = new JsonArray(l.TokenLogprobs.Select(p => (JsonNode?)p).ToArray()),
                ["top_logprobs"] = l.TopLogprobs is null ? null : new JsonArray(l.TopLogprobs.Select(top =>
                {
                    var entry = new JsonObject();
                    foreach (var (token, logprob) in top) entry.TryAdd(token, logprob); // two ids may decode to one string: the likelier stays
                    return (JsonNode?)entry;
                }).ToArray()),
                ["text_offset"] = new JsonArray(l.TextOffset.Select(o => (JsonNode?)o).ToArray()),
            } : null,
            ["finish_reason"] = choice.FinishReason,
        });

    public static JsonObject ChatResponse(ServedModel served, ServedCompletion result) => Response(served, "chatcmpl", "chat.completion", result,
        choice => new JsonObject
        {
            ["index"] = choice.Index,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = choice.Text },
            ["logprobs"] = choice.Logprobs is { } l ? new JsonObject
            {
                ["content"] = new JsonArray(l.Tokens.Select((token, i) => (JsonNode?)new JsonObject
                {
                    ["token"] = token,
                    ["logprob"] = l.TokenLogprobs[i],
                    ["bytes"] = Bytes(token),
                    ["top_logprobs"] = new JsonArray((l.TopLogprobs?[i] ?? []).Select(p => (JsonNode?)new JsonObject
                        { ["token"] = p.Token, ["logprob"] = p.Logprob, ["bytes"] = Bytes(p.Token) }).ToArray()),
                }).ToArray()),
            } : null,
            ["finish_reason"] = choice.FinishReason,
        });

    static JsonArray Bytes(string token) => new(System.Text.Encoding.UTF8.GetBytes(token).Select(b => (JsonNode?)(int)b).ToArray());

    static JsonObject Response(ServedModel served, string idPrefix, string kind, ServedCompletion result, Func<ServedChoice, JsonObject> choice) => new()
    {
        ["id"] = $"{idPrefix}-{Guid.NewGuid():N}",
        ["object"] = kind,
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = served.Id,
        ["choices"] = new JsonArray(result.Choices.Select(c => (JsonNode?)choice(c)).ToArray()),
        ["usage"] = new JsonObject
        {
            ["prompt_tokens"] = result.PromptTokens,
            ["completion_tokens"] = result.CompletionTokens,
            ["total_tokens"] = result.PromptTokens + result.CompletionTokens,
        },
    };

    public static JsonObject ModelList(ServedModel served) => new()
    {
        ["object"] = "list",
        ["data"] = new JsonArray(new JsonObject
        {
            ["id"] = served.Id,
            ["object"] = "model",
            ["created"] = served.Created.ToUnixTimeSeconds(),
            ["owned_by"] = "wts",
            ["max_model_len"] = served.Engine.MaxPositions,
        }),
    };
}
