using WeakToStrong.Data;
using WeakToStrong.Evaluation;
using WeakToStrong.Models;
using WeakToStrong.Models.Api;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.World;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Experiments;

/// <summary>How `wts run` was invoked.</summary>
public sealed record RunOptions
{
    public string? OutputOverride { get; init; }
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    public bool Resume { get; init; }
    /// <summary>Only the first N prompts of the dataset.</summary>
    public int? Limit { get; init; }
    /// <summary>The quick zoo, at most <see cref="QuickPrompts"/> prompts and the first seed: a smoke run.</summary>
    public bool Quick { get; init; }
    /// <summary>Run into a directory that holds other files (never replacing one).</summary>
    public bool ForceIntoNonEmpty { get; init; }
    public string ZooRoot { get; init; } = Zoo.DefaultDirectory;
    public ModelOptions Models { get; init; } = ModelOptions.Cpu;
    /// <summary>The device's memory in GiB when its own figure is missing or wrong (--device-memory); else it is queried.</summary>
    public double? DeviceMemoryGiB { get; init; }

    public const int QuickPrompts = 12;

    public void Validate()
    {
        if (ShardCount < 1 || ShardIndex < 0 || ShardIndex >= ShardCount)
            throw new InvalidInputException($"--shard: expected i/n with 0 ≤ i < n, got {ShardIndex}/{ShardCount}");
        if (Limit is < 1) throw new InvalidInputException($"--limit: expected a positive number of prompts, got {Limit}");
    }
}

/// <summary>
/// Runs an experiment's cells (base model × method × parameters × seed) over its prompts, appending each
/// batch's generations, implicit values and gold scores to the shard's log. Rows already in the log are
/// skipped, so a rerun with --resume neither duplicates nor drops one; each prompt's random stream depends
/// only on (seed, prompt index), so any sharding gives the same generations.
/// </summary>
public sealed class ExperimentRunner(ExperimentConfig config, RunOptions options)
{
    readonly ModelResolver resolver = new(options.ZooRoot, config.Task, options.Quick);

    public RunDirectory Directory { get; } = new(options.OutputOverride ?? config.Output);

    public IReadOnlyList<long> Seeds => options.Quick ? config.Seeds.Take(1).ToArray() : config.Seeds;

    public IReadOnlyList<Cell> Cells => config.Cells().Where(c => Seeds.Contains(c.Seed)).ToArray();

    /// <summary>The prompts (all shards), in dataset order; a prompt's index is its place here.</summary>
    public IReadOnlyList<TaskPrompt> Prompts()
    {
        int count = Math.Min(config.Dataset.Prompts, Math.Min(options.Limit ?? int.MaxValue, options.Quick ? RunOptions.QuickPrompts : int.MaxValue));
        if (config.Dataset.Path is not string path)
            return TaskGenerators.Get(config.Task).Prompts(config.Dataset.Split, count, unchecked((ulong)config.Dataset.Seed));
        if (!File.Exists(path))
            throw new InvalidInputException($"{config.Source}: dataset.path {path} not found (expected {PromptSources.NameOf(config.Dataset.Format)} as in datasets/README.md)");
        var prompts = PromptSources.Read(path, config.Dataset.Format, config.Dataset.Options);
        if (prompts.Count < Math.Min(count, config.Dataset.Prompts))
            throw new InvalidInputException($"{config.Source}: dataset.prompts asks for {config.Dataset.Prompts} prompts but {path} has {prompts.Count}");
        return prompts.Take(count).ToArray();
    }

