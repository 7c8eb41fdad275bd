using WeakToStrong.Experiments;
using WeakToStrong.Search;

namespace WeakToStrong.Tests.Experiments;

public class ExperimentConfigTests
{
    const string Valid = """
        name: demo
        task: sentiment
        dataset:
          prompts: 20
          seed: 3
        models:
          bases:
            - {name: small-base, path: zoo:base-small}
            - path: zoo:base-large
              template: "Review: {raw_prompt}"
          tuned: zoo:small-tuned
          untuned: {path: zoo:small-untuned}
          gold: zoo:gold
        methods:
          - base
          - small-tuned
          - {method: bon, n: 16}
          - {method: eft, beta: 0.5}
          - method: cbs
            w: 4
            k: 4
            l: 5
        sweeps:
          - name: chunk-length
            bases: [base-large]
            method: cbs
            w: [1, 2, 4]
            budget: 16
            l: [1, 10, inf]
          - name: compute
            method: bon
            n: [1, 4]
        generation:
          max_new_tokens: 32
          temperature: 0.9
          stop: ["\n"]
        seeds: [0, 1]
        """;

    static ExperimentConfig Parse(string yaml) => ExperimentConfigParser.Parse(yaml, "demo.yaml");

    static string Error(string yaml) => Assert.Throws<InvalidInputException>(() => Parse(yaml)).Message;

    [Fact]
    public void ReadsEveryField()
    {
        var config = Parse(Valid);
        Assert.Equal("demo", config.Name);
        Assert.Equal(("test", 20, 3L), (config.Dataset.Split, config.Dataset.Prompts, config.Dataset.Seed));
        Assert.Equal(["small-base", "base-large"], config.Bases.Select(b => b.Name));
        Assert.Equal("Review: {raw_prompt}", config.Bases[1].Template.Literal);
        Assert.Equal(PromptFormat.Raw, config.Tuned!.Template);
        Assert.Equal("zoo:small-untuned", config.Untuned!.Reference);
        Assert.Equal((32, 0.9, 50, 1.0), (config.Generation.MaxNewTokens, config.Generation.Sampling.Temperature, config.Generation.Sampling.TopK, config.Generation.Sampling.TopP));
        Assert.Equal(["\n"], config.Generation.StopStrings);
        Assert.Equal([0L, 1L], config.Seeds);
        Assert.Equal(Path.Combine("results", "demo"), config.Output);
        Assert.Equal(8, config.BatchPrompts);
    }

    [Fact]
    public void DeviceMapAutoIsTheOnlyDeviceMapAConfigNames()
    {
        Assert.Null(Parse(Valid).DeviceMap);
        Assert.Equal("auto", Parse(Valid + "\ndevice_map: auto").DeviceMap);
        Assert.Contains("demo.yaml:38:13: device_map: expected auto (layers split across every visible GPU; name devices with --device), got \"cuda:0,cuda:1\"",
            Error(Valid + "\ndevice_map: cuda:0,cuda:1"));
    }

    [Fact]
    public void SweepsExpandToTheGridWithKFromTheBudget()
    {
        var config = Parse(Valid);
        var sweep = config.Groups.Single(g => g.Sweep == "chunk-length");
        Assert.Equal(["base-large"], sweep.Bases);
        Assert.Equal(["CBS(1,16,1)", "CBS(1,16,10)", "CBS(1,16,∞)", "CBS(2,8,1)", "CBS(2,8,10)", "CBS(2,8,∞)", "CBS(4,4,1)", "CBS(4,4,10)", "CBS(4,4,∞)"],
            sweep.Methods.Select(m => m.Label));
        Assert.All(sweep.Methods, m => Assert.Equal(16, m.W * m.K));
        Assert.Equal(["BoN(1)", "BoN(4)"], config.Groups.Single(g => g.Sweep == "compute").Methods.Select(m => m.Label));
        Assert.Equal(["Base", "Small tuned", "BoN(16)", "EFT(β=0.5)", "CBS(4,4,5)"], config.Groups.Where(g => g.Sweep == "").SelectMany(g => g.Methods).Select(m => m.Label));
    }

