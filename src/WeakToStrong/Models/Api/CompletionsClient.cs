using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace WeakToStrong.Models.Api;

/// <summary>
/// POST /v1/completions against an OpenAI-compatible server (OpenAI, vLLM, TGI, llama.cpp, `wts serve`), async over one
/// pooled <see cref="SocketsHttpHandler"/>, at most <see cref="ApiModelOptions.MaxConcurrency"/> requests in flight.
/// Faults are ordinary (a Polly pipeline): 429, 5xx, timeouts and dropped connections are retried with exponential
/// backoff and jitter, honouring Retry-After, bounded in count and total time. A refusal (400, 401, 403, 404) stops at
/// once: 401/403 as an <see cref="EnvironmentFailureException"/> (exit 3, the key or its rights), 400/404 as an
/// <see cref="InvalidInputException"/> (exit 2, a model or parameter the server does not know); each a single line
/// naming the base URL, the model and the server's message. The key is read from the environment, sent as a bearer
/// token, and never appears in a message. Answers are kept in a <see cref="ResponseCache"/> when one is given.
/// </summary>
public sealed class CompletionsClient : IDisposable
{
    readonly ApiModelOptions options;
    readonly HttpClient http;
    readonly ResiliencePipeline<HttpResponseMessage> pipeline;
    readonly SemaphoreSlim slots;
    readonly ResponseCache? cache;
    readonly string? apiKey;
    int requestsSent;

    public CompletionsClient(ApiModelOptions options, ResponseCache? cache = null, string source = "api")
    {
        options.Validate(source);
        this.options = options;
        this.cache = cache;
        if (options.ApiKeyEnv is string variable)
        {
            apiKey = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(apiKey))
                throw new EnvironmentFailureException($"{source}: the environment variable {variable} (api_key_env) is not set; it must hold the API key for {options.Endpoint}");
        }
        http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.MaxConcurrency,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(Math.Min(30, options.TimeoutSeconds)),
        })
        { Timeout = Timeout.InfiniteTimeSpan }; // the pipeline's timeouts bound each attempt and the whole
        slots = new SemaphoreSlim(options.MaxConcurrency);
        pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddTimeout(TimeSpan.FromSeconds(options.RetryLimitSeconds))
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>().Handle<TimeoutRejectedException>().Handle<IOException>()
                    .HandleResult(r => r.StatusCode == HttpStatusCode.TooManyRequests || (int)r.StatusCode >= 500),
                MaxRetryAttempts = Math.Max(options.MaxRetries, 0),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = TimeSpan.FromSeconds(60),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result)),
            })
            .AddTimeout(TimeSpan.FromSeconds(options.TimeoutSeconds))
            .Build();
    }

    public ApiModelOptions Options => options;

    /// <summary>Requests that went over the network (cache hits excluded), retries counted once.</summary>
    public int RequestsSent => Volatile.Read(ref requestsSent);

    string Where => $"{options.Endpoint} (model {options.Model})";

    public async Task<CompletionResult> CompleteAsync(CompletionRequest request, CancellationToken cancel = default)
    {
        string? key = cache is null ? null : request.CacheKey(options.Endpoint, options.Model);
        if (key is not null && cache!.TryGet(key, out var cached)) return cached;
        string body = request.ToJson(options.Model).ToJsonString();
        await slots.WaitAsync(cancel).ConfigureAwait(false);
        CompletionResult result;
        try
        {
            Interlocked.Increment(ref requestsSent);
            result = await SendAsync(body, request.N, cancel).ConfigureAwait(false);
        }
        finally { slots.Release(); }
        if (key is not null) cache!.Add(key, result);
        return result;
    }

    async Task<CompletionResult> SendAsync(string body, int n, CancellationToken cancel)
    {
        HttpResponseMessage response;
        try
        {
            response = await pipeline.ExecuteAsync(async token =>
            {
                using var message = new HttpRequestMessage(HttpMethod.Post, options.Endpoint + "/completions")
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                if (apiKey is not null) message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
                // The whole body is read inside the attempt, so a connection dropped mid-body is retried like any other.
                return await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
            }, cancel).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException)
        {
            throw new EnvironmentFailureException($"{Where}: no answer within the limits (timeout_s {options.TimeoutSeconds}, max_retries {options.MaxRetries}, {options.RetryLimitSeconds} s in all)");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new EnvironmentFailureException($"{Where}: the request failed after {options.MaxRetries} retries: {Redact(Innermost(e).Message)}");
        }
        using (response)
        {
            string text = await response.Content.ReadAsStringAsync(cancel).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                string refusal = $"{Where}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {Redact(ServerMessage(text))}";
                throw response.StatusCode switch
                {
                    HttpStatusCode.BadRequest or HttpStatusCode.NotFound => new InvalidInputException(refusal),
                    HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new EnvironmentFailureException(refusal + " (check the key in " + (options.ApiKeyEnv ?? "api_key_env, which is not set") + ")"),
                    HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError => new EnvironmentFailureException(refusal + $" (still failing after {options.MaxRetries} retries)"),
                    _ => new EnvironmentFailureException(refusal),
                };
            }
            return Parse(text, n);
        }
    }

    /// <summary>A completions body: choices[].text and finish_reason (ordered by index), usage.completion_tokens.</summary>
    CompletionResult Parse(string text, int n)
    {
        string? problem = null;
        try
        {
            if (JsonNode.Parse(text) is not JsonObject json || json["choices"] is not JsonArray choices) problem = "no choices array";
            else if (choices.Count != n) problem = $"{choices.Count} choices for n = {n}";
            else
            {
                var parsed = choices.Select((c, i) => (
                    Index: c?["index"] is JsonValue index ? (int)index : i,
                    Choice: new CompletionChoice(c?["text"] is JsonValue t && t.TryGetValue(out string? s) ? s : throw new FormatException("a choice without text"),
                        c!["finish_reason"] is JsonValue f && f.TryGetValue(out string? reason) ? reason : null))).OrderBy(c => c.Index).Select(c => c.Choice).ToArray();
                long tokens = json["usage"]?["completion_tokens"] is JsonValue u ? (long)u : 0;
                return new CompletionResult(parsed, tokens);
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            problem = e.Message;
        }
        string start = text.Length > 120 ? text[..120] + "…" : text;
        throw new EnvironmentFailureException($"{Where}: the answer is not a completions response ({problem}); it starts: \"{Redact(start).ReplaceLineEndings(" ")}\"");
    }

    /// <summary>The server's own words: OpenAI-style {"error": {"message": …}}, else the start of the body.</summary>
    static string ServerMessage(string body)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject json)
            {
                if (json["error"] is JsonObject error && error["message"] is JsonValue m) return (string)m!;
                if (json["error"] is JsonValue e) return (string)e!;
                if (json["message"] is JsonValue message) return (string)message!;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { }
        string start = body.ReplaceLineEndings(" ").Trim();
        return start.Length == 0 ? "(empty body)" : start.Length > 200 ? start[..200] + "…" : start;
    }

    /// <summary>A server may echo the key it was sent (OpenAI echoes part of a wrong one): never let it through.</summary>
    string Redact(string text) => apiKey is { Length: > 0 } ? text.Replace(apiKey, "***", StringComparison.Ordinal) : text;

    static TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        if (header?.Delta is TimeSpan delta) return delta;
        if (header?.Date is DateTimeOffset date) return date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        return null; // the backoff's own delay
    }

    static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    public void Dispose()
    {
        http.Dispose();
        slots.Dispose();
    }
}