    /// <summary>
    /// Resolves every model the config names (an error names the first that is missing) and fingerprints its content;
    /// <paramref name="log"/> hears of files large enough that hashing them takes a while.
    /// </summary>
    public IReadOnlyDictionary<string, ModelFingerprint> ResolveModels(Action<string>? log = null)
    {
        var models = new SortedDictionary<string, ModelFingerprint>(StringComparer.Ordinal);
        void Add(string role, string reference, string field)
        {
            string path = resolver.Resolve(reference, $"{config.Source}: {field}");
            models[role] = new ModelFingerprint(reference, path, ModelResolver.Fingerprint(path, log));
        }
        for (int i = 0; i < config.Bases.Count; i++)
        {
            // A model behind an API has no files here: its endpoint and name (never the key) stand for the weights' hash.
            if (config.Bases[i].Api is { } api) models["base:" + config.Bases[i].Name] = new ModelFingerprint(api.Fingerprint, "", api.Fingerprint);
            else Add("base:" + config.Bases[i].Name, config.Bases[i].Reference, $"models.bases[{i}] ({config.Bases[i].Reference})");
        }
        if (config.Tuned is { } tuned) Add("tuned", tuned.Reference, "models.tuned");
        if (config.Untuned is { } untuned) Add("untuned", untuned.Reference, "models.untuned");
        if (!config.Gold.IsInstructionJudge) Add("gold", config.Gold.Reference, "models.gold");
        foreach (string reward in config.RewardGuides) Add(LoadedModels.RewardGuideRole(reward), reward, $"guide reward-model ({reward})");
        return models;
    }

    /// <summary>What this machine lacks to run the config: one line per model that cannot be found and for a missing dataset file.</summary>
    public IReadOnlyList<string> MissingInputs()
    {
        var missing = new List<string>();
        void Check(string reference, string field)
        {
            try { resolver.Resolve(reference, field); }
            catch (InvalidInputException) { missing.Add($"{field}: model {reference} not found (a model directory, zoo:NAME, or a hub id in the Hugging Face cache)"); }
        }
        for (int i = 0; i < config.Bases.Count; i++)
            if (config.Bases[i].Api is null) Check(config.Bases[i].Reference, $"models.bases[{i}]");
        if (config.Tuned is { } tuned) Check(tuned.Reference, "models.tuned");
        if (config.Untuned is { } untuned) Check(untuned.Reference, "models.untuned");
        if (!config.Gold.IsInstructionJudge) Check(config.Gold.Reference, "models.gold");
        foreach (string reward in config.RewardGuides) Check(reward, "guide reward-model");
        if (config.Dataset.Path is string path && !File.Exists(path))
            missing.Add($"dataset.path: {path} not found ({PromptSources.NameOf(config.Dataset.Format)})");
        return missing;
    }

    /// <summary>Peak device memory of running <paramref name="prompts"/> in <paramref name="dtype"/>, from config.json and tokenizers only.</summary>
    public RunMemoryEstimate EstimateMemory(IReadOnlyDictionary<string, ModelFingerprint> models, IReadOnlyList<TaskPrompt> prompts, TorchSharp.torch.ScalarType dtype) =>
        RunMemoryEstimate.For(config, models, prompts.Select(p => p.Prompt).ToArray(), dtype);

    /// <summary>EFT compares logits token by token: refuse a config whose EFT cells would mix vocabularies.</summary>
    public void CheckVocabularies(IReadOnlyDictionary<string, ModelFingerprint> models)
    {
        var eft = config.Groups.FirstOrDefault(g => g.Methods.Any(m => m.Kind == MethodKind.Eft));
        if (eft is null || config.Tuned is null || config.Untuned is null) return;
        var small = HfTokenizer.Load(models["tuned"].Path);
        var untuned = HfTokenizer.Load(models["untuned"].Path);
        if (Vocabularies.Difference(small, untuned) is string d)
            throw new InvalidInputException($"{eft.Where}: eft: the tuned and untuned models' vocabularies differ ({d}); EFT needs one vocabulary");
        foreach (string baseName in eft.Bases)
            if (Vocabularies.Difference(HfTokenizer.Load(models["base:" + baseName].Path), small) is string difference)
                throw new InvalidInputException($"{eft.Where}: eft on base model {baseName}: its vocabulary and the small models' differ ({difference}); " +
                    "EFT needs one vocabulary; use cbs, which guides across vocabularies, or restrict the sweep's bases");
    }

