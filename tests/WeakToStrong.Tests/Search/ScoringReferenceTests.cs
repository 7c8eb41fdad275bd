using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tests.Cli;
using WeakToStrong.Tests.Models.Safetensors;
using WeakToStrong.Tests.Tokenization;
using WeakToStrong.Tokenization;
using Xunit.Abstractions;

namespace WeakToStrong.Tests.Search;

/// <summary>
/// Our implicit value against the paper's reference implementation (weak-to-strong-search at 4767768: SFTDataMapFunc and
/// get_batch_logps), re-derived in plain PyTorch by tests/reference/scoring_reference.py with token ids from
/// transformers.js, so that neither our tokenizer nor our model code computes the goldens. Two small pairs with real
/// vocabularies (GPT-2's byte-level BPE, Mistral's SentencePiece) score the cases of tests/fixtures/scoring/cases.json:
/// merges across the prompt/response split, the EOS rule, a chat prompt with an added token, text sampled in another
/// vocabulary. fp32 on our side, float64 in the reference, every value within 1e-4.
/// </summary>
public class ScoringReferenceTests(ScoringPairs pairs, ITestOutputHelper output) : IClassFixture<ScoringPairs>
{
    const double Tolerance = 1e-4;

    static readonly string GoldensPath = RepositoryPaths.Fixture("scoring", "goldens.json");
    static readonly Lazy<JsonArray> Goldens = new(() => JsonNode.Parse(File.ReadAllText(GoldensPath))!["groups"]!.AsArray());

    static JsonNode Group(string name) => Goldens.Value.Single(g => g!["name"]!.GetValue<string>() == name)!;

    static string Text(JsonNode node, string key) => node[key]!.GetValue<string>();

    static int[] Ids(JsonNode node, string key) => node[key]!.Deserialize<int[]>()!;

    public static TheoryData<string> GroupNames()
    {
        var data = new TheoryData<string>();
        foreach (var group in Goldens.Value) data.Add(Text(group!, "name"));
        return data;
    }

    (PromptedModel Tuned, PromptedModel Untuned) Pair(JsonNode group) =>
        (pairs.Prompted(Text(group, "tuned"), Text(group, "tuned_template")), pairs.Prompted(Text(group, "untuned"), Text(group, "untuned_template")));

    static IReadOnlyList<ResponseToScore> Rows(JsonNode group) =>
        group["cases"]!.AsArray().Select((c, i) => new ResponseToScore(i + 1, new JsonObject(), Text(c!, "prompt"), Text(c!, "response"), c!["finished"]!.GetValue<bool>())).ToArray();

