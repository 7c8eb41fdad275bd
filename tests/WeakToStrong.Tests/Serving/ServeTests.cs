using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using WeakToStrong.Tests.Cli;
using WeakToStrong.Tests.Search;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Serving;

/// <summary>
/// A tiny world's large model with a ChatML chat template, served by `wts serve` as a child process on a free
/// loopback port (--port 0; the address is read from its start line), stopped when the tests end.
/// </summary>
public sealed class ServedWorld : IDisposable
{
    public const string ModelId = "tiny-large", MaxRequestBytes = "65536";

    public TinyWorld World { get; } = new();
    public string ModelDirectory { get; }
    public Uri Address { get; }
    public HttpClient Http { get; }
    readonly Process process;
    readonly StringBuilder log = new();

    public ServedWorld()
    {
        ModelDirectory = World.Dir("large-chat");
        Directory.CreateDirectory(ModelDirectory);
        foreach (var file in Directory.GetFiles(World.Dir("large"))) File.Copy(file, Path.Combine(ModelDirectory, Path.GetFileName(file)));
        File.Copy(RepositoryPaths.Fixture("chat-templates", "chatml.jinja"), Path.Combine(ModelDirectory, ChatTemplate.TemplateFile));

        var start = new ProcessStartInfo(Wts.Host) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = RepositoryPaths.Root };
        foreach (string arg in new[] { Wts.Dll, "serve", "--model", ModelDirectory, "--served-model-name", ModelId, "--port", "0",
            "--max-batch-rows", "32", "--max-request-bytes", MaxRequestBytes })
            start.ArgumentList.Add(arg);
        process = Process.Start(start)!;
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is null) { address.TrySetException(new InvalidOperationException($"wts serve exited: {Log}")); return; }
            lock (log) log.AppendLine(line.Data);
            if (line.Data.IndexOf(" listening on ", StringComparison.Ordinal) is int at and >= 0)
                address.TrySetResult(new Uri(line.Data[(at + " listening on ".Length)..].Split(' ')[0]));
        };
        process.BeginErrorReadLine();
        if (!address.Task.Wait(TimeSpan.FromSeconds(120))) throw new TimeoutException($"wts serve did not start in 120 s: {Log}");
        Address = address.Task.Result;
        Http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try { if (Http.GetAsync("health").Result.IsSuccessStatusCode) break; }
            catch (AggregateException) when (deadline.Elapsed < TimeSpan.FromSeconds(30)) { }
            if (deadline.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"/health did not answer in 30 s: {Log}");
            Thread.Sleep(100);
        }
    }

    public string Log { get { lock (log) return log.ToString(); } }

    public async Task<(HttpStatusCode Status, JsonNode Body)> Post(string path, string json)
    {
        using var response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    public async Task<JsonNode> Complete(object request)
    {
        var (status, body) = await Post("v1/completions", JsonSerializer.Serialize(request));
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        return body;
    }

    public void Dispose()
    {
        Http?.Dispose();
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
        process.Dispose();
        World.Dispose();
    }
}

public class ServeTests(ServedWorld served) : IClassFixture<ServedWorld>
{
    /// <summary>On the CPU the server leaves one core to its HTTP stack unless --threads says otherwise (README, "Threads").</summary>
    [Fact]
    public void TheServerLeavesACoreToHttp() =>
        Assert.Contains($", {Math.Max(1, Environment.ProcessorCount - 1)} TorchSharp threads); Ctrl+C stops", served.Log);

    const string Model = ServedWorld.ModelId;

    static string Text(JsonNode response, int choice = 0) => response["choices"]![choice]!["text"]!.GetValue<string>();

    [Fact]
    public async Task GreedyCompletionIsWtsGenerateOutput()
    {
        var generate = Wts.Run("generate", "--model", served.ModelDirectory, "--prompt", "the theatre", "--max-new-tokens", "15", "--temperature", "0", "--json");
        Assert.True(generate.ExitCode == 0, generate.Stderr);
        string expected = JsonNode.Parse(generate.Stdout)!["text"]!.GetValue<string>();

        var response = await served.Complete(new { model = Model, prompt = "the theatre", max_tokens = 15, temperature = 0 });

        Assert.Equal(expected, Text(response));
        Assert.Equal("text_completion", response["object"]!.GetValue<string>());
        var usage = response["usage"]!;
        Assert.Equal(JsonNode.Parse(generate.Stdout)!["prompt_ids"]!.AsArray().Count, usage["prompt_tokens"]!.GetValue<int>());
        Assert.Equal(usage["prompt_tokens"]!.GetValue<int>() + usage["completion_tokens"]!.GetValue<int>(), usage["total_tokens"]!.GetValue<int>());
    }

