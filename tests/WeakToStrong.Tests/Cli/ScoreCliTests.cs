using System.Text.Json;
using WeakToStrong.Search;
using WeakToStrong.Tests.Search;

namespace WeakToStrong.Tests.Cli;

public class ScoreCliTests(TinyWorld world) : IClassFixture<TinyWorld>, IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("wts-score-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    string Input(params string[] lines)
    {
        string path = Path.Combine(directory, $"input-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    string[] Models() => ["--tuned", world.Dir("tuned-b"), "--untuned", world.Dir("untuned-b"), "--tuned-template", "Q: {raw_prompt}\nA:"];

    [Fact]
    public void ScoresEachLineAsTheReferenceDoesAndKeepsItsFields()
    {
        string input = Input(
            """{"prompt": "the cat", "response": " sat on the mat", "finished": true, "id": 7}""",
            """{"prompt": "a tale of", "response": " two zebras", "finished": false}""",
            """{"prompt": "  spaced  ", "response": "", "finished": true}""");
        string output = Path.Combine(directory, "scored.jsonl");

        var run = Wts.Run(["score", .. Models(), "--input", input, "--output", output]);

        Assert.True(run.ExitCode == 0, run.Stderr);
        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(3, lines.Length);
        Assert.Equal(7, lines[0].GetProperty("id").GetInt32());
        var tuned = world.Load("tuned-b", "Q: {raw_prompt}\nA:");
        var untuned = world.Load("untuned-b");
        foreach (var line in lines)
        {
            string prompt = line.GetProperty("prompt").GetString()!, response = line.GetProperty("response").GetString()!;
            bool finished = line.GetProperty("finished").GetBoolean();
            double expectedTuned = SearchTests.ReferenceLogprob(tuned, prompt, response, finished);
            double expectedUntuned = SearchTests.ReferenceLogprob(untuned, prompt, response, finished);
            Assert.Equal(expectedTuned, line.GetProperty("tuned_logprob").GetDouble(), 1e-4);
            Assert.Equal(expectedUntuned, line.GetProperty("untuned_logprob").GetDouble(), 1e-4);
            Assert.Equal(expectedTuned - expectedUntuned, line.GetProperty("implicit_value").GetDouble(), 1e-4);
        }
        Assert.Equal(0.0, lines[2].GetProperty("tuned_logprob").GetDouble() - SearchTests.ReferenceLogprob(tuned, "  spaced  ", "", true), 1e-4);
    }

    [Theory]
    [InlineData("""{"prompt": "x", "response": "y"}""", ":2: \"finished\" must be true or false and is missing")]
    [InlineData("""{"prompt": 3, "response": "y", "finished": true}""", ":2: \"prompt\" must be a string")]
    [InlineData("""{"prompt": "x", "response": "y", "finished": true""", ":2: not valid JSON")]
    public void ABadLineIsNamedByFileAndLine(string badLine, string expected)
    {
        string input = Input("""{"prompt": "x", "response": "y", "finished": true}""", badLine);

        var run = Wts.Run(["score", .. Models(), "--input", input, "--output", Path.Combine(directory, "out.jsonl")]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(input + expected, run.Stderr);
        Assert.False(File.Exists(Path.Combine(directory, "out.jsonl")));
    }

    [Fact]
    public void AnExistingOutputIsNeverOverwritten()
    {
        string input = Input("""{"prompt": "x", "response": "y", "finished": true}""");
        string output = Path.Combine(directory, "keep.jsonl");
        File.WriteAllText(output, "mine");

        var run = Wts.Run(["score", .. Models(), "--input", input, "--output", output]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--output", run.Stderr);
        Assert.Equal("mine", File.ReadAllText(output));
    }
}
