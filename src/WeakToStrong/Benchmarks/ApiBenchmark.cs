using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using WeakToStrong.Models.Api;
using WeakToStrong.Search;
using WeakToStrong.Serving;

namespace WeakToStrong.Benchmarks;

/// <summary>
/// `wts bench api`: the served model's throughput in generated tokens/s with several concurrent clients, each sending
/// completions requests one after another (what cross-request batching is for), and the client-side cost of a request:
/// its HTTP round trip minus the engine's own time for it (<see cref="OpenAiServer.EngineTimeHeader"/>).
/// </summary>
public static class ApiBenchmark
{
    /// <param name="MeanBatchRows">rows per decode step while this run was in flight</param>
    public sealed record ThroughputRow(int Clients, int Requests, long CompletionTokens, double WallSeconds, double MeanBatchRows)
    {
        public double TokensPerSecond => CompletionTokens / WallSeconds;
    }

    public sealed record RequestOverhead(int Requests, double RoundTripMs, double EngineMs)
    {
        public double OverheadMs => RoundTripMs - EngineMs;
    }

    /// <summary>Starts the server on a free loopback port, measures, and stops it.</summary>
    public static async Task<(List<ThroughputRow> Rows, RequestOverhead Overhead)> RunAsync(ServedModel served, IReadOnlyList<int> clientCounts,
        int requestsPerClient, int maxTokens, IReadOnlyList<string> prompts, Action<string> progress)
    {
        await using var server = await OpenAiServer.StartAsync(served, new ServeOptions("127.0.0.1", 0), TextWriter.Null);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };

        async Task<(long Tokens, double EngineMs)> Complete(string prompt, int tokens, long seed)
        {
            using var response = await http.PostAsJsonAsync("v1/completions", new JsonObject
            {
                ["model"] = served.Id, ["prompt"] = prompt, ["max_tokens"] = tokens, ["temperature"] = 1.0, ["seed"] = seed, ["ignore_eos"] = true,
            });
            string body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode) throw new EnvironmentFailureException($"the benchmark's own request was refused ({(int)response.StatusCode}): {body}");
            double engineMs = double.Parse(response.Headers.GetValues(OpenAiServer.EngineTimeHeader).Single(), CultureInfo.InvariantCulture);
            return (JsonNode.Parse(body)!["usage"]!["completion_tokens"]!.GetValue<long>(), engineMs);
        }

        progress("warm-up");
        await Complete(prompts[0], maxTokens, 0);
        var rows = new List<ThroughputRow>();
        foreach (int clients in clientCounts)
        {
            progress($"{clients} concurrent client(s) × {requestsPerClient} requests of {maxTokens} tokens");
            long steps = served.Engine.DecodeSteps, decoded = served.Engine.DecodedRows;
            var clock = Stopwatch.StartNew();
            var tokens = await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
            {
                long sum = 0;
                for (int r = 0; r < requestsPerClient; r++) sum += (await Complete(prompts[(client + r) % prompts.Count], maxTokens, 1000L * client + r)).Tokens;
                return sum;
            }));
            double wall = clock.Elapsed.TotalSeconds;
            double meanRows = (double)(served.Engine.DecodedRows - decoded) / Math.Max(1, served.Engine.DecodeSteps - steps);
            rows.Add(new ThroughputRow(clients, clients * requestsPerClient, tokens.Sum(), wall, meanRows));
        }

        progress("client-side overhead: max_tokens = 1, one request at a time");
        const int overheadRequests = 20;
        double roundTrip = 0, engine = 0;
        for (int r = 0; r < overheadRequests; r++)
        {
            var clock = Stopwatch.StartNew();
            var (_, engineMs) = await Complete(prompts[r % prompts.Count], 1, r);
            roundTrip += clock.Elapsed.TotalMilliseconds;
            engine += engineMs;
        }
        return (rows, new RequestOverhead(overheadRequests, roundTrip / overheadRequests, engine / overheadRequests));
    }

    /// <param name="Requests">completions requests the API search sent</param>
    /// <param name="MeanValue">mean implicit value of the chosen responses (the two transports draw different random streams, so only the distributions compare)</param>
    public sealed record SearchTiming(string Transport, double WallSeconds, int Requests, long LargeTokens, double MeanValue);

    /// <summary>
    /// The same search twice: in process over <paramref name="large"/>'s batched KV cache, then over the completions API of
    /// <paramref name="served"/> (the same weights, on a free loopback port), each search's wall time from its first request
    /// to its last answer. The white-box run goes first, while the server is not started, so they never share the cores; each
    /// runs with the TorchSharp threads it would have alone (<paramref name="inProcessThreads"/>: `wts search`'s, all cores;
    /// <paramref name="serverThreads"/>: `wts serve`'s).
    /// </summary>
    public static async Task<IReadOnlyList<SearchTiming>> CompareSearchAsync(ServedModel served, PromptedModel large, PromptedModel tuned, PromptedModel untuned,
        MethodSpec method, GenerationOptions generation, IReadOnlyList<SearchPrompt> prompts, int inProcessThreads, int serverThreads, Action<string> progress)
    {
        static double MeanValue(IReadOnlyList<SearchOutput> outputs) => outputs.Average(o => o.Best.Score);

        progress($"{method.Label} over {prompts.Count} prompts in process, {inProcessThreads} threads");
        TorchSharp.torch.set_num_threads(inProcessThreads);
        var clock = Stopwatch.StartNew();
        var white = Methods.Run(method, new MethodModels(large, tuned, untuned), generation, prompts);
        var rows = new List<SearchTiming> { new("white-box (in process)", clock.Elapsed.TotalSeconds, 0, white.Sum(o => o.Compute.LargeTokensSampled), MeanValue(white)) };

        TorchSharp.torch.set_num_threads(serverThreads);
        await using var server = await OpenAiServer.StartAsync(served, new ServeOptions("127.0.0.1", 0), TextWriter.Null);
        using var client = new CompletionsClient(new ApiModelOptions(server.Address.ToString().TrimEnd('/') + "/v1", served.Id) { SendTopK = true });
        progress($"{method.Label} over {prompts.Count} prompts through {server.Address}v1/completions");
        clock.Restart();
        var api = await Task.Run(() => Methods.Run(method, new MethodModels(null, tuned, untuned, LargeApi: new ApiChunkSampler(client, large.Template)), generation, prompts));
        rows.Add(new("black-box (wts serve, loopback)", clock.Elapsed.TotalSeconds, client.RequestsSent, api.Sum(o => o.Compute.LargeTokensSampled), MeanValue(api)));
        return rows;
    }
}
