using WeakToStrong.Tests.Cli;
using WeakToStrong.Tests.Search;

namespace WeakToStrong.Tests.Experiments;

/// <summary>EFT mixes logits token by token: a config that asks for it across vocabularies is refused at its line.</summary>
public class VocabularyCheckTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    string Config(string large)
    {
        string path = Path.Combine(world.Root, $"eft-{large}.yaml");
        File.WriteAllText(path, $"""
            name: eft-check
            task: sentiment
            dataset: {"{prompts: 2}"}
            models:
              bases: [{"{"}name: big, path: {world.Dir(large)}{"}"}]
              tuned: {world.Dir("tuned")}
              untuned: {world.Dir("untuned")}
              gold: {world.Dir("untuned")}
            methods:
              - base
              - {"{method: eft, beta: 1.0}"}
            generation: {"{max_new_tokens: 4}"}
            """);
        return path;
    }

    [Fact]
    public void EftAcrossVocabulariesIsRefusedWithTheEntrysPosition()
    {
        string config = Config("untuned-b");
        var result = Wts.Run("validate", config);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{config}:11:5: eft on base model big: its vocabulary and the small models' differ", result.Stderr);
        var run = Wts.Run("run", config, "--output", Path.Combine(world.Root, "eft-run"));
        Assert.Equal(2, run.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(world.Root, "eft-run")));
    }

    [Fact]
    public void EftOnOneVocabularyIsAccepted()
    {
        var result = Wts.Run("validate", Config("large"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("every model found; vocabularies fit the methods", result.Stdout);
    }
}
