using System.Diagnostics;
using WeakToStrong.Experiments;
using WeakToStrong.Models.Api;
using WeakToStrong.Tests.Cli;
using WeakToStrong.Tests.Search;

namespace WeakToStrong.Tests.Api;

/// <summary>
/// `wts run` with its base model behind a real HTTP server on loopback (in this process), through the real `wts` process:
/// the key stays in the environment, reruns and --resume after kill -9 replay the response cache, refusals are one line.
/// </summary>
public class ApiRunTests(TinyWorld world) : IClassFixture<TinyWorld>, IDisposable
{
    const string KeyVariable = "WTS_TEST_API_KEY", Key = "sk-test-never-written-4f1c9a";

    readonly string scratch = Directory.CreateTempSubdirectory("wts-api-run-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    string WriteConfig(FaultyCompletionsServer server, string name = "api.yaml")
    {
        string path = Path.Combine(scratch, name);
        File.WriteAllText(path, $$"""
            name: api-smoke
            task: sentiment
            dataset: {prompts: 6}
            models:
              bases:
                - name: served
                  api: {base_url: "{{server.BaseUrl}}", model: test-model, api_key_env: {{KeyVariable}}, timeout_s: 10, max_retries: 2, max_concurrency: 4}
                  template: "Review: {raw_prompt}"
              tuned: {{world.Dir("tuned")}}
              untuned: {{world.Dir("untuned")}}
              gold: {{RepositoryPaths.Fixture("distilbert-cls")}}
            methods:
              - base
              - {method: bon, n: 3}
              - {method: cbs, w: 2, k: 2, l: 3}
            generation: {max_new_tokens: 9}
            batch_prompts: 2
            """);
        return path;
    }

    static Dictionary<string, string> Environment => new() { [KeyVariable] = Key };

    static Wts.Result Run(params string[] args) => Wts.RunWith(Environment, ["run", .. args]);

    static IEnumerable<GenerationRecord> Comparable(string path) => GenerationLog.Read(path)
        .Select(r => r with { WallSeconds = 0 }).OrderBy(r => r.Cell, StringComparer.Ordinal).ThenBy(r => r.PromptIndex);

    [Fact]
    public void ARunKeepsTheKeyOutAndARerunAsksNothing()
    {
        using var server = new FaultyCompletionsServer();
        string config = WriteConfig(server);
        var run = new RunDirectory(Path.Combine(scratch, "run"));
        var first = Run(config, "--output", run.Path);
        Assert.True(first.ExitCode == 0, first.Stderr);
        int asked = server.Received;
        Assert.True(asked > 0);
        Assert.All(server.Authorizations, a => Assert.Equal("Bearer " + Key, a));
        // No warm-up request is paid for: every request asks a chunk (l: 3) or the whole response (max_new_tokens: 9).
        Assert.All(server.Bodies, b => Assert.Contains((int)b["max_tokens"]!, new[] { 3, 9 }));
        var records = GenerationLog.Read(run.Generations);
        Assert.Equal(3 * 6, records.Count);
        Assert.All(records, r => Assert.NotNull(r.ImplicitValue));
        Assert.All(records, r => Assert.True(r.LargeTokens > 0 || r.Response.Length == 0));
        // The key is in no file of the run and in none of its output; the endpoint stands for the weights in the manifest.
        foreach (string file in Directory.GetFiles(run.Path, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain(Key, File.ReadAllText(file));
        Assert.DoesNotContain(Key, first.Stdout + first.Stderr);
        Assert.Contains($"api:{server.BaseUrl}#test-model", File.ReadAllText(Path.Combine(run.Path, "manifest.json")));

        // The same run again into a fresh directory that holds only the first one's cache: not one request.
        var again = new RunDirectory(Path.Combine(scratch, "again"));
        CopyDirectory(run.ApiCache, again.ApiCache);
        var second = Run(config, "--output", again.Path);
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal(asked, server.Received);
        Assert.Equal(Comparable(run.Generations).Select(r => r with { ForwardCalls = 0 }), Comparable(again.Generations).Select(r => r with { ForwardCalls = 0 }));
    }

    [Fact]
    public void KillNineThenResumeReplaysTheCacheAndGivesTheUninterruptedRun()
    {
        using var server = new FaultyCompletionsServer();
        string config = WriteConfig(server);
        var reference = new RunDirectory(Path.Combine(scratch, "reference"));
        var whole = Run(config, "--output", reference.Path);
        Assert.True(whole.ExitCode == 0, whole.Stderr);
        int uninterrupted = File.ReadAllLines(Path.Combine(reference.ApiCache, "shard-0-of-1.jsonl")).Length; // the distinct requests of a whole run

        server.AnswerDelay = TimeSpan.FromMilliseconds(150);
        var killed = new RunDirectory(Path.Combine(scratch, "killed"));
        var start = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryPaths.Root,
        };
        start.Environment[KeyVariable] = Key;
        start.Environment["WTS_CACHE_DIR"] = Path.Combine(Path.GetTempPath(), "wts-tests-cache");
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "wts.dll"), "run", config, "--output", killed.Path })
            start.ArgumentList.Add(arg);
        string cacheFile = Path.Combine(killed.ApiCache, "shard-0-of-1.jsonl");
        using (var process = Process.Start(start)!)
        {
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && (!File.Exists(cacheFile) || File.ReadAllLines(cacheFile).Length < uninterrupted / 2) && clock.Elapsed < TimeSpan.FromMinutes(2))
                Thread.Sleep(20);
            Assert.False(process.HasExited, "the run finished before it could be killed");
            process.Kill(entireProcessTree: true); // SIGKILL
            process.WaitForExit();
        }
        int cached = File.ReadAllLines(cacheFile).Length;
        Assert.True(cached < uninterrupted, $"{cached} of {uninterrupted} answers cached before the kill");
        server.AnswerDelay = TimeSpan.Zero;
        int beforeResume = server.Received;
        var resumed = Run(config, "--output", killed.Path, "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal(Comparable(reference.Generations).Select(r => r with { ForwardCalls = 0 }), Comparable(killed.Generations).Select(r => r with { ForwardCalls = 0 }));
        // Answers cached before the kill were not asked again: the resumed run asked for the rest (retries aside) and cached each once.
        int asked = server.Received - beforeResume;
        Assert.True(asked >= uninterrupted - cached && asked < uninterrupted, $"resume asked {asked}; {cached} of {uninterrupted} were cached");
        Assert.Equal(uninterrupted, File.ReadAllLines(cacheFile).Length);
    }

    [Fact]
    public void AnUnauthorizedServerStopsTheRunWithOneLine()
    {
        using var server = new FaultyCompletionsServer { FaultFor = (_, _) => Fault.Unauthorized };
        var run = new RunDirectory(Path.Combine(scratch, "refused"));
        var result = Run(WriteConfig(server), "--output", run.Path);
        CliErrorAssertions.AssertOneErrorLine(result, exitCode: 3, afterProgress: true);
        Assert.Contains(server.BaseUrl, result.Stderr);
        Assert.Contains("test-model", result.Stderr);
        Assert.Contains("HTTP 401", result.Stderr);
        Assert.DoesNotContain(Key, result.Stderr + result.Stdout);
        Assert.True(!File.Exists(run.Generations) || GenerationLog.Read(run.Generations).Count == 0);
    }

    [Fact]
    public void MethodsThatNeedLogitsAreRefusedOnAnApiModel()
    {
        using var server = new FaultyCompletionsServer();
        string text = File.ReadAllText(WriteConfig(server)).Replace("  - base\n", "  - base\n  - {method: eft, beta: 1.0}\n  - {method: cbs, w: 2, k: 2, l: 3, guide: likelihood}\n");
        var e = Assert.Throws<InvalidInputException>(() => ExperimentConfigParser.Parse(text, "api.yaml"));
        Assert.Contains("EFT(β=1) on base model served: eft needs the large model's next-token distribution", e.Message);
        Assert.Contains("guide: likelihood needs the large model's log-probabilities", e.Message);
        Assert.Contains("models.bases api:", e.Message);
        Assert.Equal(0, server.Received);
    }

    [Theory]
    [InlineData("alpacaeval-gpt35-instruct.yaml", "https://api.openai.com/v1", "gpt-3.5-turbo-instruct")]
    [InlineData("alpacaeval-llama3-70b-vllm.yaml", "http://127.0.0.1:8000/v1", "meta-llama/Meta-Llama-3-70B-Instruct")]
    public void ThePaperApiConfigsValidate(string file, string baseUrl, string model)
    {
        string path = Path.Combine("experiments", "paper", file);
        var result = Wts.Run("validate", path);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var config = ExperimentConfigParser.Load(Path.Combine(RepositoryPaths.Root, path));
        var api = Assert.Single(config.Bases).Api!;
        Assert.Equal((baseUrl, model), (api.BaseUrl, api.Model));
        Assert.Contains(config.Groups.SelectMany(g => g.Methods), m => m.Key == "cbs-w2-k2-l30");
        Assert.Contains(config.Groups.SelectMany(g => g.Methods), m => m.Key == "bon-n4");
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
