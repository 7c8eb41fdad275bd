using System.Text.Json.Nodes;
using WeakToStrong.Models;
using WeakToStrong.Models.Safetensors;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>Bad checkpoints and configs: each a clear InvalidInputException naming the file and what was expected.</summary>
public sealed class ModelLoadingErrorTests : IDisposable
{
    readonly string work = Directory.CreateTempSubdirectory("wts-load").FullName;

    public void Dispose() => Directory.Delete(work, true);

    /// <summary>A copy of a fixture whose tensors and config can be edited.</summary>
    string CopyFixture(string fixture, Action<Dictionary<string, Tensor>>? editTensors = null, Action<JsonObject>? editConfig = null)
    {
        string dir = Path.Combine(work, fixture + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        var config = JsonNode.Parse(File.ReadAllText(RepositoryPaths.Fixture(fixture, "config.json")))!.AsObject();
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        using var source = SafetensorsCheckpoint.Open(RepositoryPaths.Fixture(fixture));
        var tensors = source.Names.ToDictionary(n => n, n => source.ReadTensor(n, ScalarType.Float32));
        editTensors?.Invoke(tensors);
        SafetensorsWriter.Save(Path.Combine(dir, "model.safetensors"), tensors);
        foreach (var t in tensors.Values) t.Dispose();
        return dir;
    }

    static InvalidInputException LoadFails(string dir) =>
        Assert.Throws<InvalidInputException>(() => PretrainedModels.LoadCausalLM(dir, ModelOptions.Cpu));

    [Fact]
    public void MissingTensorIsNamed()
    {
        string dir = CopyFixture("llama-gqa", t => t.Remove("model.layers.1.mlp.up_proj.weight"));
        var error = LoadFails(dir);
        Assert.Contains("model.layers.1.mlp.up_proj.weight", error.Message);
        Assert.Contains(dir, error.Message);
    }

    [Fact]
    public void UnexpectedShapeIsNamedWithBothShapes()
    {
        string dir = CopyFixture("gpt2-tied", t => t["h.0.attn.c_attn.weight"] = zeros(8, 8));
        var error = LoadFails(dir);
        Assert.Contains("h.0.attn.c_attn.weight", error.Message);
        Assert.Contains("[8, 8]", error.Message);
        Assert.Contains("expected", error.Message);
    }

    [Fact]
    public void UnsupportedModelTypeNamesTheKey()
    {
        string dir = CopyFixture("gpt2-tied", editConfig: c => c["model_type"] = "t5");
        var error = LoadFails(dir);
        Assert.Contains("model_type", error.Message);
        Assert.Contains("t5", error.Message);
        Assert.Contains("config.json", error.Message);
    }

    [Fact]
    public void UnsupportedRopeScalingNamesTheKey()
    {
        string dir = CopyFixture("llama-gqa", editConfig: c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 });
        Assert.Contains("rope_scaling.rope_type", LoadFails(dir).Message);
    }

    [Fact]
    public void WrongTypedConfigValueNamesTheKey()
    {
        string dir = CopyFixture("llama-gqa", editConfig: c => c["num_key_value_heads"] = 3);
        var error = LoadFails(dir);
        Assert.Contains("num_key_value_heads", error.Message);
        dir = CopyFixture("gpt2-tied", editConfig: c => c["n_embd"] = "wide");
        Assert.Contains("n_embd", LoadFails(dir).Message);
    }

    [Fact]
    public void MalformedConfigJsonIsReported()
    {
        string dir = CopyFixture("gpt2-tied");
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"gpt2\", ");
        var error = LoadFails(dir);
        Assert.Contains("config.json", error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Fact]
    public void MissingConfigJsonIsReported()
    {
        string dir = CopyFixture("gpt2-tied");
        File.Delete(Path.Combine(dir, "config.json"));
        Assert.Contains("config.json not found", LoadFails(dir).Message);
    }

    [Fact]
    public void PickleCheckpointIsRefusedWithConversionAdvice()
    {
        string dir = CopyFixture("gpt2-tied");
        File.Delete(Path.Combine(dir, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), [0x80, 0x02]);
        var error = LoadFails(dir);
        Assert.Contains("pickle", error.Message);
        Assert.Contains("safe_serialization", error.Message);
    }

    [Fact]
    public void ClassifierAndLanguageModelAreNotConfused()
    {
        Assert.Contains("sequence classifier", LoadFails(RepositoryPaths.Fixture("gpt2-reward")).Message);
        var error = Assert.Throws<InvalidInputException>(() => PretrainedModels.LoadSequenceClassifier(RepositoryPaths.Fixture("gpt2-tied"), ModelOptions.Cpu));
        Assert.Contains("causal language model", error.Message);
    }

    [Fact]
    public void UnknownReferenceListsWhereItLooked()
    {
        var error = Assert.Throws<InvalidInputException>(() => ModelLocator.Resolve("no-such-org/no-such-model"));
        Assert.Contains("models--no-such-org--no-such-model", error.Message);
        Assert.Contains("looked in", error.Message);
    }

    [Fact]
    public void HubIdResolvesInTheOfflineCacheAtRefsMain()
    {
        string hfHome = Path.Combine(work, "hf-home");
        string repository = Path.Combine(hfHome, "hub", "models--lvwerra--gpt2-imdb");
        string snapshot = Path.Combine(repository, "snapshots", "abc123");
        Directory.CreateDirectory(snapshot);
        Directory.CreateDirectory(Path.Combine(repository, "snapshots", "old999"));
        File.Copy(RepositoryPaths.Fixture("gpt2-tied", "config.json"), Path.Combine(snapshot, "config.json"));
        File.Copy(RepositoryPaths.Fixture("gpt2-tied", "model.safetensors"), Path.Combine(snapshot, "model.safetensors"));
        Directory.CreateDirectory(Path.Combine(repository, "refs"));
        File.WriteAllText(Path.Combine(repository, "refs", "main"), "abc123\n");
        string? previousHome = Environment.GetEnvironmentVariable("HF_HOME"), previousCache = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("HF_HOME", hfHome);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", null);
            Assert.Equal(snapshot, ModelLocator.Resolve("lvwerra/gpt2-imdb"));
            using var model = PretrainedModels.LoadCausalLM("lvwerra/gpt2-imdb", ModelOptions.Cpu);
            Assert.Equal(101, model.Config.VocabSize);
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HOME", previousHome);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", previousCache);
        }
    }
}
