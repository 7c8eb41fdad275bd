using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Serving;

/// <summary>A model as the server offers it: the id clients name, its batching engine, its chat template (if any).</summary>
public sealed record ServedModel(string Id, BatchingEngine Engine, ChatTemplate? ChatTemplate)
{
    public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;
}

/// <param name="Host">an IP address to bind (loopback unless told otherwise), or localhost</param>
/// <param name="Port">0 = any free port (<see cref="OpenAiServer.Address"/> says which)</param>
public sealed record ServeOptions(string Host = "127.0.0.1", int Port = 8000, long MaxRequestBytes = ServeOptions.DefaultMaxRequestBytes)
{
    public const long DefaultMaxRequestBytes = 1 << 20;
}

/// <summary>
/// An OpenAI-compatible HTTP server (ASP.NET Core minimal APIs on Kestrel) over one <see cref="ServedModel"/>:
/// GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions. A refused request gets OpenAI's
/// error object; every request is logged as one line.
/// </summary>
public sealed class OpenAiServer : IAsyncDisposable
{
    readonly WebApplication app;

    OpenAiServer(WebApplication app, Uri address) => (this.app, Address) = (app, address);

    /// <summary>The bound address, e.g. http://127.0.0.1:8000/ (the real port when <see cref="ServeOptions.Port"/> was 0).</summary>
    public Uri Address { get; }

    /// <summary>Starts listening; a port in use or an address that cannot be bound is an <see cref="EnvironmentFailureException"/>.</summary>
    public static async Task<OpenAiServer> StartAsync(ServedModel served, ServeOptions options, TextWriter log)
    {
        var address = ParseHost(options.Host);
        if (options.Port is < 0 or > 65535) throw new InvalidInputException($"--port must be in 0..65535, got {options.Port}");
        if (options.MaxRequestBytes < 1) throw new InvalidInputException($"the request size limit must be positive, got {options.MaxRequestBytes}");
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders(); // one line per request, written below
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            kestrel.Listen(address, options.Port);
        });
        var app = builder.Build();
        Map(app, served, options, TextWriter.Synchronized(log));
        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new EnvironmentFailureException($"--host {options.Host} --port {options.Port}: cannot listen there: {e.Message}", e);
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new OpenAiServer(app, new Uri(bound.EndsWith('/') ? bound : bound + "/"));
    }

    /// <summary>Completes when the server stops (Ctrl+C, SIGTERM, or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync() => app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    static IPAddress ParseHost(string host)
    {
        if (host == "localhost") return IPAddress.Loopback;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address)) return address;
        throw new InvalidInputException($"--host: expected an IP address to bind (127.0.0.1, ::1, 0.0.0.0) or localhost, got \"{host}\"");
    }

    static void Map(WebApplication app, ServedModel served, ServeOptions options, TextWriter log)
    {
        app.Use(async (context, next) =>
        {
            long start = Stopwatch.GetTimestamp();
            await next(context);
            string tokens = context.Items.TryGetValue(UsageKey, out var usage) ? $" {usage}" : "";
            // 499: the client closed the connection before the answer (nginx's convention; nothing was sent).
            int status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            log.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {context.Connection.RemoteIpAddress} {context.Request.Method} {context.Request.Path} " +
                $"{status} {Stopwatch.GetElapsedTime(start).TotalMilliseconds:F1} ms{tokens}");
        });
        app.MapGet("/health", (HttpContext context) => Write(context, 200, new JsonObject { ["status"] = "ok" }));
        app.MapGet("/v1/models", (HttpContext context) => Write(context, 200, OpenAiProtocol.ModelList(served)));
        app.MapPost("/v1/completions", (HttpContext context) => Answer(context, options, log, async body =>
        {
            var (job, _) = OpenAiProtocol.ReadCompletion(body, served);
            return OpenAiProtocol.CompletionResponse(served, await Run(context, served, job));
        }));
        app.MapPost("/v1/chat/completions", (HttpContext context) => Answer(context, options, log, async body =>
            OpenAiProtocol.ChatResponse(served, await Run(context, served, OpenAiProtocol.ReadChat(body, served)))));
        app.MapFallback((HttpContext context) => Write(context, 404,
            ApiException.Error($"no route {context.Request.Method} {context.Request.Path}; this server answers GET /health, GET /v1/models, POST /v1/completions and POST /v1/chat/completions",
                "invalid_request_error", null, "not_found")));
    }

    const string UsageKey = "wts.usage";

    /// <summary>The response header with the engine's time for the request (admission to last token), for client-side overhead.</summary>
    public const string EngineTimeHeader = "X-Wts-Engine-Ms";

    static async Task<ServedCompletion> Run(HttpContext context, ServedModel served, CompletionJob job)
    {
        var result = await served.Engine.Submit(job, context.RequestAborted);
        context.Items[UsageKey] = $"rows {job.Rows} prompt_tokens {result.PromptTokens} completion_tokens {result.CompletionTokens}";
        context.Response.Headers[EngineTimeHeader] = (result.EngineSeconds * 1000).ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
        return result;
    }

    static async Task Answer(HttpContext context, ServeOptions options, TextWriter log, Func<JsonElement, Task<JsonObject>> handle)
    {
        try
        {
            JsonDocument document;
            try
            {
                document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
            }
            catch (JsonException e)
            {
                throw ApiException.BadRequest($"the request body is not valid JSON: {e.Message}");
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                throw new ApiException(413, $"the request body is larger than this server's limit of {options.MaxRequestBytes} bytes", null, "request_too_large");
            }
            using (document) await Write(context, 200, await handle(document.RootElement));
        }
        catch (ApiException e)
        {
            await Write(context, e.Status, e.ToJson());
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; its rows left the batch at the next step.
        }
        catch (Exception e)
        {
            log.WriteLine($"wts serve: error while answering {context.Request.Path}: {e.GetType().Name}: {e.Message}");
            await Write(context, 500, ApiException.Error($"internal error: {e.GetType().Name}: {e.Message}", "server_error", null, null));
        }
    }

    // Non-ASCII text as UTF-8, not \uXXXX escapes (the body is UTF-8 JSON, not HTML).
    static readonly JsonSerializerOptions JsonOutput = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static Task Write(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(JsonOutput));
    }
}
