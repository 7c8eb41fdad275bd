using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace WeakToStrong.Models.Api;

/// <summary>One POST /v1/completions: <see cref="N"/> continuations of <see cref="Prompt"/>, at most <see cref="MaxTokens"/> tokens each.</summary>
public sealed record CompletionRequest(string Prompt, int MaxTokens, int N, double Temperature, double TopP, int? TopK, IReadOnlyList<string> Stop, long Seed)
{
    /// <summary>The request body; its text (keys in this fixed order) is also the cache key's input.</summary>
    public JsonObject ToJson(string model)
    {
        var body = new JsonObject
        {
            ["model"] = model, ["prompt"] = Prompt, ["max_tokens"] = MaxTokens, ["n"] = N,
            ["temperature"] = Temperature, ["top_p"] = TopP,
        };
        if (TopK is int topK) body["top_k"] = topK;
        if (Stop.Count > 0) body["stop"] = new JsonArray(Stop.Select(s => (JsonNode)s).ToArray());
        body["seed"] = Seed;
        return body;
    }

    /// <summary>sha256 of the endpoint and the request body: the same request to the same server is answered from the cache.</summary>
    public string CacheKey(string endpoint, string model) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(endpoint + "\n" + ToJson(model).ToJsonString())));
}

/// <summary>One continuation: its text and why it ended ("stop": EOS or a stop string; "length": max_tokens).</summary>
public sealed record CompletionChoice(string Text, string? FinishReason)
{
    public bool Stopped => FinishReason is not null and not "length";
}

/// <summary>A completions answer: the choices in index order and the tokens the server says it generated.</summary>
public sealed record CompletionResult(IReadOnlyList<CompletionChoice> Choices, long CompletionTokens)
{
    public JsonObject ToJson() => new()
    {
        ["choices"] = new JsonArray(Choices.Select(c => (JsonNode)new JsonObject { ["text"] = c.Text, ["finish_reason"] = c.FinishReason }).ToArray()),
        ["completion_tokens"] = CompletionTokens,
    };

    public static CompletionResult FromJson(JsonObject json) => new(
        json["choices"]!.AsArray().Select(c => new CompletionChoice((string)c!["text"]!, (string?)c["finish_reason"])).ToArray(),
        (long)json["completion_tokens"]!);
}
