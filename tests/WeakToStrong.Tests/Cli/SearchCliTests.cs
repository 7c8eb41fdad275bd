using System.Text.Json;
using WeakToStrong.Search;
using WeakToStrong.Tests.Search;

namespace WeakToStrong.Tests.Cli;

public class SearchCliTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    string[] Models(string large = "large", string tuned = "tuned", string untuned = "untuned") =>
        ["--large", world.Dir(large), "--tuned", world.Dir(tuned), "--untuned", world.Dir(untuned)];

    [Fact]
    public void CbsJsonMatchesTheLibrary()
    {
        var run = Wts.Run(["search", "--method", "cbs", .. Models(), "--prompt", "the cat", "--w", "2", "--k", "2", "--l", "3",
            "--max-new-tokens", "9", "--seed", "4", "--json"]);

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        var root = json.RootElement;
        var expected = new ChunkLevelBeamSearch(world.Load("large"), LogProbScorer.ImplicitValue(world.Load("large"), world.Load("tuned"), world.Load("untuned")),
            new BeamSearchOptions(2, 2, 3), new GenerationOptions(9, new SamplingOptions(), null, 4)).Run([new SearchPrompt(0, "the cat")])[0];
        Assert.Equal(expected.Best.TokenIds, root.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(expected.Best.Text, root.GetProperty("text").GetString());
        Assert.Equal(expected.Best.Score, root.GetProperty("score").GetDouble(), 1e-6);
        // The reported implicit value scores the answer alone (batch padding moves float32 rounding a little).
        Assert.Equal(expected.Best.Score, root.GetProperty("implicit_value").GetDouble(), 1e-4);
        Assert.Equal(expected.Compute.LargeTokensSampled, root.GetProperty("compute").GetProperty("large_tokens_sampled").GetInt64());
    }

    [Fact]
    public void ADeviceListSplitsTheModelsAndChangesNoResult()
    {
        string[] search = ["search", "--method", "cbs", .. Models(), "--prompt", "the cat", "--w", "2", "--k", "2", "--l", "3", "--max-new-tokens", "9", "--seed", "4", "--json"];
        var one = Wts.Run(search);
        var split = Wts.Run([.. search, "--device", "cpu,cpu"]);

        Assert.True(split.ExitCode == 0, split.Stderr);
        Assert.Contains("large: cpu embeddings; cpu layers 0–1 + head", split.Stderr); // the embeddings (261 + 256 rows) outweigh a layer
        static JsonElement WithoutTime(string json)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
            node["compute"]!.AsObject().Remove("wall_seconds");
            return JsonDocument.Parse(node.ToJsonString()).RootElement;
        }
        Assert.Equal(WithoutTime(one.Stdout).ToString(), WithoutTime(split.Stdout).ToString());
    }

    [Fact]
    public void EftReportsTheImplicitValueOfItsAnswer()
    {
        var run = Wts.Run(["search", "--method", "eft", .. Models(), "--prompt", "a tale", "--beta", "2", "--max-new-tokens", "6", "--json"]);

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal(JsonValueKind.Number, json.RootElement.GetProperty("implicit_value").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("score").ValueKind);
    }

    [Fact]
    public void EftAcrossVocabulariesIsRefused()
    {
        var run = Wts.Run(["search", "--method", "eft", .. Models(tuned: "tuned-b", untuned: "untuned-b"), "--prompt", "x"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("one vocabulary", run.Stderr);
    }

    [Theory]
    [InlineData("--l", "0", "--l")]
    [InlineData("--w", "0", "beam width")]
    [InlineData("--top-p", "1.5", "--top-p must be in (0, 1]")]
    [InlineData("--guide", "oracle", "--guide")]
    public void BadSearchFlagsAreExitCode2(string option, string value, string expectedInMessage)
    {
        var run = Wts.Run(["search", .. Models(), "--prompt", "x", option, value]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(expectedInMessage, run.Stderr);
    }

    [Fact]
    public void BestOfNNamesItsOwnFlag()
    {
        var run = Wts.Run(["search", "--method", "bon", .. Models(), "--prompt", "x", "--n", "0"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--n: expected 1 to 1024 samples, got 0", run.Stderr);
    }

    [Fact]
    public void GuidedMethodsNeedTheSmallPair()
    {
        var run = Wts.Run("search", "--method", "bon", "--large", world.Dir("large"), "--prompt", "x");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--tuned", run.Stderr);
    }

    [Fact]
    public void TheLikelihoodGuideRunsWithoutTheSmallPairAndMatchesTheLibrary()
    {
        var run = Wts.Run("search", "--method", "cbs", "--guide", "likelihood", "--finished", "one-slot", "--large", world.Dir("large"),
            "--prompt", "the cat", "--w", "2", "--k", "2", "--l", "2", "--max-new-tokens", "6", "--seed", "3", "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        var large = world.Load("large");
        var expected = new ChunkLevelBeamSearch(large, LogProbScorer.LogLikelihood(large), new BeamSearchOptions(2, 2, 2, FinishedStates.OneSlot),
            new GenerationOptions(6, new SamplingOptions(), null, 3)).Run([new SearchPrompt(0, "the cat")])[0];
        Assert.Equal(expected.Best.TokenIds, json.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("likelihood", json.RootElement.GetProperty("guide").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("implicit_value").ValueKind);
    }

    [Fact]
    public void EveryMethodOfTheTableRunsAndTheSmallModelsNeedNoLargeOne()
    {
        // The small tuned model alone: the same sampling as the library's, with no --large to load.
        var run = Wts.Run("search", "--method", "small-tuned", "--tuned", world.Dir("tuned"), "--untuned", world.Dir("untuned"),
            "--prompt", "the cat", "--max-new-tokens", "6", "--seed", "2", "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        var expected = new ChunkLevelBeamSearch(world.Load("tuned"), null, BeamSearchOptions.Sampling,
            new GenerationOptions(6, new SamplingOptions(), null, 2)).Run([new SearchPrompt(0, "the cat")])[0];
        Assert.Equal(expected.Best.TokenIds, json.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(JsonValueKind.Number, json.RootElement.GetProperty("implicit_value").ValueKind);

        // --method accepts exactly the table's names, and says which they are.
        var help = Wts.Run("search", "--help");
        Assert.Contains(string.Join(", ", MethodSpec.Names.Keys), help.Stdout);
        var unknown = Wts.Run("search", "--method", "beam", "--prompt", "x");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("'small-untuned'", unknown.Stderr);
        // A method that samples the large model still needs one.
        var noLarge = Wts.Run(["search", "--method", "base", "--tuned", world.Dir("tuned"), "--untuned", world.Dir("untuned"), "--prompt", "x"]);
        Assert.Equal(2, noLarge.ExitCode);
        Assert.Contains("give --large", noLarge.Stderr);
    }

    [Fact]
    public void GenerateRefusesMoreTokensThanTheModelHasPositions()
    {
        var run = Wts.Run("generate", "--model", world.Dir("large"), "--prompt", "the cat", "--max-new-tokens", "2000000000");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--max-new-tokens: the prompt's", run.Stderr);
        Assert.Contains("exceed the 256 positions", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }
}
