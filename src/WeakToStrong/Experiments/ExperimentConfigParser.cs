using System.Text.RegularExpressions;
using WeakToStrong.Data;
using WeakToStrong.Models.Api;
using WeakToStrong.Search;
using WeakToStrong.World;
using YamlDotNet.RepresentationModel;

namespace WeakToStrong.Experiments;

/// <summary>
/// Reads an experiment YAML file (schema and examples: experiments/README.md). Unknown keys, wrong types and
/// impossible values are errors with file:line:column; all of them are reported at once.
/// </summary>
public static partial class ExperimentConfigParser
{
    public static ExperimentConfig Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"experiment config {path} not found");
        return Parse(StrictUtf8.ReadAllText(path), path);
    }

    public static ExperimentConfig Parse(string yaml, string source)
    {
        var root = YamlFields.LoadDocument(source, yaml, out string? syntaxError);
        if (syntaxError is not null) throw new InvalidInputException(syntaxError);
        if (root is null) throw new InvalidInputException($"{source}: the file is empty; expected an experiment (see experiments/README.md)");
        var fields = new YamlFields(source);
        var config = Read(fields, root, source);
        if (fields.Errors.Count > 0 || config is null)
            throw new InvalidInputException(string.Join(Environment.NewLine, fields.Errors.Take(25))
                + (fields.Errors.Count > 25 ? $"{Environment.NewLine}... and {fields.Errors.Count - 25} more" : ""));
        return config;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex SafeName();

    static ExperimentConfig? Read(YamlFields fields, YamlNode rootNode, string source)
    {
        var top = fields.AsMapping(rootNode, "");
        if (top is null) return null;

        string? name = ReadName(fields, top.Required("name", "the experiment's name, e.g. sentiment-main"), "name");
        string? task = null;
        if (top.Required("task", $"one of {string.Join(", ", ZooPlan.Tasks)}") is YamlNode taskNode && fields.AsString(taskNode, "task") is string t)
        {
            if (ZooPlan.Tasks.Contains(t)) task = t;
            else fields.Error(taskNode, "task", $"expected one of {string.Join(", ", ZooPlan.Tasks)}, got \"{t}\"");
        }
        var dataset = ReadDataset(fields, fields.AsMapping(top.Required("dataset", "where prompts come from"), "dataset"));
        var models = fields.AsMapping(top.Required("models", "bases, tuned, untuned, gold"), "models");
        IReadOnlyList<ModelSpec> bases = [];
        ModelSpec? tuned = null, untuned = null;
        GoldSpec? gold = null;
        if (models is not null)
        {
            var defaults = ReadPromptFormat(fields, models, "models", PromptFormat.Raw);
            bases = ReadBases(fields, models, defaults);
            tuned = ReadModel(fields, models.Optional("tuned"), "models.tuned", "small-tuned", defaults);
            untuned = ReadModel(fields, models.Optional("untuned"), "models.untuned", "small-untuned", defaults);
            gold = ReadGold(fields, models.Required("gold", $"{GoldSpec.InstructionJudge}, or a reward model / classifier"), "models.gold");
            models.RejectUnknown();
        }
        var baseNames = bases.Select(b => b.Name).ToArray();
        var groups = new List<MethodGroup>();
        var groupNodes = new List<(YamlNode Node, string Path)>();
        var methodsNode = top.Required("methods", "the main comparison, e.g. [base, small-tuned, {method: cbs, w: 4, k: 4, l: 5}]");
        var methodItems = fields.AsList(methodsNode, "methods");
        if (methodsNode is not null && methodItems.Count == 0 && methodsNode is YamlSequenceNode)
            fields.Error(methodsNode, "methods", "expected at least one method");
        for (int i = 0; i < methodItems.Count; i++)
            if (ReadMethods(fields, methodItems[i], $"methods[{i}]", sweep: null) is { } methods)
            {
                groups.Add(new MethodGroup("", baseNames, methods, fields.Where(methodItems[i])));
                groupNodes.Add((methodItems[i], $"methods[{i}]"));
            }
        var sweepItems = fields.AsList(top.Optional("sweeps"), "sweeps");
        var sweepNames = new HashSet<string>();
        for (int i = 0; i < sweepItems.Count; i++)
        {
            string path = $"sweeps[{i}]";
            var sweep = fields.AsMapping(sweepItems[i], path);
            if (sweep is null) continue;
            string? sweepName = ReadName(fields, sweep.Required("name", "the sweep's name, e.g. chunk-length"), sweep.Child("name"));
            if (sweepName is not null && !sweepNames.Add(sweepName)) fields.Error(sweepItems[i], sweep.Child("name"), $"a second sweep named \"{sweepName}\"");
            IReadOnlyList<string> sweepBases = baseNames;
            if (sweep.Optional("bases") is YamlNode basesNode)
            {
                var listed = new List<string>();
                foreach (var item in fields.AsList(basesNode, sweep.Child("bases"), allowScalar: true))
                    if (fields.AsString(item, sweep.Child("bases")) is string b)
                    {
                        if (baseNames.Contains(b)) listed.Add(b);
                        else fields.Error(item, sweep.Child("bases"), $"expected the name of a model in models.bases ({string.Join(", ", baseNames)}), got \"{b}\"");
                    }
                sweepBases = listed;
            }
            if (ReadMethods(fields, sweep, sweepName ?? "?") is { } methods)
            {
                groups.Add(new MethodGroup(sweepName ?? "?", sweepBases, methods, fields.Where(sweepItems[i])));
                groupNodes.Add((sweepItems[i], path));
            }
            sweep.RejectUnknown();
        }

        var generation = ReadGeneration(fields, fields.AsMapping(top.Required("generation", "max_new_tokens and sampling settings"), "generation"));
        var seeds = new List<long>();
        if (top.Optional("seeds") is YamlNode seedsNode)
        {
            foreach (var item in fields.AsList(seedsNode, "seeds", allowScalar: true))
                if (fields.AsInteger(item, "seeds", long.MinValue, long.MaxValue) is long seed)
                {
                    if (seeds.Contains(seed)) fields.Error(item, "seeds", $"seed {seed} is listed twice");
                    else seeds.Add(seed);
                }
            if (seeds.Count == 0 && fields.Errors.Count == 0) fields.Error(seedsNode, "seeds", "expected at least one seed");
        }
        else seeds.Add(0);
        int batchPrompts = top.Optional("batch_prompts") is YamlNode batchNode ? (int)(fields.AsInteger(batchNode, "batch_prompts", 1, 1024) ?? 1) : 8;
        string? output = top.Optional("output") is YamlNode outputNode ? fields.AsString(outputNode, "output") : null;
        string? deviceMap = null;
        if (top.Optional("device_map") is YamlNode deviceMapNode && fields.AsString(deviceMapNode, "device_map") is string map)
        {
            if (map == "auto") deviceMap = map;
            else fields.Error(deviceMapNode, "device_map", $"expected auto (layers split across every visible GPU; name devices with --device), got \"{map}\"");
        }
        top.RejectUnknown();

        var needsPair = groups.SelectMany(g => g.Methods).FirstOrDefault(m => m.NeedsSmallPair);
        if (needsPair is not null && models is not null)
            foreach (var (spec, key) in new[] { (tuned, "tuned"), (untuned, "untuned") })
                if (spec is null)
                    fields.Error(models.Node, "models", $"missing required key \"{key}\": method {needsPair.Name} needs the small tuned/untuned pair");
        for (int g = 0; g < groups.Count; g++)
            foreach (var apiBase in bases.Where(b => b.Api is not null && groups[g].Bases.Contains(b.Name)))
                foreach (var method in groups[g].Methods.Where(m => m.Kind == MethodKind.Eft || m.IsSearch && (m.Guide.Kind == GuideKind.Likelihood || !m.Retokenize)))
                    fields.Error(groupNodes[g].Node, groupNodes[g].Path, $"{method.Label} on base model {apiBase.Name}: " + (method.Kind == MethodKind.Eft
                        ? "eft needs the large model's next-token distribution, which a model behind an API (models.bases api:) does not give; use cbs or bon"
                        : method.Retokenize ? "guide: likelihood needs the large model's log-probabilities, which a model behind an API (models.bases api:) does not give; use the implicit value or a reward model"
                        : "retokenize: false scores the sampled token ids, which a model behind an API (models.bases api:) does not return; scoring is text-level"));
        if (gold is { IsInstructionJudge: true } && task is not null and not "instruction" && models?.Optional("gold") is YamlNode goldNode)
            fields.Error(goldNode, "models.gold", $"{GoldSpec.InstructionJudge} judges the embedded instruction task only; task is {task}");
        if (fields.Errors.Count > 0) return null;
        return new ExperimentConfig
        {
            Name = name!, Source = source, Task = task!, Dataset = dataset!, Bases = bases, Tuned = tuned, Untuned = untuned, Gold = gold!,
            Groups = groups, Generation = generation!, Seeds = seeds, BatchPrompts = batchPrompts, Output = output ?? Path.Combine("results", name!),
            DeviceMap = deviceMap,
        };
    }

    static string? ReadName(YamlFields fields, YamlNode? node, string path)
    {
        if (node is null || fields.AsString(node, path) is not string name) return null;
        if (SafeName().IsMatch(name)) return name;
        fields.Error(node, path, $"expected letters, digits, '.', '_' or '-' (it names files), got \"{name}\"");
        return null;
    }

    static DatasetSpec? ReadDataset(YamlFields fields, YamlFields.Mapping? map)
    {
        if (map is null) return null;
        string? path = map.Optional("path") is YamlNode p ? fields.AsString(p, map.Child("path")) : null;
        string split = "test";
        if (map.Optional("split") is YamlNode splitNode && fields.AsString(splitNode, map.Child("split")) is string s)
        {
            if (s is "train" or "test") split = s;
            else fields.Error(splitNode, map.Child("split"), $"expected train or test, got \"{s}\"");
            if (path is not null) fields.Error(splitNode, map.Child("split"), "split applies to the task's generated prompts; a dataset path is read as it is");
        }
        int prompts = map.Required("prompts", "how many prompts, e.g. 100") is YamlNode n ? (int)(fields.AsInteger(n, map.Child("prompts"), 1, 1_000_000) ?? 1) : 1;
        long seed = map.Optional("seed") is YamlNode seedNode ? fields.AsInteger(seedNode, map.Child("seed"), long.MinValue, long.MaxValue) ?? 0 : 0;
        var format = DatasetFormat.Jsonl;
        if (map.Optional("format") is YamlNode formatNode && fields.AsString(formatNode, map.Child("format")) is string f)
        {
            if (!PromptSources.TryParseFormat(f, out format)) fields.Error(formatNode, map.Child("format"), $"expected {PromptSources.ExpectedFormats}, got \"{f}\"");
            if (path is null) fields.Error(formatNode, map.Child("format"), "format describes a file; give its path too");
        }
        int? prefixWords = null;
        if (map.Optional(PromptSources.PrefixWordsOption) is YamlNode prefixNode)
        {
            prefixWords = (int?)fields.AsInteger(prefixNode, map.Child(PromptSources.PrefixWordsOption), 1, 10_000);
            if (!PromptSources.OptionNamesOf(format).Contains(PromptSources.PrefixWordsOption))
                fields.Error(prefixNode, map.Child(PromptSources.PrefixWordsOption), $"{PromptSources.PrefixWordsOption} applies to format imdb-parquet (stanfordnlp/imdb reviews cut to their first words)");
        }
        map.RejectUnknown();
        return new DatasetSpec(path, split, prompts, seed, format, new PromptSourceOptions { PrefixWords = prefixWords });
    }

    static IReadOnlyList<ModelSpec> ReadBases(YamlFields fields, YamlFields.Mapping models, PromptFormat defaults)
    {
        var node = models.Required("bases", "one or more large base models");
        var items = fields.AsList(node, "models.bases");
        if (node is YamlSequenceNode && items.Count == 0) fields.Error(node, "models.bases", "expected at least one base model");
        var bases = new List<ModelSpec>();
        for (int i = 0; i < items.Count; i++)
            if (ReadModel(fields, items[i], $"models.bases[{i}]", null, defaults, allowApi: true) is ModelSpec model)
            {
                if (bases.Any(b => b.Name == model.Name)) fields.Error(items[i], $"models.bases[{i}].name", $"a second base model named \"{model.Name}\"; give each a distinct name");
                else bases.Add(model);
            }
        return bases;
    }

    /// <summary>
    /// A model's template and system_prompt keys (or the defaults under models:): a format containing {raw_prompt}, or
    /// chat (the model's own chat template) with an optional system turn; <paramref name="inherited"/> where absent.
    /// </summary>
    static PromptFormat ReadPromptFormat(YamlFields fields, YamlFields.Mapping map, string path, PromptFormat inherited)
    {
        var templateNode = map.Optional("template");
        var systemNode = map.Optional("system_prompt");
        if (templateNode is null && systemNode is null) return inherited;
        string? template = templateNode is null ? (inherited.IsChat ? PromptFormat.ChatName : inherited.Literal) : fields.AsString(templateNode, map.Child("template"));
        string? system = systemNode is null ? (templateNode is null ? inherited.SystemPrompt : null) : fields.AsString(systemNode, map.Child("system_prompt"));
        if (template is null) return inherited;
        if (template != PromptFormat.ChatName && !template.Contains(PromptTemplate.Placeholder, StringComparison.Ordinal))
        {
            fields.Error(templateNode!, map.Child("template"), $"expected {PromptFormat.ChatName} (the model's chat template) or a format containing {PromptTemplate.Placeholder}, got \"{template}\"");
            return inherited;
        }
        if (template != PromptFormat.ChatName && systemNode is not null)
        {
            fields.Error(systemNode, map.Child("system_prompt"), $"system_prompt applies to template: {PromptFormat.ChatName} only");
            return inherited;
        }
        return template == PromptFormat.ChatName ? new PromptFormat(null, system) : new PromptFormat(template);
    }

    /// <summary>
    /// A model entry: a mapping {name?, path, template?, system_prompt?}, or just the path. The name defaults to <paramref name="defaultName"/>,
    /// else the path's last part. A base model (<paramref name="allowApi"/>) may instead be {name?, api: {base_url, model, …}, template?}.
    /// </summary>
    static ModelSpec? ReadModel(YamlFields fields, YamlNode? node, string path, string? defaultName, PromptFormat defaults, bool allowApi = false)
    {
        if (node is null) return null;
        string? reference, name = defaultName;
        var format = defaults;
        ApiModelOptions? api = null;
        if (node is YamlScalarNode)
            reference = fields.AsString(node, path);
        else
        {
            var map = fields.AsMapping(node, path);
            if (map is null) return null;
            if (map.Optional("api") is YamlNode apiNode)
            {
                if (!allowApi) fields.Error(apiNode, map.Child("api"), "only a base model may be behind an API (the small pair is scored in process)");
                else api = ReadApi(fields, apiNode, map.Child("api"));
                if (map.Optional("path") is YamlNode both) fields.Error(both, map.Child("path"), "give path (a model here) or api (a model behind a server), not both");
                reference = api?.Fingerprint;
            }
            else reference = map.Required("path", "zoo:NAME, a model directory or a hub id" + (allowApi ? " (or api: for a model behind a server)" : "")) is YamlNode p ? fields.AsString(p, map.Child("path")) : null;
            if (map.Optional("name") is YamlNode nameNode) name = ReadName(fields, nameNode, map.Child("name"));
            format = ReadPromptFormat(fields, map, path, defaults);
            if (api is not null && format.IsChat && map.Optional("template") is YamlNode chatNode)
                fields.Error(chatNode, map.Child("template"), $"a model behind an API has no local files to render its chat template from; write its prompt format with {PromptTemplate.Placeholder} (e.g. Llama-3-Instruct's header tokens)");
            map.RejectUnknown();
            if (api is not null)
            {
                if (format.IsChat) { fields.Error(node, path, $"a model behind an API needs a template: format with {PromptTemplate.Placeholder} (models.template is chat)"); return null; }
                name ??= DefaultName(api.Model);
                if (!SafeName().IsMatch(name)) { fields.Error(node, path, $"cannot name this model after \"{api.Model}\"; add name: (letters, digits, '.', '_' or '-')"); return null; }
                return new ModelSpec(name, api.Fingerprint, format) { Api = api };
            }
        }
        if (reference is null) return null;
        if (reference.StartsWith(ModelResolver.ZooPrefix, StringComparison.Ordinal) && reference.Length == ModelResolver.ZooPrefix.Length)
        {
            fields.Error(node, path, "expected zoo:NAME (e.g. zoo:base-large), got \"zoo:\"");
            return null;
        }
        name ??= DefaultName(reference);
        if (!SafeName().IsMatch(name))
        {
            fields.Error(node, path, $"cannot name this model after \"{reference}\"; add name: (letters, digits, '.', '_' or '-')");
            return null;
        }
        return new ModelSpec(name, reference, format);
    }

    /// <summary>api: {base_url, model, api_key_env?, max_concurrency?, timeout_s?, max_retries?, top_k?}.</summary>
    static ApiModelOptions? ReadApi(YamlFields fields, YamlNode node, string path)
    {
        var map = fields.AsMapping(node, path);
        if (map is null) return null;
        int before = fields.Errors.Count;
        string? baseUrl = map.Required("base_url", "the server's OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1") is YamlNode u ? fields.AsString(u, map.Child("base_url")) : null;
        if (baseUrl is not null && (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            fields.Error(map.Optional("base_url")!, map.Child("base_url"), $"expected an http:// or https:// URL such as http://127.0.0.1:8000/v1, got \"{baseUrl}\"");
        string? model = map.Required("model", "the model's name on the server, e.g. gpt-3.5-turbo-instruct") is YamlNode m ? fields.AsString(m, map.Child("model")) : null;
        string? keyEnv = null;
        if (map.Optional("api_key_env") is YamlNode k && fields.AsString(k, map.Child("api_key_env")) is string variable)
        {
            if (ApiKeyVariable().IsMatch(variable)) keyEnv = variable;
            else fields.Error(k, map.Child("api_key_env"), "expected the NAME of an environment variable holding the key (the key itself never goes in a config)");
        }
        var defaults = new ApiModelOptions("http://x", "x");
        int concurrency = map.Optional("max_concurrency") is YamlNode c ? (int)(fields.AsInteger(c, map.Child("max_concurrency"), 1, 4096) ?? 1) : defaults.MaxConcurrency;
        double timeout = map.Optional("timeout_s") is YamlNode t ? fields.AsNumber(t, map.Child("timeout_s"), v => v > 0, "a positive number of seconds") ?? 1 : defaults.TimeoutSeconds;
        int retries = map.Optional("max_retries") is YamlNode r ? (int)(fields.AsInteger(r, map.Child("max_retries"), 0, 100) ?? 0) : defaults.MaxRetries;
        double retryLimit = map.Optional("retry_limit_s") is YamlNode l ? fields.AsNumber(l, map.Child("retry_limit_s"), v => v > 0, "a positive number of seconds") ?? 1 : defaults.RetryLimitSeconds;
        bool topK = false;
        if (map.Optional("top_k") is YamlNode topKNode)
            topK = fields.AsString(topKNode, map.Child("top_k")) switch
            {
                "true" => true,
                "false" => false,
                var other => Fail<bool>(fields, topKNode, map.Child("top_k"), $"expected true (send generation.top_k; vLLM, TGI and wts serve accept it) or false (OpenAI's API refuses it), got \"{other}\""),
            };
        map.RejectUnknown();
        if (fields.Errors.Count > before || baseUrl is null || model is null) return null;
        return new ApiModelOptions(baseUrl, model)
        {
            ApiKeyEnv = keyEnv, MaxConcurrency = concurrency, TimeoutSeconds = timeout, MaxRetries = retries, RetryLimitSeconds = retryLimit, SendTopK = topK,
        };
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex ApiKeyVariable();

    static string DefaultName(string reference) =>
        reference.StartsWith(ModelResolver.ZooPrefix, StringComparison.Ordinal) ? reference[ModelResolver.ZooPrefix.Length..]
        : Path.GetFileName(reference.TrimEnd('/', Path.DirectorySeparatorChar));

    static GoldSpec? ReadGold(YamlFields fields, YamlNode? node, string path)
    {
        if (node is null) return null;
        if (node is YamlScalarNode)
            return fields.AsString(node, path) is string reference ? GoldSpec.WithDefaultTemplate(reference) : null;
        var map = fields.AsMapping(node, path);
        if (map is null) return null;
        string? goldPath = map.Required("path", "a reward model or classifier") is YamlNode p ? fields.AsString(p, map.Child("path")) : null;
        string template = GoldSpec.DefaultTemplate;
        if (map.Optional("template") is YamlNode templateNode && fields.AsString(templateNode, map.Child("template")) is string t)
        {
            if (t == PromptFormat.ChatName || t.Contains(GoldSpec.ResponsePlaceholder, StringComparison.Ordinal)) template = t;
            else fields.Error(templateNode, map.Child("template"), $"expected {PromptFormat.ChatName} (its chat template over a user and an assistant turn) or a format containing {GoldSpec.ResponsePlaceholder} (and usually {GoldSpec.PromptPlaceholder}), got \"{t}\"");
        }
        map.RejectUnknown();
        if (goldPath == GoldSpec.InstructionJudge && map.Optional("template") is YamlNode tn)
            fields.Error(tn, map.Child("template"), $"{GoldSpec.InstructionJudge} reads the instruction itself and takes no template");
        return goldPath is null ? null : new GoldSpec(goldPath, template);
    }

    /// <summary>
    /// A method entry: "base", "small-tuned", "small-untuned", or {method, params}. In a sweep (<paramref name="sweep"/>
    /// set) each parameter may be a list and the grid over all of them is returned; cbs may give budget (K = budget / W).
    /// </summary>
    static IReadOnlyList<MethodSpec>? ReadMethods(YamlFields fields, YamlNode node, string path, string? sweep) =>
        node is YamlScalarNode scalar && sweep is null
            ? fields.AsString(scalar, path) switch
            {
                string name when MethodSpec.Names.TryGetValue(name, out var kind) && !TakesParameters(kind) => [new MethodSpec(kind)],
                string other => Fail(fields, scalar, path, MethodSpec.Names.TryGetValue(other, out _)
                    ? $"{other} takes parameters; write {{method: {other}, {Example(other)}}}"
                    : $"expected base, small-tuned, small-untuned or a mapping {{method: bon|eft|cbs, ...}}, got \"{other}\""),
                null => null,
            }
            : fields.AsMapping(node, path) is { } map ? ReadMethods(fields, map, sweep) : null;

    static bool TakesParameters(MethodKind kind) => kind is MethodKind.BestOfN or MethodKind.Eft or MethodKind.Cbs;

    static IReadOnlyList<MethodSpec>? ReadMethods(YamlFields fields, YamlFields.Mapping map, string? sweep)
    {
        bool grid = sweep is not null;
        var methodNode = map.Required("method", "bon, eft or cbs" + (grid ? "" : " (or write base / small-tuned / small-untuned alone)"));
        string? method = methodNode is null ? null : fields.AsString(methodNode, map.Child("method"));
        IReadOnlyList<MethodSpec>? result = null;
        MethodKind? kind = method is not null && MethodSpec.Names.TryGetValue(method, out var k) ? k : null;
        switch (kind)
        {
            case null:
                if (methodNode is not null && method is not null)
                    fields.Error(methodNode, map.Child("method"), $"expected {(grid ? "" : "base, small-tuned, small-untuned, ")}bon, eft or cbs, got \"{method}\"");
                break;
            case MethodKind.BestOfN:
                result = Values(fields, map, "n", grid, n => fields.AsInteger(n, map.Child("n"), 1, BeamSearchOptions.MaxRowsPerPrompt) ?? 0)
                    ?.Select(n => new MethodSpec(MethodKind.BestOfN, N: (int)n)).ToArray();
                break;
            case MethodKind.Eft:
                result = Values(fields, map, "beta", grid, b => fields.AsNumber(b, map.Child("beta"), _ => true, "a finite number (EFT strength β)") ?? 0)
                    ?.Select(b => new MethodSpec(MethodKind.Eft, Beta: b)).ToArray();
                break;
            case MethodKind.Cbs:
                result = CbsGrid(fields, map, grid);
                break;
            case MethodKind other when !grid:
                result = [new MethodSpec(other)];
                break;
            default:
                fields.Error(methodNode!, map.Child("method"), $"{method} has no parameters to sweep; list it under methods");
                break;
        }
        if (kind is MethodKind.BestOfN or MethodKind.Cbs && result is not null) result = WithSearchOptions(fields, map, grid, result);
        if (!grid) map.RejectUnknown();
        return result?.Distinct().ToArray();
    }

    /// <summary>
    /// BoN and CBS options: guide (implicit-value, likelihood or {reward-model: REF, template?}), finished
    /// (compete-all, the reference's rule, or one-slot) and retokenize (true, the reference's scoring, or false:
    /// score the sampled ids where the vocabulary is shared). In a sweep, finished and retokenize may be lists.
    /// </summary>
    static IReadOnlyList<MethodSpec>? WithSearchOptions(YamlFields fields, YamlFields.Mapping map, bool grid, IReadOnlyList<MethodSpec> methods)
    {
        var guide = map.Optional("guide") is YamlNode guideNode ? ReadGuide(fields, guideNode, map.Child("guide")) : Guide.ImplicitValue;
        IReadOnlyList<FinishedStates>? finished = map.Optional("finished") is null ? [FinishedStates.CompeteAll]
            : Values(fields, map, "finished", grid, f => fields.AsString(f, map.Child("finished")) switch
            {
                "compete-all" => FinishedStates.CompeteAll,
                "one-slot" => FinishedStates.OneSlot,
                var other => Fail<FinishedStates>(fields, f, map.Child("finished"), $"expected compete-all (the reference's rule) or one-slot, got \"{other}\""),
            });
        IReadOnlyList<bool>? retokenize = map.Optional("retokenize") is null ? [true]
            : Values(fields, map, "retokenize", grid, r => fields.AsString(r, map.Child("retokenize")) switch
            {
                "true" => true,
                "false" => false,
                var other => Fail<bool>(fields, r, map.Child("retokenize"), $"expected true (score re-tokenized text, the reference) or false (score the sampled ids where vocabularies match), got \"{other}\""),
            });
        if (guide is null || finished is null || retokenize is null) return null;
        return [.. from m in methods from f in finished from r in retokenize select m with { Guide = guide, Finished = f, Retokenize = r }];
    }

    static Guide? ReadGuide(YamlFields fields, YamlNode node, string path)
    {
        if (node is YamlScalarNode)
            return fields.AsString(node, path) switch
            {
                "implicit-value" => Guide.ImplicitValue,
                "likelihood" => Guide.Likelihood,
                null => null,
                var other => Fail<Guide>(fields, node, path, $"expected implicit-value, likelihood or {{reward-model: REF}}, got \"{other}\""),
            };
        var map = fields.AsMapping(node, path);
        if (map is null) return null;
        string? reference = map.Required("reward-model", "a reward model or classifier (zoo:NAME, a directory or a hub id)") is YamlNode r ? fields.AsString(r, map.Child("reward-model")) : null;
        string template = Guide.DefaultRewardTemplate;
        if (map.Optional("template") is YamlNode t && fields.AsString(t, map.Child("template")) is string text)
        {
            if (text.Contains(GoldSpec.ResponsePlaceholder, StringComparison.Ordinal)) template = text;
            else fields.Error(t, map.Child("template"), $"expected a format containing {GoldSpec.ResponsePlaceholder} (and usually {GoldSpec.PromptPlaceholder}), got \"{text}\"");
        }
        map.RejectUnknown();
        return reference is null ? null : new Guide(GuideKind.RewardModel, reference, template);
    }

    static IReadOnlyList<MethodSpec>? CbsGrid(YamlFields fields, YamlFields.Mapping map, bool grid)
    {
        var ws = Values(fields, map, "w", grid, w => fields.AsInteger(w, map.Child("w"), 1, BeamSearchOptions.MaxRowsPerPrompt) ?? 0);
        var kNode = map.Optional("k");
        var budgetNode = grid ? map.Optional("budget") : null;
        if (kNode is not null && budgetNode is not null)
        {
            fields.Error(budgetNode, map.Child("budget"), "give k or budget (K = budget / W), not both");
            return null;
        }
        IReadOnlyList<long>? ks = null;
        long? budget = null;
        if (budgetNode is not null) budget = fields.AsInteger(budgetNode, map.Child("budget"), 1, BeamSearchOptions.MaxRowsPerPrompt);
        else ks = Values(fields, map, "k", grid, k => fields.AsInteger(k, map.Child("k"), 1, BeamSearchOptions.MaxRowsPerPrompt) ?? 0, grid ? "k or budget" : null);
        var ls = Values<int?>(fields, map, "l", grid, l => l is YamlScalarNode { Value: "inf" or "∞" } ? null
            : fields.AsInteger(l, map.Child("l"), 1, 1_000_000) is long value ? (int)value : -1);
        if (ws is null || ls is null || (ks is null && budget is null) || ls.Contains(-1)) return null;
        var methods = new List<MethodSpec>();
        foreach (long w in ws)
            foreach (long k in ks ?? [budget!.Value / w])
            {
                if (budget is long b && b % w != 0)
                {
                    fields.Error(budgetNode!, map.Child("budget"), $"budget {b} is not a multiple of W = {w}; K = budget / W must be a whole number");
                    return null;
                }
                if (w * k > BeamSearchOptions.MaxRowsPerPrompt)
                {
                    fields.Error(map.Node, map.Path, $"W·K = {w}·{k} = {w * k} sequences per prompt is beyond the limit of {BeamSearchOptions.MaxRowsPerPrompt}");
                    return null;
                }
                foreach (int? l in ls) methods.Add(new MethodSpec(MethodKind.Cbs, W: (int)w, K: (int)k, L: l));
            }
        return methods;
    }

    /// <summary>A parameter's value, or in a sweep its list of values (a scalar is a list of one).</summary>
    static IReadOnlyList<T>? Values<T>(YamlFields fields, YamlFields.Mapping map, string key, bool grid, Func<YamlNode, T?> read, string? expected = null)
    {
        var node = map.Required(key, expected ?? (grid ? "a value or a list of values" : "a value"));
        if (node is null) return null;
        if (node is YamlSequenceNode && !grid)
        {
            fields.Error(node, map.Child(key), "expected one value; to sweep values, move this method under sweeps:");
            return null;
        }
        var items = fields.AsList(node, map.Child(key), allowScalar: true);
        if (items.Count == 0) { fields.Error(node, map.Child(key), "expected at least one value"); return null; }
        var values = new List<T>();
        foreach (var item in items)
        {
            int before = fields.Errors.Count;
            var value = read(item);
            if (fields.Errors.Count > before) return null;
            values.Add(value!);
        }
        return values;
    }

    static IReadOnlyList<MethodSpec>? Fail(YamlFields fields, YamlNode node, string path, string message) => Fail<IReadOnlyList<MethodSpec>>(fields, node, path, message);

    static T? Fail<T>(YamlFields fields, YamlNode node, string path, string message)
    {
        fields.Error(node, path, message);
        return default;
    }

    static string Example(string method) => method switch { "bon" => "n: 16", "eft" => "beta: 1.0", _ => "w: 4, k: 4, l: 5" };

    static GenerationOptions? ReadGeneration(YamlFields fields, YamlFields.Mapping? map)
    {
        if (map is null) return null;
        int maxNewTokens = map.Required("max_new_tokens", "the response length limit in tokens") is YamlNode m
            ? (int)(fields.AsInteger(m, map.Child("max_new_tokens"), 1, 1_000_000) ?? 1) : 1;
        // A key that is absent keeps SamplingOptions' own default; one that is invalid has been reported (the value then only fills the slot).
        var defaults = new SamplingOptions();
        double temperature = map.Optional("temperature") is YamlNode t ? fields.AsNumber(t, map.Child("temperature"), v => v >= 0, "a number ≥ 0 (0 = greedy)") ?? defaults.Temperature : defaults.Temperature;
        int topK = map.Optional("top_k") is YamlNode k ? (int)(fields.AsInteger(k, map.Child("top_k"), 0, int.MaxValue) ?? defaults.TopK) : defaults.TopK;
        double topP = map.Optional("top_p") is YamlNode p ? fields.AsNumber(p, map.Child("top_p"), v => v > 0 && v <= 1, "a number in (0, 1]") ?? defaults.TopP : defaults.TopP;
        var stops = new List<string>();
        if (map.Optional("stop") is YamlNode stopNode)
            foreach (var item in fields.AsList(stopNode, map.Child("stop"), allowScalar: true))
                if (fields.AsString(item, map.Child("stop")) is string stop)
                {
                    if (stop.Length == 0) fields.Error(item, map.Child("stop"), "expected a non-empty stop string");
                    else stops.Add(stop);
                }
        map.RejectUnknown();
        return new GenerationOptions(maxNewTokens, new SamplingOptions(temperature, topK, topP), stops);
    }
}
