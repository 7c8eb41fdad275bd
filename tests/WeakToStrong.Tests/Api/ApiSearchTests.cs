using System.Text.Json.Nodes;
using WeakToStrong.Models.Api;
using WeakToStrong.Search;
using WeakToStrong.Tests.Search;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Api;

/// <summary>CBS with the large model behind a real HTTP server on loopback: transport, scoring, faults and the response cache.</summary>
public class ApiSearchTests(TinyWorld world) : IClassFixture<TinyWorld>, IDisposable
{
    static readonly SearchPrompt[] Prompts = [new(0, "the cat"), new(1, "a tale of"), new(2, "once upon")];

    readonly string scratch = Directory.CreateTempSubdirectory("wts-api-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    static GenerationOptions Generation(int maxNewTokens = 9, long seed = 3) => new(maxNewTokens, new SamplingOptions(0.7, 50, 1.0), null, seed);

    static ApiModelOptions Options(FaultyCompletionsServer server) => new(server.BaseUrl, "test-model")
    {
        TimeoutSeconds = 30, MaxRetries = 3, RetryLimitSeconds = 30, RetryBaseDelay = TimeSpan.FromMilliseconds(20), MaxConcurrency = 4,
    };

    IReadOnlyList<SearchOutput> Search(CompletionsClient client, BeamSearchOptions? beam = null, GenerationOptions? generation = null) =>
        new ChunkLevelBeamSearch(new ApiChunkSampler(client, PromptTemplate.Raw), LogProbScorer.ImplicitValue(world.Load("tuned"), world.Load("tuned"), world.Load("untuned")),
            beam ?? new BeamSearchOptions(2, 2, 3), generation ?? Generation()).Run(Prompts);

    static string Summary(IReadOnlyList<SearchOutput> outputs) => string.Join("\n", outputs.Select(o =>
        $"{o.Prompt.Index}: {string.Join(" | ", o.Hypotheses.Select(h => $"{h.Text} [{h.Finish}] {h.Score:R}"))} tokens {o.Compute.LargeTokensSampled} calls {o.Compute.ForwardCalls}"));

    IReadOnlyList<SearchOutput> CleanRun()
    {
        using var server = new FaultyCompletionsServer();
        using var client = new CompletionsClient(Options(server));
        return Search(client);
    }

    [Fact]
    public void RequestsFollowThePaperBlackBoxSetting()
    {
        using var server = new FaultyCompletionsServer();
        using var client = new CompletionsClient(Options(server));
        var outputs = Search(client, new BeamSearchOptions(2, 3, 4), Generation(maxNewTokens: 6));
        // Distinct bodies: on a loaded machine an attempt may time out and be sent again.
        var bodies = server.Bodies.DistinctBy(b => b.ToJsonString()).ToArray();
        // First chunk: one request per prompt with n = W·K; then one per live kept state with n = K; max_tokens = L, then what is left (6 = 4 + 2).
        var first = bodies.Where(b => Prompts.Any(p => (string)b["prompt"]! == p.Text)).ToArray();
        Assert.Equal(Prompts.Length, first.Length);
        Assert.All(first, b => Assert.Equal(6, (int)b["n"]!));
        Assert.All(first, b => Assert.Equal(4, (int)b["max_tokens"]!));
        var later = bodies.Except(first).ToArray();
        Assert.NotEmpty(later);
        Assert.All(later, b => Assert.Equal(3, (int)b["n"]!));
        Assert.All(later, b => Assert.Equal(2, (int)b["max_tokens"]!));
        Assert.All(later, b => Assert.StartsWith(Prompts.Single(p => ((string)b["prompt"]!).StartsWith(p.Text, StringComparison.Ordinal)).Text, (string)b["prompt"]!));
        // top_k is not sent unless the config says the server accepts it; a seed per (prompt, state, chunk), all different.
        Assert.All(bodies, b => Assert.False(b.ContainsKey("top_k")));
        Assert.Equal(bodies.Length, bodies.Select(b => (long)b["seed"]!).Distinct().Count());
        // Large-model tokens come from usage.
        Assert.Equal(bodies.Sum(b => (long)FaultyCompletionsServer.ScriptedAnswer(b)["usage"]!["completion_tokens"]!), outputs.Sum(o => o.Compute.LargeTokensSampled));
        Assert.All(outputs, o => Assert.True(o.Compute.ForwardCalls > bodies.Length)); // the requests, and the scorer's forward passes
    }

    /// <summary>
    /// The server samples with the fixture's large model (our own sampler); the returned scores are the text-level implicit
    /// value, exactly as the reference implementation computes it from the response text.
    /// </summary>
    [Fact]
    public void ApiSearchScoresTheTextAsTheReferenceDoes()
    {
        var large = world.Load("large");
        var gate = new Lock();
        JsonObject ModelAnswer(JsonObject body)
        {
            lock (gate)
            {
                var ids = large.Tokenizer.Encode((string)body["prompt"]!).ToArray();
                var choices = new JsonArray();
                long tokens = 0;
                for (int i = 0; i < (int)body["n"]!; i++)
                {
                    var sampled = WeakToStrong.Search.Generation.Sample(large.Model, ids, (int)body["max_tokens"]!, new SamplingOptions(0.7, 50, 1.0), large.EosTokenIds.ToArray(), (long)body["seed"]! + i);
                    bool eos = large.EosTokenIds.Contains(sampled[^1]);
                    tokens += sampled.Count;
                    choices.Add(new JsonObject { ["index"] = i, ["text"] = Response.CompleteText(large.Tokenizer, sampled.Take(sampled.Count - (eos ? 1 : 0))), ["finish_reason"] = eos ? "stop" : "length" });
                }
                return new JsonObject { ["choices"] = choices, ["usage"] = new JsonObject { ["completion_tokens"] = tokens } };
            }
        }
        using var server = new FaultyCompletionsServer(ModelAnswer);
        using var client = new CompletionsClient(Options(server) with { TimeoutSeconds = 60 });
        var tuned = world.Load("tuned");
        var untuned = world.Load("untuned");
        var outputs = Search(client, new BeamSearchOptions(2, 2, 3), Generation(maxNewTokens: 8));
        foreach (var output in outputs)
            foreach (var h in output.Hypotheses)
            {
                Assert.NotNull(h.Finish); // at the token limit every state is finished
                double expected = SearchTests.ReferenceLogprob(tuned, output.Prompt.Text, h.Text, finished: true) - SearchTests.ReferenceLogprob(untuned, output.Prompt.Text, h.Text, finished: true);
                Assert.Equal(expected, h.Score, 3);
            }
        Assert.Contains(outputs, o => o.Best.Text.Length > 0);
    }

    /// <summary>Every request meets the fault (<paramref name="times"/> times), is retried (honouring Retry-After), and the search ends as a clean run does.</summary>
    [Theory]
    [InlineData(Fault.TooManyRequests, 1)]
    [InlineData(Fault.ServerError, 2)]
    [InlineData(Fault.DropMidBody, 1)]
    [InlineData(Fault.Stall, 1)]
    public void TransientFaultsAreRetriedAndChangeNothing(Fault fault, int times)
    {
        string clean = Summary(CleanRun());
        using var server = new FaultyCompletionsServer { FaultFor = (_, attempt) => attempt <= times ? fault : Fault.None, StallSeconds = 10 };
        using var client = new CompletionsClient(Options(server) with { TimeoutSeconds = fault == Fault.Stall ? 3 : 30 });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string faulty = Summary(Search(client));
        Assert.Equal(clean, faulty);
        Assert.True(server.Received >= client.RequestsSent * (times + 1), $"{server.Received} received, {client.RequestsSent} requests"); // each fault cost a retry
        if (fault == Fault.TooManyRequests) Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"Retry-After: 1 was not honoured ({clock.Elapsed})");
    }

