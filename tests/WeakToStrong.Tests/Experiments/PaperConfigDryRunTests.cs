using WeakToStrong.World;
using System.Text.Json;
using System.Text.RegularExpressions;
using WeakToStrong.Evaluation;
using WeakToStrong.Experiments;
using WeakToStrong.Models;
using WeakToStrong.Reporting;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using TorchSharp;

namespace WeakToStrong.Tests.Experiments;

/// <summary>
/// Each shipped paper config (experiments/paper/*.yaml) run end to end through `wts run --limit 2` with its hub models
/// replaced by tiny random stand-ins of the same families (<see cref="PaperStandIns"/>), its prompt file by the dataset
/// fixture in the same layout, and max_new_tokens made small; everything else (methods, templates, system prompt,
/// seeds, stop strings, batching) as shipped. So a paper config is known to parse, resolve, prompt, search, score and
/// tabulate before anyone pays for a GPU; only the weights differ.
/// </summary>
public sealed class PaperConfigDryRunTests(PaperStandIns standIns) : IClassFixture<PaperStandIns>, IDisposable
{
    const int Prompts = 2;
    readonly string scratch = Directory.CreateTempSubdirectory("wts-paper-dry-run-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    static string Dataset(string file) => RepositoryPaths.Fixture("datasets", file);

    [Fact]
    public void SentimentGpt2ConfigRunsOnStandIns()
    {
        var (config, _, records) = DryRun("sentiment-gpt2.yaml", maxNewTokens: 6, new Dictionary<string, string>
        {
            ["openai-community/gpt2-large"] = standIns.Gpt2("gpt2-large"),
            ["openai-community/gpt2-xl"] = standIns.Gpt2("gpt2-xl"),
            ["models/gpt2-imdb-dpo"] = standIns.Gpt2("gpt2-imdb-dpo"),
            ["lvwerra/gpt2-imdb"] = standIns.Gpt2("gpt2-imdb"),
            // A DistilBertForSequenceClassification with NEGATIVE/POSITIVE labels, as lvwerra/distilbert-imdb: the gold reads
            // logit(POSITIVE) − logit(NEGATIVE). Its 32 positions make the gold truncate prompt + response, as a long review would.
            ["lvwerra/distilbert-imdb"] = RepositoryPaths.Fixture("distilbert-cls"),
            ["datasets/imdb_preference/test.parquet"] = Dataset("imdb_preference-test.parquet"),
        });
        AssertPromptsAreTheFixtures(records, "imdb_preference-test");
        Assert.Contains(records, r => r.Method == "eft");
        Assert.All(records.Where(r => r.Method is "bon" or "cbs" or "eft"), r => Assert.NotNull(r.ImplicitValue));
        // The base models read the paper's prefix; the small pair read the review as it is.
        Assert.All(config.Bases, b => Assert.Equal("Here is a movie review from imdb: {raw_prompt}", b.Template.Resolve(b.Reference).Format));
        Assert.Equal(PromptTemplate.Placeholder, config.Tuned!.Template.Resolve(config.Tuned.Reference).Format);
        var gold = RewardModel.Load(config.Gold.Reference, ModelOptions.Cpu);
        using (gold) Assert.Equal(("POSITIVE", "NEGATIVE"), (gold.LabelName(gold.PositiveIndex), gold.LabelName(gold.NegativeIndex!.Value)));
    }

    [Fact]
    public void SummarizationGpt2ConfigRunsOnStandIns()
    {
        var (config, _, records) = DryRun("summarization-gpt2.yaml", maxNewTokens: 6, new Dictionary<string, string>
        {
            ["openai-community/gpt2-large"] = standIns.Gpt2("gpt2-large"),
            ["openai-community/gpt2-xl"] = standIns.Gpt2("gpt2-xl"),
            ["models/gpt2-tldr-dpo"] = standIns.Gpt2("gpt2-tldr-dpo"),
            ["models/gpt2-tldr-sft"] = standIns.Gpt2("gpt2-tldr-sft"),
            ["models/tldr-gold-rm"] = standIns.Gpt2("tldr-gold-rm"),
            ["datasets/tldr/test.parquet"] = Dataset("openai_summarize_tldr-test.parquet"),
        });
        AssertPromptsAreTheFixtures(records, "openai_summarize_tldr-test");
        Assert.Contains(records, r => r.Method == "eft");
        // The shipped stop string "\n" is in force: no response goes past a newline.
        Assert.Equal(["\n"], config.Generation.StopStrings);
        Assert.All(records, r => Assert.DoesNotContain("\n", r.Response));
    }

    [Fact]
    public void AlpacaEvalLlama3ConfigRunsOnStandIns()
    {
        var (config, run, records) = DryRun("alpacaeval-llama3.yaml", maxNewTokens: 8, AlpacaEvalStandIns(standIns));

        // The instructions exactly as the file has them (the second ends in "\n"), read here with plain System.Text.Json.
        using var fixture = JsonDocument.Parse(File.ReadAllBytes(Dataset("alpaca_eval-gpt4_turbo-excerpt.json")));
        var expected = fixture.RootElement.EnumerateArray().Take(Prompts)
            .Select(e => (Instruction: e.GetProperty("instruction").GetString()!, Output: e.GetProperty("output").GetString()!)).ToArray();
        Assert.EndsWith("\n", expected[1].Instruction);
        foreach (var r in records)
        {
            Assert.Equal(expected[r.PromptIndex].Instruction, r.Prompt);
            Assert.Equal(expected[r.PromptIndex].Output, r.Reference);
        }
        // The Llama 3 responses were scored as text by the Mistral-vocabulary pair (cross-vocabulary guidance and the
        // implicit value reported for every cell).
        Assert.All(records, r => Assert.NotNull(r.ImplicitValue));
        Assert.Contains(records, r => r.Method == "cbs" && r.SmallTokens > 0);

        // Every model through its own chat template with an empty system turn: the templates the run resolves equal what
        // Python's jinja2 renders for that conversation (tests/fixtures/chat-templates/goldens.python.json).
        Assert.All(config.Bases, b => Assert.Equal(PythonGolden("llama-3-8b-instruct", "empty-system-user"), b.Template.Resolve(b.Reference).Format));
        Assert.Equal(PythonGolden("zephyr-7b-beta", "empty-system-user"), config.Tuned!.Template.Resolve(config.Tuned.Reference).Format);
        Assert.Equal(PythonGolden("mistral-7b-sft-beta", "empty-system-user"), config.Untuned!.Template.Resolve(config.Untuned.Reference).Format);
        // …and a base model's prompt starts <|begin_of_text|><|start_header_id|>system… as ids, BOS once.
        var baseModel = config.Bases[0];
        var prompted = new PromptTemplate(baseModel.Template.Resolve(baseModel.Reference).Format);
        var tokenizer = HfTokenizer.Load(baseModel.Reference);
        var ids = tokenizer.Encode(prompted.Apply(expected[1].Instruction));
        var header = tokenizer.Encode("<|start_header_id|>system<|end_header_id|>\n\n<|eot_id|>");
        Assert.Equal([PaperStandIns.Llama3Bos, .. header], ids.Take(1 + header.Count));
        Assert.Equal(1, ids.Count(id => id == PaperStandIns.Llama3Bos));

        // AlpacaEval's files: one model_outputs.json per cell and the references, instructions byte for byte.
        var cellDirectories = Directory.GetDirectories(run.AlpacaEval).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(config.Cells().Select(c => c.Key.Replace('/', '_')).Order(StringComparer.Ordinal), cellDirectories);
        foreach (string cell in cellDirectories)
        {
            var outputs = AlpacaEvalOutputs.Read(Path.Combine(run.AlpacaEval, cell, "model_outputs.json"));
            Assert.Equal(expected.Select(e => e.Instruction), outputs.Select(o => o.Instruction));
            Assert.Equal(records.Where(r => r.Cell.Replace('/', '_') == cell).OrderBy(r => r.PromptIndex).Select(r => r.Response), outputs.Select(o => o.Output));
        }
        var references = AlpacaEvalOutputs.Read(Path.Combine(run.AlpacaEval, "reference_outputs.json"));
        Assert.Equal(expected.Select(e => e.Instruction), references.Select(o => o.Instruction));
        Assert.Equal(expected.Select(e => e.Output), references.Select(o => o.Output));
    }

    /// <summary>
    /// The AlpacaEval gold reads prompt and response through Llama 3.1's chat template, which writes &lt;|begin_of_text|&gt;
    /// itself: it must score exactly the ids transformers' apply_chat_template(tokenize=True) gives (the rendered text,
    /// no special tokens added, so one BOS), not the text framed by the tokenizer's post-processor (a second BOS).
    /// </summary>
    [Fact]
    public void AlpacaEvalGoldScoresItsChatTemplateWithOneBos()
    {
        var config = ExperimentConfigParser.Parse(Rewrite(File.ReadAllText(Shipped("alpacaeval-llama3.yaml")), 8, AlpacaEvalStandIns(standIns)), "alpacaeval-llama3.yaml");
        string directory = config.Gold.Reference;
        string format = config.Gold.FormatFor(directory);
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date:", format);
        Assert.EndsWith("<|start_header_id|>user<|end_header_id|>\n\n{raw_prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{response}<|eot_id|>", format);

        const string prompt = "Tell me something I don’t know", response = " Octopuses have three hearts.";
        var ids = HfTokenizer.Load(directory).Encode(GoldSpec.Apply(format, prompt, response), addSpecialTokens: false);
        Assert.Equal(PaperStandIns.Llama3Bos, ids[0]);
        Assert.Equal(1, ids.Count(id => id == PaperStandIns.Llama3Bos));
        double expected;
        using (var classifier = PretrainedModels.LoadSequenceClassifier(directory, ModelOptions.Cpu))
        using (var input = torch.tensor(ids.Select(id => (long)id).ToArray(), [1, ids.Count]))
        using (var logits = classifier.Forward(input))
            expected = logits[0, 0].item<float>();

        using var gold = Gold.Open(config.Gold, directory, ModelOptions.Cpu);
        Assert.Equal(expected, gold.Score([prompt], [response])[0], 5);
    }

    /// <summary>The stand-ins end generation where the real models do: tokenizer eos first, then generation_config.json's.</summary>
    [Fact]
    public void StandInsStopWhereTheRealModelsStop()
    {
        Assert.Equal([PaperStandIns.Llama3Eot, PaperStandIns.Llama3EndOfText], HfTokenizer.Load(standIns.Llama("llama-3-8b-instruct")).EosTokenIds);
        Assert.Equal([PaperStandIns.MistralEos], HfTokenizer.Load(standIns.Llama("zephyr-7b-beta")).EosTokenIds);
        Assert.Equal([PaperStandIns.MistralEos], HfTokenizer.Load(standIns.Llama("mistral-7b-sft-beta")).EosTokenIds);
        Assert.Equal([PaperStandIns.Gpt2VocabSize - 1], HfTokenizer.Load(standIns.Gpt2("gpt2-large")).EosTokenIds);
        Assert.Equal("mistral", ModelConfig.Load(Path.Combine(standIns.Llama("zephyr-7b-beta"), "config.json")).ModelType);
    }

    internal static Dictionary<string, string> AlpacaEvalStandIns(PaperStandIns standIns) => new()
    {
        ["meta-llama/Meta-Llama-3-8B-Instruct"] = standIns.Llama("llama-3-8b-instruct"),
        ["meta-llama/Meta-Llama-3-70B-Instruct"] = standIns.Llama("llama-3-70b-instruct"),
        ["HuggingFaceH4/zephyr-7b-beta"] = standIns.Llama("zephyr-7b-beta"),
        ["HuggingFaceH4/mistral-7b-sft-beta"] = standIns.Llama("mistral-7b-sft-beta"),
        ["Skywork/Skywork-Reward-Llama-3.1-8B"] = standIns.Llama("skywork-reward-llama-3.1-8b"),
        ["datasets/alpaca_eval/alpaca_eval_gpt4_baseline.json"] = Dataset("alpaca_eval-gpt4_turbo-excerpt.json"),
    };

    static string Shipped(string file) => Path.Combine(RepositoryPaths.Root, "experiments", "paper", file);

    /// <summary>Runs the rewritten config through the `wts` process and checks what every run must have written.</summary>
    (ExperimentConfig Config, RunDirectory Run, IReadOnlyList<GenerationRecord> Records) DryRun(string file, int maxNewTokens, IReadOnlyDictionary<string, string> standInFor)
    {
        string text = Rewrite(File.ReadAllText(Shipped(file)), maxNewTokens, standInFor);
        string path = Path.Combine(scratch, file);
        File.WriteAllText(path, text);
        var config = ExperimentConfigParser.Parse(text, path);
        // Nothing of the shipped config may still point at the hub: every model is a stand-in, the dataset a fixture.
        foreach (var model in config.Bases.Append(config.Tuned!).Append(config.Untuned!))
            Assert.True(Directory.Exists(model.Reference), $"{file}: {model.Name} ({model.Reference}) has no stand-in");
        Assert.True(Directory.Exists(config.Gold.Reference), $"{file}: gold {config.Gold.Reference} has no stand-in");
        Assert.True(File.Exists(config.Dataset.Path), $"{file}: dataset {config.Dataset.Path} has no fixture");

        var run = new RunDirectory(Path.Combine(scratch, "run-" + Path.GetFileNameWithoutExtension(file)));
        var result = Cli.Wts.Run("run", path, "--output", run.Path, "--limit", Prompts.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(result.ExitCode == 0, $"wts run {file} exited {result.ExitCode}: {result.Stderr}");

        // Every cell (base × method × seed, and the small tuned model alone) once per prompt.
        var records = GenerationLog.Read(run.Generations);
        var expectedKeys = config.Cells().SelectMany(c => Enumerable.Range(0, Prompts).Select(p => (c.Key, p))).Order().ToArray();
        Assert.Equal(expectedKeys, records.Select(r => r.Key).Order().ToArray());
        Assert.All(records, r =>
        {
            Assert.True(double.IsFinite(r.Gold), $"{r.Cell}: gold {r.Gold}");
            Assert.True(r.ImplicitValue is null || double.IsFinite(r.ImplicitValue.Value), $"{r.Cell}: implicit value {r.ImplicitValue}");
            Assert.True(r.Finish is "Eos" or "StopString" or "Length", $"{r.Cell}: finish {r.Finish}");
        });
        Assert.All(records.Where(r => r.BaseModel is not null), r => Assert.True(r.LargeTokens > 0, $"{r.Cell}: no large-model tokens"));

        // One summary row per (base, method) of the main comparison and one for the small tuned model, over every seed.
        var summary = ResultTables.ReadSummary(run.Summary);
        Assert.Equal(config.Cells().Select(c => (c.BaseModel ?? "", c.Method.Label)).Distinct().Count(), summary.Count);
        Assert.All(summary, s => Assert.Equal((config.Seeds.Count, Prompts * config.Seeds.Count), (s.Seeds, s.Count)));
        Assert.True(File.Exists(run.Manifest));
        return (config, run, records);
    }

    /// <summary>
    /// The shipped config's text with each model reference and the dataset path replaced by a local stand-in, and
    /// max_new_tokens made small. Only values after a key are replaced (never comments), and each reference must be
    /// found, so a change to the shipped config that this test does not follow fails here rather than passing unnoticed.
    /// </summary>
    internal static string Rewrite(string shipped, int maxNewTokens, IReadOnlyDictionary<string, string> standInFor)
    {
        var alternatives = string.Join("|", standInFor.Keys.OrderByDescending(k => k.Length).Select(Regex.Escape));
        var value = new Regex($@"(?<=:[ \t]*)(?:{alternatives})(?=[ \t]*(?:[,}}]|#|$))");
        var found = new HashSet<string>();
        var lines = shipped.Split('\n').Select(line => line.TrimStart().StartsWith('#') ? line : value.Replace(line, m =>
        {
            found.Add(m.Value);
            return standInFor[m.Value];
        }));
        string text = string.Join('\n', lines);
        Assert.Empty(standInFor.Keys.Except(found));
        var tokens = new Regex(@"(?m)^(\s*max_new_tokens:\s*)\d+");
        Assert.Single(tokens.Matches(text));
        return tokens.Replace(text, m => m.Groups[1].Value + maxNewTokens.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The first prompts of the run are the parquet fixture's records, as its independent writer computed them.</summary>
    static void AssertPromptsAreTheFixtures(IReadOnlyList<GenerationRecord> records, string fixture)
    {
        using var expected = JsonDocument.Parse(File.ReadAllBytes(Dataset(fixture + ".expected.json")));
        var rows = expected.RootElement.GetProperty("records").EnumerateArray().ToArray();
        foreach (var r in records)
        {
            Assert.Equal(rows[r.PromptIndex].GetProperty("id").GetString(), r.PromptId);
            Assert.Equal(rows[r.PromptIndex].GetProperty("prompt").GetString(), r.Prompt);
            Assert.Equal(rows[r.PromptIndex].GetProperty("reference").GetString(), r.Reference);
        }
    }

    static string PythonGolden(string template, string conversation)
    {
        using var goldens = JsonDocument.Parse(File.ReadAllBytes(RepositoryPaths.Fixture("chat-templates", "goldens.python.json")));
        return goldens.RootElement.GetProperty("chats").EnumerateArray()
            .Single(c => c.GetProperty("template").GetString() == template && c.GetProperty("conversation").GetString() == conversation)
            .GetProperty("output").GetString()!;
    }
}
