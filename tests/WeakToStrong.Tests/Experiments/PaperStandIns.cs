using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Experiments;

/// <summary>
/// Tiny random-weight stand-ins for the models that experiments/paper/*.yaml name by hub id, built in a temporary
/// directory by the library's own writers: the same architecture families, the real tokenizers and chat templates,
/// and the real special-token ids, so that prompting, EOS handling and cross-vocabulary scoring are the real thing and
/// only the weights (and their size) are not. Each family is built on first use, so a test that needs one family does
/// not pay for the other.
/// </summary>
public sealed class PaperStandIns : IDisposable
{
    // Llama 3's special ids: <|begin_of_text|>, <|end_of_text|>, <|eom_id|> (3.1 only), <|eot_id|>.
    public const int Llama3Bos = 128000, Llama3EndOfText = 128001, Llama31Eom = 128008, Llama3Eot = 128009;
    public const int Llama3VocabSize = 128256;
    // Mistral-7B's SentencePiece ids: <s>, </s>.
    public const int MistralBos = 1, MistralEos = 2, MistralVocabSize = 32000;
    public const int Gpt2VocabSize = 50257;

    readonly Lazy<bool> gpt2Family, llamaFamily;

    public PaperStandIns()
    {
        gpt2Family = new(() => { BuildGpt2Family(); return true; });
        llamaFamily = new(() => { BuildLlamaFamily(); return true; });
    }

    public string Root { get; } = Directory.CreateTempSubdirectory("wts-paper-standins-").FullName;

    /// <summary>The model directory of a GPT-2-family stand-in (gpt2-large, gpt2-xl, gpt2-imdb, gpt2-imdb-dpo, gpt2-tldr-sft, gpt2-tldr-dpo, tldr-gold-rm).</summary>
    public string Gpt2(string name)
    {
        _ = gpt2Family.Value;
        return Dir(name);
    }

    /// <summary>The model directory of an AlpacaEval stand-in (llama-3-8b-instruct, llama-3-70b-instruct, zephyr-7b-beta, mistral-7b-sft-beta, skywork-reward-llama-3.1-8b).</summary>
    public string Llama(string name)
    {
        _ = llamaFamily.Value;
        return Dir(name);
    }

    string Dir(string name)
    {
        string path = Path.Combine(Root, name);
        if (!Directory.Exists(path)) throw new ArgumentException($"no stand-in named {name} was built", nameof(name));
        return path;
    }

    static string Fixture(params string[] parts) => RepositoryPaths.Fixture(parts);

    void BuildGpt2Family()
    {
        string tokenizer = Fixture("tokenizers", "gpt2-json");
        // Growing sizes, as gpt2-large < gpt2-xl; the small pair are 124M gpt2s in the paper, here smaller than both.
        // n_positions stays GPT-2's 1024: TL;DR posts are long, and prompt + max_new_tokens must fit.
        var large = ModelConfig.Gpt2(layers: 1, hidden: 16, heads: 2, vocabSize: Gpt2VocabSize, positions: 1024);
        var xl = ModelConfig.Gpt2(layers: 2, hidden: 16, heads: 2, vocabSize: Gpt2VocabSize, positions: 1024);
        var small = ModelConfig.Gpt2(layers: 1, hidden: 8, heads: 2, vocabSize: Gpt2VocabSize, positions: 1024);
        SaveCausalLM(large, "gpt2-large", tokenizer, seed: 1);
        SaveCausalLM(xl, "gpt2-xl", tokenizer, seed: 2);
        // A tuned model is its untuned reference moved a little (DPO starts from it), so the implicit value is small but not zero.
        SaveCausalLM(small, "gpt2-imdb", tokenizer, seed: 3);
        SaveCausalLM(small, "gpt2-imdb-dpo", tokenizer, seed: 3, tuneSeed: 4);
        SaveCausalLM(small, "gpt2-tldr-sft", tokenizer, seed: 5);
        SaveCausalLM(small, "gpt2-tldr-dpo", tokenizer, seed: 5, tuneSeed: 6);
        // The summarization gold: what `wts train rm --pairs` writes, a GPT2ForSequenceClassification with one logit.
        SaveClassifier(small.WithClassificationHead(1), "tldr-gold-rm", tokenizer, seed: 7);
    }