    [Fact]
    public void RetriesAreBounded()
    {
        using var server = new FaultyCompletionsServer { FaultFor = (_, _) => Fault.ServerError };
        using var client = new CompletionsClient(Options(server) with { MaxRetries = 2 });
        var e = Assert.Throws<EnvironmentFailureException>(() => Search(client));
        Assert.Contains(server.BaseUrl, e.Message);
        Assert.Contains("HTTP 500", e.Message);
        Assert.Contains("internal error", e.Message);
        Assert.True(server.Received <= Prompts.Length * 3, $"{server.Received} requests for 3 prompts with 2 retries each");
    }

    [Theory]
    [InlineData(Fault.Unauthorized, "HTTP 401", "Incorrect API key provided", true)]
    [InlineData(Fault.BadRequest, "HTTP 400", "top_k is not a valid parameter", false)]
    [InlineData(Fault.Malformed, "not a completions response", "it starts: \"<html><body>502 Bad Gateway", true)]
    public void RefusalsStopAtOnceWithOneLine(Fault fault, string what, string serverWords, bool environment)
    {
        const string key = "sk-test-secret-0123456789";
        Environment.SetEnvironmentVariable("WTS_TEST_API_KEY", key);
        try
        {
            using var server = new FaultyCompletionsServer { FaultFor = (_, _) => fault };
            using var client = new CompletionsClient(Options(server) with { ApiKeyEnv = "WTS_TEST_API_KEY" });
            Exception e = environment ? Assert.Throws<EnvironmentFailureException>(() => Search(client)) : Assert.Throws<InvalidInputException>(() => Search(client));
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains(server.BaseUrl, e.Message);
            Assert.Contains("test-model", e.Message);
            Assert.Contains(what, e.Message);
            Assert.Contains(serverWords, e.Message);
            Assert.DoesNotContain(key, e.Message);
            Assert.True(server.Received <= Prompts.Length, $"a refusal was retried: {server.Received} requests");
            Assert.All(server.Authorizations, a => Assert.Equal("Bearer " + key, a)); // the key is sent, to the server only
        }
        finally { Environment.SetEnvironmentVariable("WTS_TEST_API_KEY", null); }
    }