    /// <summary>
    /// A request that joins a batch already decoding (its KV cache appended to the running one, with masked columns in
    /// front of the shorter side, dropped when rows leave) draws exactly what it draws alone.
    /// </summary>
    [Theory]
    [InlineData(10)]
    [InlineData(40)]
    [InlineData(100)]
    public async Task ASeededRequestJoiningARunningBatchIsTheSameAsAlone(int joinAfterMs)
    {
        var seeded = new { model = Model, prompt = "once upon a time there", max_tokens = 24, temperature = 0.8, top_k = 20, seed = 5 };
        string alone = Text(await served.Complete(seeded));

        var running = Enumerable.Range(0, 6).Select(i => served.Complete(new { model = Model, prompt = string.Concat(Enumerable.Repeat("the dog ", 1 + i)),
            max_tokens = 30 + 5 * i, temperature = 1.0, seed = 100 + i })).ToList();
        await Task.Delay(joinAfterMs);
        var joined = served.Complete(seeded);
        await Task.WhenAll([.. running, joined]);

        Assert.Equal(alone, Text(await joined));
    }

    [Fact]
    public async Task ASeededRequestIsTheSameAloneAmongOthersAndOnRetry()
    {
        var seeded = new { model = Model, prompt = new[] { "a tale", "she sat" }, n = 2, max_tokens = 12, temperature = 1.0, top_p = 0.95, seed = 21 };
        var alone = await served.Complete(seeded);

        // Half the others share its sampling settings, so they are drawn in the same call.
        var others = Enumerable.Range(0, 8).Select(i => served.Complete(new { model = Model, prompt = $"the cat {i}", n = 1 + i % 3, max_tokens = 4 + 3 * i,
            temperature = i % 2 == 0 ? 1.0 : 0.9, top_p = 0.95 }));
        var amongOthers = served.Complete(seeded);
        await Task.WhenAll([.. others, amongOthers]);
        var retry = await served.Complete(seeded);

        var texts = alone["choices"]!.AsArray().Select(c => c!["text"]!.GetValue<string>()).ToList();
        Assert.Equal(4, texts.Count);
        Assert.True(texts.Distinct().Count() > 1, "four choices at temperature 1 should not all be equal");
        Assert.Equal(texts, (await amongOthers)["choices"]!.AsArray().Select(c => c!["text"]!.GetValue<string>()));
        Assert.Equal(texts, retry["choices"]!.AsArray().Select(c => c!["text"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(0, 4), alone["choices"]!.AsArray().Select(c => c!["index"]!.GetValue<int>()));
    }

    [Fact]
    public async Task ChatCompletionRendersTheModelsChatTemplate()
    {
        var messages = new[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "the cat" } };
        string rendered = ChatTemplate.Load(served.ModelDirectory).Render(messages.Select(m => new ChatMessage(m.role, m.content)).ToList());
        var completion = await served.Complete(new { model = Model, prompt = rendered, max_tokens = 10, temperature = 0 });

        var (status, chat) = await served.Post("v1/chat/completions", JsonSerializer.Serialize(new { model = Model, messages, max_tokens = 10, temperature = 0 }));

        Assert.True(status == HttpStatusCode.OK, chat.ToJsonString());
        Assert.Equal("chat.completion", chat["object"]!.GetValue<string>());
        Assert.Equal("assistant", chat["choices"]![0]!["message"]!["role"]!.GetValue<string>());
        Assert.Equal(Text(completion), chat["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        Assert.Equal(completion["usage"]!.ToJsonString(), chat["usage"]!.ToJsonString());
    }

    [Fact]
    public async Task LogprobsAreTheModelsLogProbabilitiesOfTheSampledTokens()
    {
        var response = await served.Complete(new { model = Model, prompt = "the cat", max_tokens = 8, temperature = 0, logprobs = 3 });
        var logprobs = response["choices"]![0]!["logprobs"]!;
        var tokens = logprobs["tokens"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        var tokenLogprobs = logprobs["token_logprobs"]!.AsArray().Select(t => t!.GetValue<double>()).ToList();
        var offsets = logprobs["text_offset"]!.AsArray().Select(t => t!.GetValue<int>()).ToList();
        var top = logprobs["top_logprobs"]!.AsArray();

        // An independent computation in this process: greedy ids, then one forward pass over prompt + completion.
        var model = served.World.Load("large");
        var promptIds = model.Tokenizer.Encode("the cat").ToArray();
        var ids = WeakToStrong.Search.Generation.Sample(model.Model, promptIds, 8, new(0, 0, 1.0), model.EosTokenIds.ToList(), seed: 0);
        Assert.Equal(ids.Select(id => model.Tokenizer.Decode([id])), tokens);
        using (no_grad())
        {
            var input = tensor(promptIds.Concat(ids).Select(i => (long)i).ToArray()).unsqueeze(0);
            var all = model.Model.Forward(input).log_softmax(-1)[0];
            for (int i = 0; i < ids.Count; i++)
            {
                Assert.Equal(all[promptIds.Length - 1 + i, ids[i]].item<float>(), tokenLogprobs[i], 4);
                Assert.Equal(all[promptIds.Length - 1 + i].max().item<float>(), top[i]!.AsObject().Max(p => p.Value!.GetValue<double>()), 4);
            }
        }
        // Three most likely tokens, fewer where two byte tokens decode to the same string (a dictionary keeps one).
        Assert.All(top, entry => Assert.InRange(entry!.AsObject().Count, 1, 3));
        Assert.Equal(0, offsets[0]);
        for (int i = 1; i < offsets.Count; i++) Assert.Equal(offsets[i - 1] + tokens[i - 1].Length, offsets[i]);
    }

    [Fact]
    public async Task FinishReasonSaysStopOrLength()
    {
        var full = await served.Complete(new { model = Model, prompt = "the cat", max_tokens = 6, temperature = 0 });
        Assert.Equal("length", full["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(6, full["usage"]!["completion_tokens"]!.GetValue<int>());
        string text = Text(full), stop = text.Substring(text.Length / 2, 1);
        var stopped = await served.Complete(new { model = Model, prompt = "the cat", max_tokens = 6, temperature = 0, stop = new[] { stop } });
        Assert.Equal("stop", stopped["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], Text(stopped));
    }

    public static TheoryData<string, string, string?> BadRequests => new()
    {
        { "unknown model", """{"model": "gpt-4", "prompt": "hi"}""", "model" },
        { "n below one", """{"model": "tiny-large", "prompt": "hi", "n": 0}""", "n" },
        { "n beyond the batch", """{"model": "tiny-large", "prompt": "hi", "n": 33}""", "n" },
        { "max_tokens beyond the context", """{"model": "tiny-large", "prompt": "hi", "max_tokens": 100000}""", "max_tokens" },
        { "max_tokens zero", """{"model": "tiny-large", "prompt": "hi", "max_tokens": 0}""", "max_tokens" },
        { "negative temperature", """{"model": "tiny-large", "prompt": "hi", "temperature": -0.5}""", "temperature" },
        { "top_p zero", """{"model": "tiny-large", "prompt": "hi", "top_p": 0}""", "top_p" },
        { "prompt too long", """{"model": "tiny-large", "prompt": "PROMPT", "max_tokens": 1}""", "prompt" },
        { "prompt missing", """{"model": "tiny-large"}""", "prompt" },
        { "prompt of token ids", """{"model": "tiny-large", "prompt": [1, 2]}""", "prompt" },
        { "empty prompt", """{"model": "tiny-large", "prompt": ""}""", "prompt" },
        { "logprobs above five", """{"model": "tiny-large", "prompt": "hi", "logprobs": 6}""", "logprobs" },
        { "streaming", """{"model": "tiny-large", "prompt": "hi", "stream": true}""", "stream" },
        { "five stop strings", """{"model": "tiny-large", "prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}""", "stop" },
        { "seed not an integer", """{"model": "tiny-large", "prompt": "hi", "seed": "x"}""", "seed" },
        { "malformed JSON", """{"model": "tiny-large", "prompt": """, null },
        { "not an object", """["tiny-large"]""", null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task ABadRequestGetsAnOpenAiErrorAndTheServerCarriesOn(string name, string body, string? param)
    {
        var (status, error) = await served.Post("v1/completions", body.Replace("PROMPT", string.Concat(Enumerable.Repeat("the cat sat. ", 100))));

        Assert.True(status == HttpStatusCode.BadRequest, $"{name}: {status} {error.ToJsonString()}");
        var detail = error["error"]!;
        Assert.Equal("invalid_request_error", detail["type"]!.GetValue<string>());
        Assert.Equal(param, detail["param"]?.GetValue<string>());
        Assert.True(detail["message"]!.GetValue<string>().Length > 10, detail.ToJsonString());
        Assert.True(detail.AsObject().ContainsKey("code"));
        Assert.Equal(HttpStatusCode.OK, (await served.Http.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task ChatWithMalformedMessagesIsRefused()
    {
        var (status, error) = await served.Post("v1/chat/completions", """{"model": "tiny-large", "messages": [{"role": "user", "content": 3}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("messages[0].content", error["error"]!["param"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABodyOverTheLimitIsRefusedWithAnOpenAiError()
    {
        string prompt = new('a', int.Parse(ServedWorld.MaxRequestBytes));
        var (status, error) = await served.Post("v1/completions", JsonSerializer.Serialize(new { model = Model, prompt }));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("request_too_large", error["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task ModelsListsTheServedModelAndEveryRequestIsLogged()
    {
        using var response = await served.Http.GetAsync("v1/models");
        var list = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(Model, list["data"]![0]!["id"]!.GetValue<string>());
        Assert.Equal(256, list["data"]![0]!["max_model_len"]!.GetValue<int>());
        Assert.Matches(@"127\.0\.0\.1 GET /v1/models 200 [0-9.]+ ms", served.Log);
    }

    [NodeReferenceFact("openai")]
    public async Task TheOfficialOpenAiClientGetsTheSameAnswers()
    {
        var run = NodeReference.Run("tests/reference/openai_client.mjs", new Uri(served.Address, "v1").ToString(), Model, "the cat");
        NodeReference.Check(run);
        var answers = JsonNode.Parse(run.Stdout)!;
        var direct = await served.Complete(new { model = Model, prompt = "the cat", max_tokens = 12, temperature = 0 });
        Assert.Equal(Text(direct), answers["completion"]!["choices"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(12, answers["completion"]!["choices"]![0]!["logprobs"]!["tokens"]!.AsArray().Count);
        Assert.Equal("assistant", answers["chat"]!["choices"]![0]!["message"]!["role"]!.GetValue<string>());
        Assert.Equal(400, answers["refused"]!["status"]!.GetValue<int>());
        Assert.Equal("n", answers["refused"]!["error"]!["param"]!.GetValue<string>());
    }
}

public class ServeStartupTests
{
    [Fact]
    public void BenchApiPrintsTheThroughputTableAndTheOverhead()
    {
        var run = Wts.Run("bench", "api", "--model", RepositoryPaths.Fixture("scoring", "gpt2-tuned"), "--clients", "1,2", "--requests", "2", "--max-tokens", "4");

        Assert.True(run.ExitCode == 0, run.Stderr);
        var rows = run.Stdout.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+[12]\s+[24]\s+(8|16)\s")).ToList();
        Assert.Equal(2, rows.Count); // 1 client: 2 requests, 8 tokens; 2 clients: 4 requests, 16 tokens (EOS ignored)
        Assert.Matches(@"client-side overhead per request: -?[0-9.]+ ms \(HTTP round trip [0-9.]+ ms − engine [0-9.]+ ms", run.Stdout);
    }

    [Fact]
    public void APortInUseIsOneErrorLine()
    {
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        int port = ((IPEndPoint)occupied.LocalEndpoint).Port;
        var run = Wts.Run("serve", "--model", RepositoryPaths.Fixture("scoring", "gpt2-tuned"), "--port", port.ToString());
        CliErrorAssertions.AssertOneErrorLine(run, CliErrorAssertions.Environment);
        Assert.Contains($"--port {port}", run.Stderr);
    }
}
