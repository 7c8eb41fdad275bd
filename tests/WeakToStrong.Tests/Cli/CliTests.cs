using System.Text.Json;
using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Cli;

public class CliTests
{
    [Theory]
    [InlineData(new[] { "frobnicate" }, "wts: error: Unrecognized command or argument 'frobnicate' (see wts --help)")]
    [InlineData(new[] { "generate", "--prompt", "p" }, "wts: error: Option '--model' is required (see wts generate --help)")]
    [InlineData(new[] { "search", "--prompt", "p" }, "wts: error: give --large (a model here) or --large-api-base-url and --large-api-model (a model behind a server)")]
    [InlineData(new[] { "search", "--large", "m", "--prompt", "p", "--w", "x" }, "wts: error: Cannot parse argument 'x' for option '--w' as expected type 'System.Int32' (see wts search --help)")]
    [InlineData(new string[0], "wts: error: Required command was not provided (see wts --help)")]
    public void ParseErrorsAreOneLineAndExitCode2(string[] args, string expected)
    {
        var run = Wts.Run(args);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal(expected, run.Stderr.TrimEnd('\n'));
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void LogprobsJsonMatchesGoldenLogits()
    {
        using var scope = NewDisposeScope();
        using var golden = SafetensorsFile.Open(RepositoryPaths.Fixture("gpt2-tied", "golden.safetensors"));
        // Row 0 of the golden batch has no padding: its log-softmaxed logits give every next-token logprob.
        var inputIds = golden.ReadTensor("input_ids", ScalarType.Int64)[0];
        var logprobs = golden.ReadTensor("logits", ScalarType.Float32)[0].log_softmax(-1);
        long[] ids = inputIds.data<long>().ToArray();

        var run = Wts.Run("logprobs", "--model", RepositoryPaths.Fixture("gpt2-tied"), "--ids", string.Join(',', ids), "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal(ids, json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64()));
        var values = json.RootElement.GetProperty("logprobs").EnumerateArray().ToArray();
        Assert.Equal(ids.Length, values.Length);
        Assert.Equal(JsonValueKind.Null, values[0].ValueKind);
        for (int i = 1; i < ids.Length; i++)
            Assert.Equal(logprobs[i - 1, ids[i]].item<float>(), values[i].GetDouble(), 1e-4);
    }

    [Fact]
    public void RewardIsPositiveMinusNegativeLogit()
    {
        var run = Wts.Run("reward", "--model", RepositoryPaths.Fixture("distilbert-cls"), "--text", "a good film", "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        var logits = json.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var labels = json.RootElement.GetProperty("labels").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(["NEGATIVE", "POSITIVE"], labels);
        Assert.Equal(logits[1] - logits[0], json.RootElement.GetProperty("reward").GetDouble(), 1e-5);
        Assert.NotEqual(0.0, logits[0]);
    }

    [Fact]
    public void MissingModelIsExitCode2NamingThePath()
    {
        string missing = Path.Combine(Path.GetTempPath(), "wts-no-such-model-" + Guid.NewGuid().ToString("N"));
        var run = Wts.Run("logprobs", "--model", missing, "--ids", "1,2", "--json");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(missing, run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Theory]
    [InlineData("--ids", "1,x,3", "--ids")]
    [InlineData("--ids", "1,2,999999", "vocab_size")]
    public void BadIdsAreExitCode2(string option, string value, string expectedInMessage)
    {
        var run = Wts.Run("logprobs", "--model", RepositoryPaths.Fixture("gpt2-tied"), option, value, "--json");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(expectedInMessage, run.Stderr);
    }

    [Fact]
    public void UnknownOptionIsAnError()
    {
        var run = Wts.Run("logprobs", "--model", RepositoryPaths.Fixture("gpt2-tied"), "--no-such-flag");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--no-such-flag", run.Stderr + run.Stdout);
    }
}