    [Fact]
    public void AMissingKeyVariableIsNamed()
    {
        using var server = new FaultyCompletionsServer();
        var e = Assert.Throws<EnvironmentFailureException>(() => new CompletionsClient(Options(server) with { ApiKeyEnv = "WTS_TEST_NO_SUCH_KEY" }));
        Assert.Contains("WTS_TEST_NO_SUCH_KEY (api_key_env) is not set", e.Message);
    }

    /// <summary>A rerun over the same cache directory asks the server nothing and returns the same search.</summary>
    [Fact]
    public void ARerunIsAnsweredFromTheCache()
    {
        string cacheDirectory = Path.Combine(scratch, ResponseCache.DirectoryName);
        using var server = new FaultyCompletionsServer();
        string first;
        int sent;
        using (var cache = new ResponseCache(cacheDirectory, "shard-0-of-1.jsonl"))
        using (var client = new CompletionsClient(Options(server), cache))
        {
            first = Summary(Search(client));
            sent = client.RequestsSent;
        }
        int received = server.Received;
        Assert.True(sent > 0);
        // A crash can tear the last line: it is dropped, and its request asked again.
        string file = Path.Combine(cacheDirectory, "shard-0-of-1.jsonl");
        File.AppendAllText(file, "{\"key\": \"torn");
        using (var cache = new ResponseCache(cacheDirectory, "shard-0-of-1.jsonl"))
        using (var client = new CompletionsClient(Options(server), cache))
        {
            Assert.Equal(sent, cache.Count);
            Assert.Equal(first, Summary(Search(client)));
            Assert.Equal(0, client.RequestsSent);
        }
        Assert.Equal(received, server.Received);
        Assert.EndsWith("\n", File.ReadAllText(file));
    }

    [Fact]
    public void RequestSeedsDependOnRunPromptStateAndChunk()
    {
        var seeds = new[] { ApiChunkSampler.RequestSeed(0, 0, 0, 0), ApiChunkSampler.RequestSeed(1, 0, 0, 0), ApiChunkSampler.RequestSeed(0, 1, 0, 0),
            ApiChunkSampler.RequestSeed(0, 0, 1, 0), ApiChunkSampler.RequestSeed(0, 0, 0, 1) };
        Assert.Equal(seeds.Length, seeds.Distinct().Count());
        Assert.All(seeds, s => Assert.InRange(s, 0, int.MaxValue));
        Assert.Equal(seeds[0], ApiChunkSampler.RequestSeed(0, 0, 0, 0));
    }
}
