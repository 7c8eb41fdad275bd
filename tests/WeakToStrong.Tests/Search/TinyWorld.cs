using System.Text.Json;
using WeakToStrong.Models;
using WeakToStrong.Models.Safetensors;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Search;

/// <summary>
/// A throw-away world for search tests, written to disk as Hugging Face directories and loaded back through
/// the real loaders: two small byte-level BPE vocabularies and tiny random GPT-2 models.
/// "tuned" is "untuned" with its final layer-norm bias pushed along the embedding of <see cref="PreferredToken"/>,
/// so the implicit value rewards that token strongly; "large-eos" ends responses early and often.
/// </summary>
public sealed class TinyWorld : IDisposable
{
    public const int PreferredToken = 'z'; // byte tokens have the byte's value as id

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

    public static int EosOf((string, string)[] merges) => 256 + merges.Length;

    void WriteModel(string name, (string, string)[] merges, int seed, (int Token, double Strength)? pushToward = null)
    {
        string dir = Dir(name);
        Directory.CreateDirectory(dir);
        WriteTokenizer(dir, merges);
        int vocab = EosOf(merges) + 1;
        var config = ModelConfig.Gpt2(layers: 2, hidden: 32, heads: 4, vocabSize: vocab, positions: 256);
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
        SafetensorsWriter.Save(Path.Combine(dir, SafetensorsWriter.SingleFileName),
            model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach()));
        var json = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "GPT2LMHeadModel" }, ["model_type"] = "gpt2", ["activation_function"] = "gelu_new",
            ["n_embd"] = 32, ["n_layer"] = 2, ["n_head"] = 4, ["n_positions"] = 256, ["n_ctx"] = 256, ["vocab_size"] = vocab,
            ["layer_norm_epsilon"] = 1e-5, ["bos_token_id"] = vocab - 1, ["eos_token_id"] = vocab - 1, ["tie_word_embeddings"] = true,
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(json));
    }

    static void WriteTokenizer(string dir, (string, string)[] merges)
    {
        var vocabulary = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++) vocabulary[ByteToken((byte)b)] = b;
        foreach (var (left, right) in merges) vocabulary[left + right] = vocabulary.Count;
        vocabulary["<|endoftext|>"] = vocabulary.Count;
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(vocabulary));
        File.WriteAllLines(Path.Combine(dir, "merges.txt"), ["#version: 0.2", .. merges.Select(m => $"{m.Item1} {m.Item2}")]);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"),
            """{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "add_prefix_space": false}""");
    }

    /// <summary>The vocabulary spelling of one byte (GPT-2's byte-to-character map).</summary>
    static string ByteToken(byte b)
    {
        var bytes = new List<byte>();
        for (int c = 0; c < 0x200; c++)
        {
            bytes.Clear();
            if (ByteLevelAlphabet.TryAppendBytes(((char)c).ToString(), bytes) && bytes[0] == b) return ((char)c).ToString();
        }
        throw new InvalidOperationException($"no character for byte {b}");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