    /// <summary>
    /// Refuses, before anything is written, a prompt that would not fit a model's positions with max_new_tokens (the check
    /// each search makes when it starts, made early and naming the dataset line) and a tokenizer that can produce ids
    /// beyond its model's vocabulary. Reads the tokenizers and config.json files only, no weights.
    /// </summary>
    public void CheckPrompts(IReadOnlyList<(TaskPrompt Prompt, int Index)> prompts, IReadOnlyDictionary<string, ModelFingerprint> models)
    {
        int maxNewTokens = config.Generation.MaxNewTokens;
        foreach (var (role, spec) in GeneratingModels())
        {
            string path = models[role].Path;
            var modelConfig = ModelConfig.Load(Path.Combine(path, "config.json"));
            var tokenizer = HfTokenizer.Load(path);
            tokenizer.RequireIdsWithin(modelConfig);
            var template = spec.Template.Resolve(path);
            foreach (var (prompt, index) in prompts)
            {
                int tokens = tokenizer.Encode(template.Apply(prompt.Prompt)).Count + maxNewTokens;
                if (tokens > modelConfig.MaxPositionEmbeddings)
                    throw new InvalidInputException($"{PromptLocation(index)}: prompt {prompt.Id} in model {spec.Name}'s template plus max_new_tokens {maxNewTokens} " +
                        $"is {tokens} tokens, beyond the {modelConfig.MaxPositionEmbeddings} positions of {modelConfig.Path}; shorten the prompt or max_new_tokens");
            }
        }
    }

    /// <summary>The models a prompt and its response must fit, as the searches check them: each cell's sampler, and EFT's small pair.</summary>
    IEnumerable<(string Role, ModelSpec Spec)> GeneratingModels()
    {
        var roles = new SortedDictionary<string, ModelSpec>(StringComparer.Ordinal);
        foreach (var cell in Cells)
        {
            if (cell.Method.Kind is MethodKind.SmallTuned or MethodKind.Eft && config.Tuned is { } tuned) roles["tuned"] = tuned;
            if (cell.Method.Kind is MethodKind.SmallUntuned or MethodKind.Eft && config.Untuned is { } untuned) roles["untuned"] = untuned;
            // A model behind an API checks its own context (a prompt too long is the server's 400).
            if (cell.Method.Kind is not (MethodKind.SmallTuned or MethodKind.SmallUntuned) && cell.BaseModel is string name && config.Bases.Single(b => b.Name == name).Api is null)
                roles["base:" + name] = config.Bases.Single(b => b.Name == name);
        }
        return roles.Select(kv => (kv.Key, kv.Value));
    }

    string PromptLocation(int index) => config.Dataset.Path is string path
        ? PromptSources.Location(path, config.Dataset.Format, index)
        : $"{config.Source}: generated {config.Task} prompt {index}";