    /// <summary>Compares (tuned, untuned, implicit value) of every case with the goldens; returns the largest difference.</summary>
    static double AssertMatchesGoldens(JsonNode group, IReadOnlyList<(double ImplicitValue, double TunedLogprob, double UntunedLogprob)> scores)
    {
        var cases = group["cases"]!.AsArray();
        Assert.Equal(cases.Count, scores.Count);
        double largest = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            var golden = cases[i]!;
            string where = $"{Text(group, "name")} case {i} ({Text(golden, "prompt")} | {Text(golden, "response")})";
            foreach (var (name, expected, actual) in new[]
            {
                ("tuned", golden["tuned"]!["logprob"]!.GetValue<double>(), scores[i].TunedLogprob),
                ("untuned", golden["untuned"]!["logprob"]!.GetValue<double>(), scores[i].UntunedLogprob),
                ("implicit value", golden["implicit_value"]!.GetValue<double>(), scores[i].ImplicitValue),
            })
            {
                double difference = Math.Abs(expected - actual);
                largest = Math.Max(largest, difference);
                Assert.True(difference <= Tolerance, $"{where}: {name} {actual} vs the reference's {expected} (|difference| {difference:E2})");
            }
        }
        return largest;
    }

    [Theory]
    [MemberData(nameof(GroupNames))]
    public void The_library_scores_as_the_reference(string groupName)
    {
        var group = Group(groupName);
        var (tuned, untuned) = Pair(group);

        var scores = ResponseScoring.Score(tuned, untuned, Rows(group));

        double largest = AssertMatchesGoldens(group, scores);
        output.WriteLine($"{groupName}: max |difference| from the reference {largest:E2} over {scores.Count} cases");
    }

    /// <summary>
    /// The split itself, not only its sums: the ids each model reads (with the EOS where finished) and where scoring
    /// starts are the reference's, which also shows that our tokenizers give transformers.js's ids on these texts.
    /// </summary>
    [Theory]
    [MemberData(nameof(GroupNames))]
    public void The_scorer_splits_prompt_and_response_where_the_reference_does(string groupName)
    {
        var group = Group(groupName);
        var (tuned, untuned) = Pair(group);
        var scorer = LogProbScorer.ImplicitValue(tuned, tuned, untuned);
        Assert.Same(tuned, scorer.Models[0]);
        Assert.Same(untuned, scorer.Models[1]);
        var cases = group["cases"]!.AsArray();
        for (int i = 0; i < cases.Count; i++)
        {
            var golden = cases[i]!;
            using var session = scorer.Begin([Text(golden, "prompt")], rowsPerPrompt: 1, maxNewTokens: 0, updates: 1);
            var response = Response.FromText(Text(golden, "response"), golden["finished"]!.GetValue<bool>() ? FinishReason.Eos : null);
            foreach (var (term, role) in new[] { (0, "tuned"), (1, "untuned") })
            {
                var reference = golden[role]!;
                var model = scorer.Models[term];
                string where = $"{groupName} case {i}, {role}";
                Assert.True(Ids(reference, "prompt_ids").SequenceEqual(model.EncodePrompt(Text(golden, "prompt"))), $"{where}: prompt ids differ");
                var (sequence, scoreFrom) = session.ScoredTokens(term, response, prompt: 0);
                Assert.True(Ids(reference, "ids").SequenceEqual(sequence),
                    $"{where}: ids [{string.Join(',', sequence)}] vs the reference's [{string.Join(',', Ids(reference, "ids"))}]");
                Assert.True(reference["common_prefix"]!.GetValue<int>() == scoreFrom, $"{where}: split at {scoreFrom}, the reference at {reference["common_prefix"]}");
            }
        }
    }

    [Fact]
    public void The_cases_exercise_the_rules_they_are_meant_to()
    {
        var cases = Goldens.Value.SelectMany(g => g!["cases"]!.AsArray().SelectMany(c => new[] { c!["tuned"]!, c["untuned"]! })).ToArray();
        // A merge across the split (the common prefix is shorter than the prompt), for both vocabularies.
        foreach (string family in new[] { "gpt2", "llama" })
            Assert.Contains(Goldens.Value, g => Text(g!, "tuned").StartsWith(family, StringComparison.Ordinal) && g!["cases"]!.AsArray()
                .Any(c => c!["tuned"]!["common_prefix"]!.GetValue<int>() < Ids(c["tuned"]!, "prompt_ids").Length));
        Assert.Contains(cases, c => c["common_prefix"]!.GetValue<int>() == 0);              // nothing in common: the first token is still not scored
        Assert.Contains(cases, c => Ids(c, "ids").Length == Ids(c, "prompt_ids").Length);  // nothing scored at all
        Assert.True(Goldens.Value.SelectMany(g => g!["cases"]!.AsArray()).Count(c => c!["finished"]!.GetValue<bool>()) >= 10);
        Assert.True(Goldens.Value.SelectMany(g => g!["cases"]!.AsArray()).Count(c => !c!["finished"]!.GetValue<bool>()) >= 6);
    }

    /// <summary>The user's path: `wts score` per group, a separate process reading JSONL and writing JSONL.</summary>
    [Fact]
    public void Wts_score_writes_the_reference_values()
    {
        string directory = Directory.CreateTempSubdirectory("wts-scoring-reference-").FullName;
        try
        {
            double largest = 0;
            foreach (var group in Goldens.Value.Select(g => g!))
            {
                string input = Path.Combine(directory, $"{Text(group, "name")}.jsonl"), scored = input + ".scored";
                var lines = group["cases"]!.AsArray().Select(c => new JsonObject
                {
                    ["prompt"] = Text(c!, "prompt"), ["response"] = Text(c!, "response"), ["finished"] = c!["finished"]!.GetValue<bool>(),
                }.ToJsonString());
                File.WriteAllText(input, string.Join("\n", lines) + "\n", new UTF8Encoding(false));

                var run = Wts.Run("score", "--tuned", ScoringPairs.ModelDirectory(Text(group, "tuned")), "--untuned", ScoringPairs.ModelDirectory(Text(group, "untuned")),
                    "--tuned-template", Text(group, "tuned_template"), "--untuned-template", Text(group, "untuned_template"),
                    "--input", input, "--output", scored);

                Assert.True(run.ExitCode == 0, $"{Text(group, "name")}: {run.Stderr}");
                var results = File.ReadAllLines(scored).Select(l => JsonNode.Parse(l)!).ToArray();
                largest = Math.Max(largest, AssertMatchesGoldens(group, results.Select(r =>
                    (r["implicit_value"]!.GetValue<double>(), r["tuned_logprob"]!.GetValue<double>(), r["untuned_logprob"]!.GetValue<double>())).ToArray()));
                Assert.Equal(Rows(group).Select(r => r.Response), results.Select(r => Text(r, "response"))); // lines come back in order
            }
            output.WriteLine($"wts score: max |difference| from the reference {largest:E2}");
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>Re-runs tests/reference/scoring_reference.py (transformers.js ids, plain-PyTorch log-probs) and checks that it still writes the committed goldens.</summary>
    [ScoringReferenceFact]
    public void The_reference_script_reproduces_the_committed_goldens()
    {
        string fresh = Path.Combine(Path.GetTempPath(), $"w2s-scoring-goldens-{Guid.NewGuid()}.json");
        try
        {
            var (code, stdout, stderr) = PythonReference.Run(Path.Combine(RepositoryPaths.Root, "tests", "reference", "scoring_reference.py"), "--output", fresh);
            Assert.True(code == 0, $"scoring_reference.py failed ({code}): {stdout}\n{stderr}");
            output.WriteLine(stdout);
            var rerun = JsonNode.Parse(File.ReadAllText(fresh))!["groups"]!.AsArray();
            Assert.Equal(Goldens.Value.Count, rerun.Count);
            foreach (var (committed, again) in Goldens.Value.Zip(rerun))
            {
                var (committedCases, newCases) = (committed!["cases"]!.AsArray(), again!["cases"]!.AsArray());
                Assert.Equal(committedCases.Count, newCases.Count);
                foreach (var (a, b) in committedCases.Zip(newCases))
                {
                    foreach (string role in new[] { "tuned", "untuned" })
                    {
                        Assert.Equal(Ids(a![role]!, "prompt_ids"), Ids(b![role]!, "prompt_ids"));
                        Assert.Equal(Ids(a[role]!, "ids"), Ids(b[role]!, "ids"));
                        Assert.Equal(a[role]!["common_prefix"]!.GetValue<int>(), b[role]!["common_prefix"]!.GetValue<int>());
                        // float64 throughout: only a different torch build could move the last digits.
                        Assert.Equal(a[role]!["logprob"]!.GetValue<double>(), b[role]!["logprob"]!.GetValue<double>(), 1e-9);
                    }
                }
            }
        }
        finally { File.Delete(fresh); }
    }
}

/// <summary>The four models of tests/fixtures/scoring, each loaded once for the test class.</summary>
public sealed class ScoringPairs : IDisposable
{
    readonly Dictionary<string, (CausalLanguageModel Model, HfTokenizer Tokenizer)> loaded = [];

    public static string ModelDirectory(string name) => RepositoryPaths.Fixture("scoring", name);

    public PromptedModel Prompted(string name, string template)
    {
        if (!loaded.TryGetValue(name, out var model))
            loaded[name] = model = (PretrainedModels.LoadCausalLM(ModelDirectory(name), ModelOptions.Cpu), HfTokenizer.Load(ModelDirectory(name)));
        return new PromptedModel(name, model.Model, model.Tokenizer, new PromptTemplate(template));
    }

    public void Dispose()
    {
        foreach (var (model, _) in loaded.Values) model.Dispose();
    }
}

/// <summary>A fact that is skipped, saying why, when the scoring reference cannot run here (it needs both Python's torch and transformers.js).</summary>
public sealed class ScoringReferenceFactAttribute : FactAttribute
{
    public ScoringReferenceFactAttribute()
    {
        // xunit 2 has no skip from inside a test, so the check runs when the test is discovered.
        if (!PythonReference.Available) Skip = $"scoring reference unavailable: {PythonReference.Unavailable}";
        else if (NodeReference.Unavailable("@huggingface/transformers") is { } reason) Skip = $"scoring reference unavailable: {reason}";
    }
}