    void BuildLlamaFamily()
    {
        // Meta-Llama-3-8B-Instruct's tokenizer files carry its chat template in tokenizer_config.json, as the hub's do.
        string llama3Tokenizer = Fixture("tokenizers", "meta-llama-3-8b-instruct");
        // Llama 3: GQA, rope_theta 500000, rms_norm_eps 1e-5, 8192 positions; generation stops at <|eot_id|> or <|end_of_text|>
        // (generation_config.json's eos_token_id [128001, 128009]).
        ModelConfig Llama3(int layers, int hidden) => ModelConfig.Llama(layers, hidden, heads: 2, kvHeads: 1, intermediate: 2 * hidden,
            vocabSize: Llama3VocabSize, positions: 8192, ropeTheta: 500000, rmsNormEps: 1e-5, bosTokenId: Llama3Bos)
            with { EosTokenIds = [Llama3EndOfText, Llama3Eot] };
        SaveCausalLM(Llama3(layers: 1, hidden: 16), "llama-3-8b-instruct", llama3Tokenizer, seed: 11);
        SaveCausalLM(Llama3(layers: 2, hidden: 16), "llama-3-70b-instruct", llama3Tokenizer, seed: 12);

        // zephyr-7b-beta is the DPO of mistral-7b-sft-beta: one Mistral-7B vocabulary (the legacy tokenizer.json form they
        // ship), each with its chat template in tokenizer_config.json.
        string mistralTokenizer = Fixture("tokenizers", "mistral-7b-legacy");
        var mistral = ModelConfig.Llama(layers: 1, hidden: 8, heads: 2, kvHeads: 1, intermediate: 16, vocabSize: MistralVocabSize,
            positions: 32768, rmsNormEps: 1e-5, bosTokenId: MistralBos, eosTokenId: MistralEos);
        string sftTokenizer = TokenizerWithChatTemplate(mistralTokenizer, "mistral-7b-sft-beta.jinja", "tokenizer-mistral-7b-sft-beta");
        string zephyrTokenizer = TokenizerWithChatTemplate(mistralTokenizer, "zephyr-7b-beta.jinja", "tokenizer-zephyr-7b-beta");
        SaveCausalLM(mistral, "mistral-7b-sft-beta", sftTokenizer, seed: 13);
        SaveCausalLM(mistral, "zephyr-7b-beta", zephyrTokenizer, seed: 13, tuneSeed: 14);
        MakeMistral(Dir("mistral-7b-sft-beta"));
        MakeMistral(Dir("zephyr-7b-beta"));

        // The in-harness gold, Skywork-Reward-Llama-3.1-8B: a LlamaForSequenceClassification (one logit) with the Llama 3
        // vocabulary, Llama 3.1's rope scaling and 3.1's chat template. The template goes in chat_template.jinja beside the
        // tokenizer files (what recent save_pretrained writes), so the other way ChatTemplate.Load finds a template is used too.
        var gold = ModelConfig.Llama(layers: 1, hidden: 16, heads: 2, kvHeads: 1, intermediate: 32, vocabSize: Llama3VocabSize,
                positions: 131072, ropeTheta: 500000, rmsNormEps: 1e-5, bosTokenId: Llama3Bos)
            with { EosTokenIds = [Llama3EndOfText, Llama31Eom, Llama3Eot], RopeLlama3 = new Llama3RopeScaling(8, 1, 4, 8192) };
        SaveClassifier(gold.WithClassificationHead(1), "skywork-reward-llama-3.1-8b", llama3Tokenizer, seed: 15);
        File.Copy(Fixture("chat-templates", "llama-3.1-8b-instruct.jinja"), Path.Combine(Dir("skywork-reward-llama-3.1-8b"), "chat_template.jinja"));
    }

    /// <summary>A copy of a tokenizer directory whose tokenizer_config.json carries the given chat template, as a chat model's does.</summary>
    string TokenizerWithChatTemplate(string tokenizerDirectory, string templateFile, string name)
    {
        string directory = Path.Combine(Root, name);
        Directory.CreateDirectory(directory);
        foreach (string file in Directory.GetFiles(tokenizerDirectory))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["chat_template"] = File.ReadAllText(Fixture("chat-templates", templateFile));
        WriteJson(configPath, config);
        return directory;
    }

    /// <summary>
    /// The library writes config.json for gpt2 and llama only; a Mistral checkpoint has Llama's weights and names, so the
    /// stand-in is written as llama and relabelled as transformers' MistralConfig (with zephyr's 4096-token sliding window),
    /// which the loader then reads down its mistral path.
    /// </summary>
    static void MakeMistral(string modelDirectory)
    {
        string configPath = Path.Combine(modelDirectory, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["model_type"] = "mistral";
        config["architectures"] = new JsonArray("MistralForCausalLM");
        config["sliding_window"] = 4096;
        WriteJson(configPath, config);
    }

    static void WriteJson(string path, JsonObject json) =>
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");

    void SaveCausalLM(ModelConfig config, string name, string tokenizerDirectory, int seed, int? tuneSeed = null)
    {
        using CausalLanguageModel model = config.Architecture == Architecture.Gpt2
            ? new GPT2LMHeadModel(config, ModelOptions.Cpu) : new LlamaForCausalLM(config, ModelOptions.Cpu);
        model.InitializeWeights(new Generator((ulong)seed));
        if (tuneSeed is int tune) Perturb(model, tune);
        PretrainedModels.Save(model, config, Path.Combine(Root, name), tokenizerDirectory);
    }

    void SaveClassifier(ModelConfig config, string name, string tokenizerDirectory, int seed)
    {
        using SequenceClassifier model = config.Architecture == Architecture.Gpt2
            ? new GPT2ForSequenceClassification(config, ModelOptions.Cpu) : new LlamaForSequenceClassification(config, ModelOptions.Cpu);
        model.InitializeWeights(new Generator((ulong)seed));
        // Initialized heads score everything near zero; a larger head makes gold differences visible in the tables.
        Perturb(model, seed + 1000);
        PretrainedModels.Save(model, config, Path.Combine(Root, name), tokenizerDirectory);
    }

    static void Perturb(nn.Module model, int seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (_, parameter) in model.named_parameters())
            parameter.add_(randn(parameter.shape, generator: generator) * 0.05);
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