    /// <summary>Generates what this shard still lacks; returns the run directory's writer lock, which the caller holds while it evaluates and disposes.</summary>
    public WriterLock Run(IProgressReport progress)
    {
        options.Validate();
        if (MissingInputs() is { Count: > 0 } missing)
            throw new InvalidInputException($"{config.Source}: {missing.Count} input(s) missing here: {string.Join("; ", missing)}");
        var prompts = Prompts();
        var mine = prompts.Select((p, i) => (Prompt: p, Index: i)).Where(p => p.Index % options.ShardCount == options.ShardIndex).ToArray();
        var models = ResolveModels(progress.Message);
        CheckVocabularies(models);
        CheckPrompts(mine, models);
        // Said before any weights are read, and a run that cannot fit stops here, before its directory is written.
        var estimate = EstimateMemory(models, mine.Select(p => p.Prompt).ToArray(), options.Models.DType);
        foreach (string line in estimate.Lines()) progress.Message(line);
        progress.Message(estimate.CheckFits(DeviceMemory.Of(options.Models.DeviceNames, options.DeviceMemoryGiB), config.Source));
        string configText = File.Exists(config.Source) ? StrictUtf8.ReadAllText(config.Source) : throw new InvalidInputException($"{config.Source} not found");
        var manifest = new RunManifest(config.Name, config.Source, RunManifest.Hash(configText), configText, RunManifest.CodeVersionNow,
            DateTime.UtcNow.ToString("O"), RunManifest.MachineNow(), models, options.ShardIndex, options.ShardCount, options.Quick, options.Limit);
        string logPath = Directory.ShardGenerations(options.ShardIndex, options.ShardCount);
        string manifestPath = Directory.ShardManifest(options.ShardIndex, options.ShardCount);
        var held = PrepareDirectory(manifest, manifestPath, logPath);
        try
        {
            if (Generate(prompts, mine, models, logPath, progress) is { } setup)
            {
                var recorded = RunManifest.Read(manifestPath);
                RunDirectory.WriteAtomically(manifestPath, (recorded with { Setup = recorded.Setup is { } before ? before + setup : setup }).ToJson());
                progress.Message($"{config.Name}: {setup}");
            }
        }
        catch
        {
            held.Dispose();
            throw;
        }
        return held;
    }

