using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace WeakToStrong.Tests.Api;

/// <summary>What the server does to one request instead of answering it.</summary>
public enum Fault { None, TooManyRequests, ServerError, DropMidBody, Stall, Malformed, Unauthorized, BadRequest }

/// <summary>
/// An OpenAI-style /v1/completions server on a free loopback port (System.Net.HttpListener), in the test process.
/// Answers come from <see cref="Answer"/> (a pure function of the request body, so a retried request gets what its first
/// try would have); <see cref="FaultFor"/> picks a fault from the n-th request received and the n-th time its body was
/// received (both 1-based: a retry is the same body again). Every request is
/// counted and its body and Authorization header recorded. Handlers are bounded in time (a stall lasts <see cref="StallSeconds"/>).
/// </summary>
public sealed class FaultyCompletionsServer : IDisposable
{
    readonly HttpListener listener = new();
    readonly Task loop;
    readonly Lock gate = new();
    readonly List<JsonObject> bodies = [];
    readonly List<string?> authorizations = [];
    readonly Dictionary<string, int> attempts = [];
    int received;

    public FaultyCompletionsServer(Func<JsonObject, JsonObject>? answer = null)
    {
        Answer = answer ?? ScriptedAnswer;
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            listener.Prefixes.Clear();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                BaseUrl = $"http://127.0.0.1:{port}/v1";
                break;
            }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        loop = Task.Run(AcceptLoop);
    }

    public string BaseUrl { get; } = "";
    public Func<JsonObject, JsonObject> Answer { get; set; }
    public Func<int, int, Fault> FaultFor { get; set; } = (_, _) => Fault.None;
    public double StallSeconds { get; set; } = 3;
    /// <summary>Added to every answer (a slow server, so that a run can be killed mid-way).</summary>
    public TimeSpan AnswerDelay { get; set; } = TimeSpan.Zero;
    public int Received => Volatile.Read(ref received);

    public IReadOnlyList<JsonObject> Bodies { get { lock (gate) return [.. bodies]; } }
    public IReadOnlyList<string?> Authorizations { get { lock (gate) return [.. authorizations]; } }

    static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    async Task AcceptLoop()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() => Handle(context));
        }
    }

    async Task Handle(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            string text;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8)) text = await reader.ReadToEndAsync();
            var body = JsonNode.Parse(text)!.AsObject();
            int number = Interlocked.Increment(ref received), attempt;
            lock (gate)
            {
                bodies.Add(body);
                authorizations.Add(context.Request.Headers["Authorization"]);
                attempts[text] = attempt = attempts.GetValueOrDefault(text) + 1;
            }
            switch (FaultFor(number, attempt))
            {
                case Fault.TooManyRequests:
                    response.AddHeader("Retry-After", "1");
                    await Write(response, 429, """{"error": {"message": "Rate limit reached, slow down"}}""");
                    return;
                case Fault.ServerError:
                    await Write(response, 500, """{"error": {"message": "internal error"}}""");
                    return;
                case Fault.Unauthorized:
                {
                    // Echoes the key it was sent, as some servers do: the client must not pass it on.
                    string sent = context.Request.Headers["Authorization"]?.Replace("Bearer ", "", StringComparison.Ordinal) ?? "(none)";
                    await Write(response, 401, new JsonObject { ["error"] = new JsonObject { ["message"] = $"Incorrect API key provided: {sent}", ["type"] = "invalid_request_error" } }.ToJsonString());
                    return;
                }
                case Fault.BadRequest:
                    await Write(response, 400, """{"error": {"message": "top_k is not a valid parameter"}}""");
                    return;
                case Fault.Malformed:
                    await Write(response, 200, "<html><body>502 Bad Gateway from the proxy</body></html>");
                    return;
                case Fault.DropMidBody:
                {
                    byte[] full = Encoding.UTF8.GetBytes(Answer(body).ToJsonString());
                    response.StatusCode = 200;
                    response.ContentType = "application/json";
                    response.ContentLength64 = full.Length;
                    await response.OutputStream.WriteAsync(full.AsMemory(0, full.Length / 3));
                    await response.OutputStream.FlushAsync();
                    response.Abort(); // the connection drops with two thirds of the body unsent
                    return;
                }
                case Fault.Stall:
                    await Task.Delay(TimeSpan.FromSeconds(StallSeconds));
                    break;
            }
            if (AnswerDelay > TimeSpan.Zero) await Task.Delay(AnswerDelay);
            await Write(response, 200, Answer(body).ToJsonString());
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // The client gave up on this request (a stall past its timeout): nothing to answer.
        }
    }

    static async Task Write(HttpListenerResponse response, int status, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
        response.Close();
    }

    static readonly string[] Words = ["the", "cat", "sat", "on", "a", "warm", "mat", "and", "purred", "softly", "zebra", "zany", "good", "film"];

    /// <summary>
    /// A deterministic text source: each choice is up to max_tokens words drawn from a hash of (prompt, seed, choice), and
    /// ends ("stop") early when the hash says so; usage counts the words.
    /// </summary>
    public static JsonObject ScriptedAnswer(JsonObject body)
    {
        string prompt = (string)body["prompt"]!;
        int n = (int)body["n"]!, maxTokens = (int)body["max_tokens"]!;
        long seed = (long)body["seed"]!;
        var choices = new JsonArray();
        long tokens = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{prompt}\u0001{seed}\u0001{i}"));
            var text = new StringBuilder();
            string finish = "length";
            for (int t = 0; t < maxTokens; t++)
            {
                byte b = hash[t % hash.Length];
                if (b % 23 == 0 && t > 0) { finish = "stop"; break; }
                text.Append(' ').Append(Words[(b + t) % Words.Length]);
                tokens++;
            }
            choices.Add(new JsonObject { ["index"] = i, ["text"] = text.ToString(), ["finish_reason"] = finish });
        }
        return new JsonObject
        {
            ["id"] = "cmpl-test", ["object"] = "text_completion", ["model"] = (string?)body["model"], ["choices"] = choices,
            ["usage"] = new JsonObject { ["prompt_tokens"] = 0, ["completion_tokens"] = tokens, ["total_tokens"] = tokens },
        };
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
        try { loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