    [Fact]
    public void CellsAreDistinctAndGroupedByBaseModel()
    {
        var cells = Parse(Valid).Cells();
        // small-tuned once per seed; per base: base, bon16, eft, cbs(4,4,5) + bon1, bon4; base-large also the 9 chunk-length cells.
        Assert.Equal(2 * (1 + 6 + 6 + 9), cells.Count);
        Assert.Equal(cells.Count, cells.Select(c => c.Key).Distinct().Count());
        var order = cells.Where(c => c.BaseModel is not null).Select(c => c.BaseModel).Distinct().ToArray();
        Assert.Equal(new string?[] { "small-base", "base-large" }, order);
        Assert.True(cells.Where(c => c.BaseModel is not null).Select(c => c.BaseModel).SequenceEqual(
            cells.Where(c => c.BaseModel is not null).Select(c => c.BaseModel).OrderBy(b => Array.IndexOf(order, b))), "one base model at a time");
    }

    [Fact]
    public void GuidesAndFinishedRulesAreMethodOptions()
    {
        var config = Parse(Valid.Replace("  - {method: bon, n: 16}", """
              - {method: bon, n: 16}
              - {method: cbs, w: 16, k: 2, l: 1, guide: likelihood}
              - {method: bon, n: 4, guide: {reward-model: zoo:gold, template: "Q {raw_prompt} A {response}"}}
              - {method: cbs, w: 2, k: 2, l: 3, finished: one-slot, retokenize: false}
            """.TrimEnd()).Replace("""
            method: bon
            n: [1, 4]
        """, """
            method: bon
            n: [1, 4]
            finished: [compete-all, one-slot]
        """));
        var main = config.Groups.Where(g => g.Sweep == "").SelectMany(g => g.Methods).ToArray();
        var beam = main.Single(m => m.W == 16);
        Assert.Equal((GuideKind.Likelihood, "CBS(16,2,1) LL", "cbs-w16-k2-l1-likelihood"), (beam.Guide.Kind, beam.Label, beam.Key));
        Assert.False(beam.NeedsSmallPair);
        var rm = main.Single(m => m.N == 4);
        Assert.Equal(("zoo:gold", "Q {raw_prompt} A {response}", "bon-n4-rm-zoo_gold"), (rm.Guide.RewardModel, rm.Guide.RewardTemplate, rm.Key));
        Assert.Equal(["zoo:gold"], config.RewardGuides);
        var options = main.Single(m => m.W == 2);
        Assert.Equal((FinishedStates.OneSlot, false, "cbs-w2-k2-l3-oneslot-ids"), (options.Finished, options.Retokenize, options.Key));
        Assert.Equal(FinishedStates.CompeteAll, main.Single(m => m.N == 16).Finished);
        Assert.Equal(["BoN(1)", "BoN(1) one-slot", "BoN(4)", "BoN(4) one-slot"], config.Groups.Single(g => g.Sweep == "compute").Methods.Select(m => m.Label));
    }

    [Theory]
    [InlineData("{method: bon, n: 16, guide: oracle}", "methods[2].guide: expected implicit-value, likelihood or {reward-model: REF}, got \"oracle\"")]
    [InlineData("{method: bon, n: 16, finished: first}", "methods[2].finished: expected compete-all (the reference's rule) or one-slot, got \"first\"")]
    [InlineData("{method: bon, n: 16, retokenize: maybe}", "methods[2].retokenize: expected true")]
    [InlineData("{method: eft, beta: 1, guide: likelihood}", "methods[2].guide: unknown key")]
    [InlineData("{method: bon, n: 16, guide: {reward-model: zoo:gold, template: \"{raw_prompt}\"}}", "methods[2].guide.template: expected a format containing {response}")]
    public void BadSearchOptionsAreErrors(string entry, string expected)
    {
        string message = Error(Valid.Replace("{method: bon, n: 16}", entry));
        Assert.Contains(expected, message);
    }

    [Fact]
    public void ChatTemplatesAreAskedForPerModelOrForAll()
    {
        var config = Parse(Valid.Replace("models:\n  bases:", "models:\n  template: chat\n  system_prompt: \"\"\n  bases:")
            .Replace("  tuned: zoo:small-tuned", "  tuned: {path: zoo:small-tuned, system_prompt: Be brief.}"));
        Assert.Equal(new PromptFormat(null, ""), config.Bases[0].Template);               // the default under models:
        Assert.Equal(new PromptFormat("Review: {raw_prompt}"), config.Bases[1].Template); // its own literal format wins
        Assert.Equal(new PromptFormat(null, "Be brief."), config.Tuned!.Template);         // chat inherited, its own system turn
        Assert.Equal(new PromptFormat(null, ""), config.Untuned!.Template);

        var gold = Parse(Valid.Replace("  gold: zoo:gold", "  gold: {path: zoo:gold, template: chat}")).Gold;
        Assert.True(gold.UsesChatTemplate);
    }