    /// <summary>Generates what the log lacks; returns the seconds spent loading and warming up models (null when nothing was left to do).</summary>
    SetupSeconds? Generate(IReadOnlyList<TaskPrompt> prompts, (TaskPrompt Prompt, int Index)[] mine, IReadOnlyDictionary<string, ModelFingerprint> models,
        string logPath, IProgressReport progress)
    {
        var done = GenerationLog.Read(logPath, repairTornTail: true).Select(r => r.Key).ToHashSet();
        var cells = Cells;
        int total = cells.Count * mine.Length, already = cells.Sum(c => mine.Count(p => done.Contains((c.Key, p.Index))));
        progress.Message($"{config.Name}: {cells.Count} cells × {mine.Length} prompts{(options.ShardCount > 1 ? $" (shard {options.ShardIndex}/{options.ShardCount} of {prompts.Count})" : "")}" +
            (already > 0 ? $"; {already} of {total} generations already in {logPath}" : ""));
        if (already == total) return null;

        using var log = new GenerationLog.Writer(logPath);
        using var participants = new LoadedModels(config, models, options.Models,
            () => new ResponseCache(Directory.ApiCache, $"shard-{options.ShardIndex}-of-{options.ShardCount}.jsonl"));
        var warmedUp = new HashSet<(MethodKind, string?, Guide)>();
        var loading = new System.Diagnostics.Stopwatch();
        var warmingUp = new System.Diagnostics.Stopwatch();
        for (int c = 0; c < cells.Count; c++)
        {
            var cell = cells[c];
            var pending = mine.Where(p => !done.Contains((cell.Key, p.Index))).ToArray();
            int cellDone = mine.Length - pending.Length;
            using var stage = progress.StageStarted($"[{c + 1}/{cells.Count}] {cell.BaseModel ?? "small"} {cell.Method.Label} seed {cell.Seed}", mine.Length, "prompts", cellDone);
            if (pending.Length > 0)
            {
                loading.Start();
                var method = participants.For(cell);
                loading.Stop();
                // Once per method on each base model, before its first timed batch (see CellGenerator.WarmUp).
                if (warmedUp.Add((cell.Method.Kind, cell.BaseModel, cell.Method.Guide)))
                {
                    warmingUp.Start();
                    method.WarmUp(pending.Take(config.BatchPrompts).Select(p => p.Prompt).ToArray());
                    warmingUp.Stop();
                }
                foreach (var batch in pending.Chunk(config.BatchPrompts))
                {
                    log.Append(method.Generate(batch.Select(p => (p.Prompt, p.Index)).ToArray()));
                    stage.Advanced(cellDone += batch.Length);
                }
            }
        }
        return new SetupSeconds(loading.Elapsed.TotalSeconds, warmingUp.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Takes the run directory for this shard, or refuses before writing anything: a directory holding files that
    /// are not a run's (unless --force-into-nonempty, and even then none the run writes may exist), a run of another
    /// config, --quick, --limit or models (in any shard), another shard split, a run of this shard without --resume,
    /// or a writer still at work (the lock, held until the caller disposes it).
    /// </summary>
    WriterLock PrepareDirectory(RunManifest manifest, string manifestPath, string logPath)
    {
        const string flag = "--output";
        string path = Directory.Path;
        var existing = Directory.Manifests();
        if (existing.Count == 0)
        {
            // No run here yet: every file a run writes must be new, but for a config.yaml that already is this config (a run killed
            // before its manifest) and a response cache (answers already paid for are welcome: they are keyed by the full request).
            OutputPaths.RequireWritable(path, flag, options.ForceIntoNonEmpty, RunDirectory.IsRunFileName,
                OutputPaths.Entries(path).Where(n => RunDirectory.IsRunFileName(n) && n is not ("config.yaml" or ResponseCache.DirectoryName)), "choose another output (--output) or move those files away");
            if (File.Exists(Directory.Config) && File.ReadAllText(Directory.Config) != manifest.ConfigText)
                throw new InvalidInputException($"{flag} {path}: config.yaml exists and is not this config; choose another output (--output) (nothing was replaced)");
        }
        else OutputPaths.RequireDirectoryOrAbsent(path, flag);
        System.IO.Directory.CreateDirectory(path);
        var held = Directory.Lock(options.ShardIndex, options.ShardCount);
        try
        {
            foreach (string other in Directory.Manifests())
            {
                var recorded = RunManifest.Read(other);
                if (manifest.Conflict(recorded) is string conflict)
                    throw new InvalidInputException($"{path} holds a run of {recorded.ConfigName} ({Name(other)}) that this one would mix with: {conflict}; " +
                        "run into another output directory (--output) instead");
                if (options.ShardCount > 1 && recorded.ShardCount > 1 && recorded.ShardCount != options.ShardCount)
                    throw new InvalidInputException($"{path} holds shard {recorded.ShardIndex} of a {recorded.ShardCount}-way split ({Name(other)}); " +
                        $"keep one split per directory: run --shard I/{recorded.ShardCount} or into another output directory");
            }
            if (File.Exists(manifestPath))
            {
                var recorded = RunManifest.Read(manifestPath);
                if (!options.Resume)
                    throw new InvalidInputException($"{path} already holds a run of {recorded.ConfigName} ({recorded.CreatedUtc}); " +
                        "pass --resume to continue it, or choose another output (--output) or delete the directory");
                return held;
            }
            if (File.Exists(logPath))
                throw new InvalidInputException($"{logPath} exists without its manifest {manifestPath}; move it away or choose another output");
            WriteConfigOnce(manifest.ConfigText);
            RunDirectory.WriteAtomically(manifestPath, manifest.ToJson());
            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    static string Name(string path) => System.IO.Path.GetFileName(path);

    /// <summary>config.yaml is shared by the shards: created once (atomically, never replaced), and then it must be this config.</summary>
    void WriteConfigOnce(string text)
    {
        string temporary = $"{Directory.Config}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temporary, text, new System.Text.UTF8Encoding(false));
        try
        {
            File.Move(temporary, Directory.Config, overwrite: false);
        }
        catch (IOException) when (File.Exists(Directory.Config))
        {
            File.Delete(temporary);
            if (File.ReadAllText(Directory.Config) != text)
                throw new InvalidInputException($"{Directory.Config} exists and is not this config; run into another output directory (--output) (nothing was replaced)");
        }
    }
}
