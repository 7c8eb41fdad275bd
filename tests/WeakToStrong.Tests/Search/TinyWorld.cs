using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Search;

/// <summary>
/// A throw-away world for search tests, written as Hugging Face directories by the library's own writers
/// (ByteLevelBpeVocabulary.Save, PretrainedModels.Save) and loaded back through the real loaders: two small
/// byte-level BPE vocabularies and tiny random GPT-2 models.
/// "tuned" is "untuned" with its final layer-norm bias pushed along the embedding of <see cref="PreferredToken"/>,
/// so the implicit value rewards that token strongly; "large-eos" ends responses early and often.
/// </summary>
public sealed class TinyWorld : IDisposable
{
    /// <summary>The id of the byte token "z" (GPT-2's byte order, as trained vocabularies use).</summary>
    public static readonly int PreferredToken = ByteLevelBpeVocabulary.ByteTokens.ToList().IndexOf("z");

    public static readonly (string, string)[] MergesA = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a")];
    public static readonly (string, string)[] MergesB = [("e", "r"), ("Ġ", "s"), ("Ġs", "er")];

    public string Root { get; } = Directory.CreateTempSubdirectory("wts-tinyworld-").FullName;

    public TinyWorld()
    {
        WriteModel("large", MergesA, seed: 1);
        WriteModel("untuned", MergesA, seed: 2);
        WriteModel("tuned", MergesA, seed: 2, pushToward: (PreferredToken, 60.0));
        WriteModel("large-eos", MergesA, seed: 3, pushToward: (EosOf(MergesA), 4.0));
        WriteModel("untuned-b", MergesB, seed: 4);
        WriteModel("tuned-b", MergesB, seed: 4, pushToward: (PreferredToken, 60.0));
    }

    public string Dir(string name) => Path.Combine(Root, name);

    public PromptedModel Load(string name, string template = PromptTemplate.Placeholder) =>
        new(name, PretrainedModels.LoadCausalLM(Dir(name), ModelOptions.Cpu), HfTokenizer.Load(Dir(name)), new PromptTemplate(template));

    public static int EosOf((string, string)[] merges) => ByteLevelBpeVocabulary.FromMerges(merges).EndOfTextId;

    void WriteModel(string name, (string, string)[] merges, int seed, (int Token, double Strength)? pushToward = null)
    {
        var vocabulary = ByteLevelBpeVocabulary.FromMerges(merges);
        string tokenizerDirectory = Path.Combine(Root, "tokenizers", name);
        vocabulary.Save(tokenizerDirectory);
        var config = ModelConfig.Gpt2(layers: 2, hidden: 32, heads: 4, vocabSize: vocabulary.Count, positions: 256);
        using var model = new GPT2LMHeadModel(config, ModelOptions.Cpu);
        model.InitializeWeights(new Generator((ulong)seed));
        using (no_grad())
        {
            var generator = new Generator((ulong)seed + 100);
            foreach (var (_, parameter) in model.named_parameters())
                parameter.add_(randn(parameter.shape, generator: generator) * 0.1);
            if (pushToward is var (token, strength))
            {
                var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                var row = parameters["transformer.wte.weight"][token];
                parameters["transformer.ln_f.bias"].add_(row / row.norm() * strength);
            }
        }
        PretrainedModels.Save(model, config, Dir(name), tokenizerDirectory);
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