    [Theory]
    [InlineData("  tuned: zoo:small-tuned", "  tuned: {path: zoo:small-tuned, template: \"{prompt}\"}", "models.tuned.template: expected chat (the model's chat template) or a format containing {raw_prompt}")]
    [InlineData("  tuned: zoo:small-tuned", "  tuned: {path: zoo:small-tuned, system_prompt: hi}", "models.tuned.system_prompt: system_prompt applies to template: chat only")]
    [InlineData("  gold: zoo:gold", "  gold: {path: zoo:gold, template: \"{raw_prompt}\"}", "models.gold.template: expected chat")]
    public void BadTemplatesAreErrors(string from, string to, string expected)
    {
        string message = Error(Valid.Replace(from, to));
        Assert.Contains(expected, message);
    }

    [Fact]
    public void AChatFormatResolvesToTheModelsRenderedTemplate()
    {
        string directory = Directory.CreateTempSubdirectory("wts-chat-format-").FullName;
        try
        {
            string zephyr = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "tests", "fixtures", "chat-templates", "zephyr-7b-beta.jinja"));
            File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["chat_template"] = zephyr, ["bos_token"] = "<s>", ["eos_token"] = "</s>",
            }));
            var template = new PromptFormat(null, "").Resolve(directory);
            Assert.Equal("<|system|>\n</s>\n<|user|>\n  Hi there \n</s>\n<|assistant|>\n", template.Apply("  Hi there \n"));
            Assert.Equal("Q: x", new PromptFormat("Q: {raw_prompt}").Resolve(directory).Apply("x"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void DatasetsAreReadAsDistributed()
    {
        string excerpt = Path.Combine(RepositoryPaths.Root, "tests", "fixtures", "datasets", "alpaca_eval-gpt4_turbo-excerpt.json");
        var config = Parse(Valid.Replace("  prompts: 20\n  seed: 3", $"  path: {excerpt}\n  format: alpaca-eval-json\n  prompts: 4"));
        Assert.Equal(WeakToStrong.Data.DatasetFormat.AlpacaEvalJson, config.Dataset.Format);

        var prompts = new ExperimentRunner(config, new RunOptions()).Prompts();

        var expected = WeakToStrong.Data.PromptSources.Read(excerpt, WeakToStrong.Data.DatasetFormat.AlpacaEvalJson).Take(4).ToArray();
        Assert.Equal(expected.Select(p => p.Prompt), prompts.Select(p => p.Prompt));
        Assert.Contains(prompts, p => p.Prompt != p.Prompt.Trim()); // the real instructions' trailing whitespace is kept
    }

    [Theory]
    [InlineData("  format: parquet", "dataset.format: expected jsonl, imdb-parquet, tldr-parquet or alpaca-eval-json, got \"parquet\"")]
    [InlineData("  format: tldr-parquet\n  prefix_words: 5", "dataset.prefix_words: prefix_words applies to format imdb-parquet")]
    public void BadDatasetFormatsAreErrors(string line, string expected)
    {
        string message = Error(Valid.Replace("  prompts: 20\n  seed: 3", $"  path: x.parquet\n{line}\n  prompts: 4"));
        Assert.Contains(expected, message);
    }

    [Fact]
    public void UnknownKeyIsReportedWithItsPosition()
    {
        string message = Error(Valid.Replace("  temperature: 0.9", "  temprature: 0.9"));
        Assert.Contains("demo.yaml:35:3: generation.temprature: unknown key; expected one of: max_new_tokens, temperature", message);
    }

    [Theory]
    [InlineData("    w: 4\n", "    w: 0\n", "demo.yaml:20:8: methods[4].w: expected an integer in [1, 1024], got 0")]
    [InlineData("  temperature: 0.9", "  temperature: hot", "demo.yaml:35:16: generation.temperature: expected a number ≥ 0 (0 = greedy), got \"hot\"")]
    [InlineData("    budget: 16", "    budget: 10", "demo.yaml:28:13: sweeps[0].budget: budget 10 is not a multiple of W = 4")]
    [InlineData("  - {method: bon, n: 16}", "  - {method: bon, n: [4, 16]}", "demo.yaml:17:22: methods[2].n: expected one value; to sweep values, move this method under sweeps:")]
    [InlineData("task: sentiment", "task: imdb", "demo.yaml:2:7: task: expected one of sentiment, summarization, instruction, got \"imdb\"")]
    [InlineData("  tuned: zoo:small-tuned\n", "", "models: missing required key \"tuned\": method small-tuned needs the small tuned/untuned pair")]
    [InlineData("seeds: [0, 1]", "seeds: [0, 0]", "demo.yaml:37:12: seeds: seed 0 is listed twice")]
    [InlineData("    bases: [base-large]", "    bases: [base-xl]", "sweeps[0].bases: expected the name of a model in models.bases (small-base, base-large), got \"base-xl\"")]
    [InlineData("  - base\n", "  - cbs\n", "methods[0]: cbs takes parameters; write {method: cbs, w: 4, k: 4, l: 5}")]
    [InlineData("    l: [1, 10, inf]", "    l: [1, 10, forever]", "sweeps[0].l: expected an integer in [1, 1000000], got \"forever\"")]
    [InlineData("  gold: zoo:gold", "  gold: instruction-judge", "instruction-judge judges the embedded instruction task only")]
    public void ImpossibleValuesAreErrors(string from, string to, string expected)
    {
        Assert.Contains(from, Valid);
        string message = Error(Valid.Replace(from, to));
        Assert.Contains(expected, message);
    }

    [Fact]
    public void TooManySequencesPerPromptIsAnError()
    {
        string message = Error(Valid.Replace("    w: 4\n    k: 4\n", "    w: 64\n    k: 32\n"));
        Assert.Contains("W·K = 64·32 = 2048 sequences per prompt is beyond the limit of 1024", message);
    }

    [Fact]
    public void EveryErrorIsReportedAtOnce()
    {
        string message = Error(Valid.Replace("  temperature: 0.9", "  temperature: -1").Replace("  prompts: 20", "  prompts: 0").Replace("name: demo", "name: a/b"));
        var lines = message.Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("demo.yaml:1:7: name:"));
        Assert.Contains(lines, l => l.StartsWith("demo.yaml:4:12: dataset.prompts: expected an integer in [1, 1000000], got 0"));
        Assert.Contains(lines, l => l.StartsWith("demo.yaml:35:16: generation.temperature"));
    }

    [Fact]
    public void SyntaxErrorsCarryTheirPosition()
    {
        string message = Error("name: demo\ntask: [sentiment\n");
        Assert.StartsWith("demo.yaml:", message);
        Assert.Contains("YAML syntax error", message);
    }

    [Fact]
    public void ADocumentEndingInsideAFlowCollectionIsASyntaxError()
    {
        string message = Error("name: demo\ntask: sentiment\ndataset: {prompts: 3\nmodels: [\n");
        Assert.Equal("demo.yaml:4:1: YAML syntax error: the document ends inside an unclosed {…}, […] or quoted string", message);
    }

    [Fact]
    public void ATabIsReportedWhereItIs()
    {
        string message = Error("name: demo\ntask: sentiment\n\tdataset: 3\n");
        Assert.StartsWith("demo.yaml:3:1: YAML syntax error:", message);
        Assert.Contains("tab", message);
    }

    [Fact]
    public void AnAliasBombIsRefusedBeforeItExpands()
    {
        // Nine aliases per level, eight levels, the last used as a mapping key: 9^8 nodes to hash if loaded.
        var lines = new List<string> { "a0: &a0 [x, x, x, x, x, x, x, x, x]" };
        for (int i = 1; i < 9; i++) lines.Add($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9))}]");
        lines.Add("? *a8\n: 1");
        string message = Error(string.Join("\n", lines));
        Assert.Contains($"YAML syntax error: more than {YamlFields.MaxAliases} aliases", message);
        Assert.StartsWith("demo.yaml:5:", message);
    }

    [Fact]
    public void MissingSectionsAreNamed()
    {
        string message = Error("name: demo\ntask: sentiment\n");
        foreach (string key in new[] { "dataset", "models", "methods", "generation" })
            Assert.Contains($"demo.yaml:1:1: (top level): missing required key \"{key}\"", message);
    }

    [Fact]
    public void ShippedConfigsAreValid()
    {
        var configs = Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "experiments"), "*.yaml", SearchOption.AllDirectories);
        Assert.True(configs.Length >= 5, $"expected the shipped experiments, found {configs.Length}");
        foreach (string path in configs)
        {
            var config = ExperimentConfigParser.Load(path);
            Assert.NotEmpty(config.Cells());
        }
    }
}
