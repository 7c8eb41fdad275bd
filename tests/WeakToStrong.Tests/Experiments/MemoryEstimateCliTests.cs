using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace WeakToStrong.Tests.Experiments;

/// <summary>
/// `wts validate --require-models` on experiments/paper/alpacaeval-llama3.yaml with stand-ins whose config.json has the real
/// models' shapes (Llama-3-8B/70B-Instruct, zephyr/mistral-7b, Skywork-Reward-Llama-3.1-8B): the estimate needs no weights,
/// so the paper-scale figure is printed here, and a device too small for it is refused in one line.
/// </summary>
public sealed class MemoryEstimateCliTests(PaperStandIns standIns, ITestOutputHelper output) : IClassFixture<PaperStandIns>, IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("wts-memory-estimate-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    // hidden, intermediate, layers, heads, key/value heads, vocabulary: the hub configs' values.
    static readonly Dictionary<string, (int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int Vocab)> RealShapes = new()
    {
        ["meta-llama/Meta-Llama-3-8B-Instruct"] = (4096, 14336, 32, 32, 8, 128256),
        ["meta-llama/Meta-Llama-3-70B-Instruct"] = (8192, 28672, 80, 64, 8, 128256),
        ["HuggingFaceH4/zephyr-7b-beta"] = (4096, 14336, 32, 32, 8, 32000),
        ["HuggingFaceH4/mistral-7b-sft-beta"] = (4096, 14336, 32, 32, 8, 32000),
        ["Skywork/Skywork-Reward-Llama-3.1-8B"] = (4096, 14336, 32, 32, 8, 128256),
    };

    string PaperConfigWithRealShapes(int maxNewTokens)
    {
        var standInFor = PaperConfigDryRunTests.AlpacaEvalStandIns(standIns);
        foreach (var (hubId, shape) in RealShapes)
        {
            string copy = Path.Combine(scratch, hubId.Replace('/', '_'));
            Directory.CreateDirectory(copy);
            foreach (string file in Directory.GetFiles(standInFor[hubId])) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            string configPath = Path.Combine(copy, "config.json");
            var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
            (config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]) = (shape.Hidden, shape.Intermediate, shape.Layers);
            (config["num_attention_heads"], config["num_key_value_heads"], config["vocab_size"]) = (shape.Heads, shape.KvHeads, shape.Vocab);
            (config["head_dim"], config["torch_dtype"]) = (shape.Hidden / shape.Heads, "bfloat16");
            File.WriteAllText(configPath, config.ToJsonString());
            standInFor[hubId] = copy;
        }
        string path = Path.Combine(scratch, "alpacaeval-llama3.yaml");
        // The fixture holds the first 5 of AlpacaEval's 805 prompts.
        File.WriteAllText(path, PaperConfigDryRunTests.Rewrite(
            File.ReadAllText(Path.Combine(RepositoryPaths.Root, "experiments", "paper", "alpacaeval-llama3.yaml")), maxNewTokens, standInFor)
            .Replace("prompts: 805", "prompts: 5", StringComparison.Ordinal));
        return path;
    }

    [Fact]
    public void PaperScaleEstimateIsPrintedAndATooSmallDeviceIsRefused()
    {
        string config = PaperConfigWithRealShapes(maxNewTokens: 2048);

        var fits = Cli.Wts.Run("validate", config, "--require-models", "--device", "cuda", "--dtype", "bfloat16", "--device-memory", "400");
        output.WriteLine(fits.Stdout);
        Assert.True(fits.ExitCode == 0, fits.Stderr);
        Assert.Contains("base:llama-3-8b-instruct (", fits.Stdout);
        // Llama-3-70B's 70.55 B parameters in bfloat16 alone are 131.42 GiB.
        Assert.Contains("70.55 B parameters, weights 131.42 GiB", fits.Stdout);
        Assert.Contains("8.03 B parameters, weights 14.96 GiB", fits.Stdout);
        Assert.Contains("--device-memory 400 GiB per device); fits", fits.Stdout);

        var refused = Cli.Wts.Run("validate", config, "--require-models", "--device", "cuda", "--dtype", "bfloat16", "--device-memory", "80");
        output.WriteLine(refused.Stderr);
        Assert.Equal(2, refused.ExitCode);
        string error = Assert.Single(refused.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("wts: error: ", error);
        Assert.Contains("but cuda has 80.00 GiB (--device-memory 80 GiB per device)", error);
        Assert.Contains("llama-3-70b-instruct", error);

        // Without --require-models the misfit is reported, not an error; on the CPU the figure is the host's MemAvailable.
        var reported = Cli.Wts.Run("validate", config, "--device-memory", "80");
        Assert.Equal(0, reported.ExitCode);
        Assert.Contains("does NOT fit", reported.Stdout);
        var host = Cli.Wts.Run("validate", config, "--dtype", "bfloat16");
        Assert.Contains("MemAvailable in /proc/meminfo", host.Stdout);
    }
}
