using System.Text.Json;
using System.Text.Json.Nodes;
using WeakToStrong.Evaluation;
using WeakToStrong.Models;
using WeakToStrong.Tokenization;
using WeakToStrong.Training;
using WeakToStrong.World.Tasks;
using static TorchSharp.torch;

namespace WeakToStrong.World;

/// <summary>Where one task's zoo lives: every model is a Hugging Face directory with its tokenizer files.</summary>
public sealed record ZooTask(string Directory, ZooPlan Plan)
{
    public string Tokenizer => Path.Combine(Directory, "tokenizer");
    public string Model(string name) => Path.Combine(Directory, name);
    public IReadOnlyList<string> Bases => Plan.Bases.Select(b => Model(b.Name)).ToArray();
    public string LargestBase => Bases[^1];
    public string SmallUntuned => Model("small-untuned");
    public string SmallTuned => Model("small-tuned");
    public string? Gold => Plan.Gold is null ? null : Model("gold");
    public string Manifest => Path.Combine(Directory, "manifest.json");
    public string Logs => Path.Combine(Directory, "logs");

    /// <summary>The task's gold evaluator: the trained classifier / reward model, or the instruction judge.</summary>
    public IGoldEvaluator OpenGold(ModelOptions options) => World.Gold.Open(
        Gold is null ? GoldSpec.WithDefaultTemplate(GoldSpec.InstructionJudge) : GoldSpec.WithDefaultTemplate("zoo:gold"), Gold, options);
}

/// <summary>
/// Builds the embedded default world: per task a tokenizer trained on the task corpus, three base models
/// pretrained on it, a small untuned model, a gold evaluator, and the small tuned model (DPO on the task's
/// preference pairs). Only what is missing is built; every step is seeded, so a rebuild is identical.
/// </summary>
public static class Zoo
{
    /// <summary>$WTS_ZOO_DIR, else $XDG_CACHE_HOME/weak-to-strong/zoo, else ~/.cache/weak-to-strong/zoo.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("WTS_ZOO_DIR") is { Length: > 0 } explicitDirectory ? explicitDirectory
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "weak-to-strong", "zoo");

    public static ZooTask Locate(string root, string task, bool quick) =>
        new(Path.Combine(root, quick ? task + "-quick" : task), ZooPlan.For(task, quick));

    /// <summary>
    /// Refuses, before anything is built, a zoo directory holding what the zoo did not write (unless <paramref name="intoNonEmpty"/>),
    /// and always one where a model or the tokenizer would be written over a directory that is not a finished one of ours.
    /// </summary>
    public static void CheckDirectory(string root, IReadOnlyList<string> tasks, bool quick, bool intoNonEmpty)
    {
        const string flag = "--dir", whatToDo = "choose an empty or new --dir (or set WTS_ZOO_DIR), or move those files away";
        var taskDirectories = ZooPlan.Tasks.SelectMany(t => new[] { t, t + "-quick" }).ToHashSet(StringComparer.Ordinal);
        OutputPaths.RequireWritable(root, flag, intoNonEmpty, taskDirectories.Contains, [], whatToDo);
        foreach (string task in tasks)
        {
            var zoo = Locate(root, task, quick);
            var models = zoo.Plan.Bases.Select(b => b.Name).Concat(["small-untuned", "small-tuned"]).Concat(zoo.Plan.Gold is null ? [] : ["gold"]).ToArray();
            bool Ours(string name) => name is "tokenizer" or "logs" or "manifest.json" or "manifest.json.tmp" || models.Contains(name)
                || models.Any(m => name.StartsWith(m + ".saving-", StringComparison.Ordinal) || name.StartsWith(m + ".replaced-", StringComparison.Ordinal));
            OutputPaths.RequireWritable(zoo.Directory, flag, intoNonEmpty, Ours, [], whatToDo);
            // A model is built only where its config.json is missing, and saving it replaces the directory: so that directory must not exist.
            foreach (string model in models)
                if (Directory.Exists(zoo.Model(model)) && !File.Exists(Path.Combine(zoo.Model(model), "config.json")))
                    throw new InvalidInputException($"{flag} {root}: {zoo.Model(model)} exists but is not a model the zoo built (no config.json); move it away (nothing was written)");
            if (Directory.Exists(zoo.Tokenizer) && !File.Exists(Path.Combine(zoo.Tokenizer, "vocab.json")) && OutputPaths.Entries(zoo.Tokenizer).Count > 0)
                throw new InvalidInputException($"{flag} {root}: {zoo.Tokenizer} holds files but no vocab.json, so it is not the zoo's tokenizer; move it away (nothing was written)");
        }
    }

    /// <param name="progress">hears of each stage: the corpus, the tokenizer, each model's training (in steps) and its held-out evaluation</param>
    public static ZooTask Build(string root, string task, bool quick, IProgressReport progress)
    {
        var zoo = Locate(root, task, quick);
        var plan = zoo.Plan;
        var generator = TaskGenerators.Get(task);
        ulong seed = StableHash.Fnv1a("zoo/" + task);
        Directory.CreateDirectory(zoo.Directory);
        var options = ModelOptions.Cpu;
        var manifest = File.Exists(zoo.Manifest) ? JsonNode.Parse(File.ReadAllText(zoo.Manifest))!.AsObject() : new JsonObject();
        void Record(string key, JsonNode value)
        {
            manifest[key] = value;
            WriteAtomically(zoo.Manifest, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        var corpus = progress.Stage($"{task}: corpus", plan.CorpusDocuments, "documents", advanced =>
            generator.PretrainingTexts(plan.CorpusDocuments, seed).Select((text, i) =>
            {
                if ((i + 1) % 100 == 0 || i + 1 == plan.CorpusDocuments) advanced(i + 1);
                return text;
            }).ToArray());
        if (!File.Exists(Path.Combine(zoo.Tokenizer, "vocab.json")))
        {
            progress.Message($"{task}: training a byte-level BPE tokenizer ({plan.TokenizerVocabulary} tokens) on {corpus.Length} documents");
            progress.Stage($"{task}: tokenizer", 1, "tokenizers", advanced =>
            {
                var trained = ByteLevelBpeTrainer.Train(corpus, new ByteLevelBpeTrainingOptions { VocabSize = plan.TokenizerVocabulary });
                trained.Vocabulary.Save(zoo.Tokenizer, plan.Positions);
                advanced(1);
                return trained;
            });
        }
        var tokenizer = HfTokenizer.Load(zoo.Tokenizer);
        int eos = tokenizer.EosTokenId ?? throw new InvalidOperationException($"{zoo.Tokenizer}: the trained tokenizer has no EOS token");
        ModelConfig Shape(ZooModelPlan model) => model.Shape(tokenizer.VocabSize) with { BosTokenId = eos, EosTokenIds = [eos] };
        TrainingOptions Budget(ZooModelPlan model, string name) => new()
        {
            Steps = model.Steps, BatchSize = model.BatchSize, LearningRate = model.LearningRate, WarmupSteps = Math.Max(1, model.Steps / 10),
            Seed = seed ^ StableHash.Fnv1a(name), LogCsv = Path.Combine(zoo.Logs, name + ".csv"),
        };

        // Base models and the small untuned model: causal-LM pretraining on the task corpus.
        foreach (var model in plan.Bases.Append(plan.Small))
        {
            string directory = zoo.Model(model.Name);
            if (File.Exists(Path.Combine(directory, "config.json"))) continue;
            NativeMemory.ReturnFreedMemory(); // the previous stage's tensors are gone; its heap pages need not stay under this one
            var config = Shape(model);
            progress.Message($"{task}: pretraining {model.Name} ({config.ModelType}, {config.NumHiddenLayers} layers × {config.HiddenSize}) for {model.Steps} steps");
            using var lm = NewCausalLM(config, options, seed ^ StableHash.Fnv1a(model.Name));
            progress.Stage($"{task}: pretraining {model.Name}", model.Steps, "steps", advanced =>
                LanguageModelTraining.Pretrain(lm, tokenizer, corpus, plan.BlockSize, Budget(model, model.Name), step => advanced(step.Step + 1)));
            PretrainedModels.Save(lm, config, directory, zoo.Tokenizer);
            var heldOut = generator.Prompts(TaskSplit.Test, 64, seed).Select(p => p.Prompt + p.Reference).ToArray();
            Record($"{model.Name}.heldout_perplexity", progress.Stage($"{task}: perplexity of {model.Name}", heldOut.Length, "texts", advanced =>
                LanguageModelTraining.Perplexity(lm, tokenizer, heldOut, plan.BlockSize, advanced)));
        }

        NativeMemory.ReturnFreedMemory();
        if (plan.Gold is ZooModelPlan gold && !File.Exists(Path.Combine(zoo.Gold!, "config.json")))
            Record("gold.heldout_accuracy", TrainGold(zoo, generator, gold, Shape(gold), tokenizer, Budget(gold, "gold"), seed, options, progress));

        NativeMemory.ReturnFreedMemory();
        if (!File.Exists(Path.Combine(zoo.SmallTuned, "config.json")))
            Record("small-tuned.dpo_pairs", TrainSmallTuned(zoo, generator, tokenizer, seed, options, progress));
        NativeMemory.ReturnFreedMemory();
        return zoo;
    }

    static CausalLanguageModel NewCausalLM(ModelConfig config, ModelOptions options, ulong seed)
    {
        var model = ModelFactory.NewCausalLM(config, options);
        model.InitializeWeights(new Generator(seed));
        return model;
    }

    static SequenceClassifier NewClassifier(ModelConfig config, ModelOptions options, ulong seed)
    {
        var model = ModelFactory.NewSequenceClassifier(config, options);
        model.InitializeWeights(new Generator(seed));
        return model;
    }

    /// <summary>Sentiment: a positive/negative classifier (corrupted reviews count as negative). Summarization: a Bradley–Terry RM.</summary>
    static double TrainGold(ZooTask zoo, ITaskGenerator generator, ZooModelPlan gold, ModelConfig backbone, HfTokenizer tokenizer,
        TrainingOptions budget, ulong seed, ModelOptions options, IProgressReport progress)
    {
        var plan = zoo.Plan;
        if (generator is SentimentTask sentiment)
        {
            var config = backbone.WithClassificationHead(2, ["NEGATIVE", "POSITIVE"]);
            progress.Message($"{plan.Task}: training the gold sentiment classifier on {plan.GoldExamples} labelled reviews");
            static LabelledText Labelled(ClassifierExample e) => new(e.Text, e.Label == SentimentTask.PositiveLabel ? 1 : 0);
            var examples = sentiment.ClassifierExamples(plan.GoldExamples, seed).Select(Labelled).ToArray();
            using var classifier = NewClassifier(config, options, seed ^ 0x601D);
            progress.Stage($"{plan.Task}: training gold", gold.Steps, "steps", advanced =>
                RewardModelTraining.Classification(classifier, tokenizer, examples, budget, step => advanced(step.Step + 1)));
            PretrainedModels.Save(classifier, config, zoo.Gold!, zoo.Tokenizer);
            var heldOut = sentiment.ClassifierExamples(plan.GoldHeldOut, seed ^ 0xE7A1).Select(Labelled).ToArray();
            using var reward = new RewardModel(classifier, tokenizer, options);
            var logits = progress.Stage($"{plan.Task}: accuracy of gold", heldOut.Length, "texts", advanced =>
            {
                var all = reward.Logits(heldOut.Select(e => e.Text).ToArray());
                advanced(heldOut.Length);
                return all;
            });
            return heldOut.Zip(logits).Count(p => (p.Second[1] > p.Second[0] ? 1 : 0) == p.First.Label) / (double)heldOut.Length;
        }
        else
        {
            var config = backbone.WithClassificationHead(1);
            progress.Message($"{plan.Task}: training the gold reward model on {plan.GoldExamples} preference pairs");
            static Preference Pair(PreferencePair p) => new(p.Prompt, p.Chosen, p.Rejected);
            var pairs = generator.PreferencePairs(plan.GoldExamples, seed).Select(Pair).ToArray();
            using var rewardModel = NewClassifier(config, options, seed ^ 0x601D);
            progress.Stage($"{plan.Task}: training gold", gold.Steps, "steps", advanced =>
                RewardModelTraining.BradleyTerry(rewardModel, tokenizer, pairs, budget, step => advanced(step.Step + 1)));
            PretrainedModels.Save(rewardModel, config, zoo.Gold!, zoo.Tokenizer);
            var heldOut = generator.PreferencePairs(plan.GoldHeldOut, seed ^ 0xE7A1).Select(Pair).ToArray();
            using var reward = new RewardModel(rewardModel, tokenizer, options);
            var (chosen, rejected) = progress.Stage($"{plan.Task}: accuracy of gold", heldOut.Length, "pairs", advanced =>
            {
                var scores = (reward.Score(heldOut.Select(p => p.Prompt + p.Chosen).ToArray()), reward.Score(heldOut.Select(p => p.Prompt + p.Rejected).ToArray()));
                advanced(heldOut.Length);
                return scores;
            });
            return chosen.Zip(rejected).Count(p => p.First > p.Second) / (double)heldOut.Length;
        }
    }

    /// <summary>
    /// DPO from the untuned model on the task's preference pairs: for sentiment, mirror reviews that differ only
    /// in sentiment (as imdb_preference pairs differ in the gold reward); for the other tasks, pairs ranked by the
    /// task's gold rule. So the small pair carries the preference and nothing else.
    /// </summary>
    static int TrainSmallTuned(ZooTask zoo, ITaskGenerator generator, HfTokenizer tokenizer, ulong seed, ModelOptions options,
        IProgressReport progress)
    {
        var plan = zoo.Plan;
        var pairs = generator.PreferencePairs(plan.PreferencePairs, seed ^ 0xD90).Select(p => new Preference(p.Prompt, p.Chosen, p.Rejected)).ToArray();
        progress.Message($"{plan.Task}: DPO of small-tuned from small-untuned on {pairs.Length} preference pairs (β = {plan.DpoBeta})");
        using var untuned = PretrainedModels.LoadCausalLM(zoo.SmallUntuned, options);
        using var policy = PretrainedModels.LoadCausalLM(zoo.SmallUntuned, options);
        var budget = new TrainingOptions
        {
            Steps = plan.DpoSteps, BatchSize = 16, LearningRate = plan.DpoLearningRate, WarmupSteps = Math.Max(1, plan.DpoSteps / 10),
            Seed = seed ^ StableHash.Fnv1a("dpo"), LogCsv = Path.Combine(zoo.Logs, "small-tuned.csv"),
        };
        progress.Stage($"{plan.Task}: DPO of small-tuned", plan.DpoSteps, "steps", advanced =>
            DirectPreferenceOptimization.Train(policy, untuned, tokenizer, pairs, plan.DpoBeta, budget, step => advanced(step.Step + 1)));
        PretrainedModels.Save(policy, policy.Config, zoo.SmallTuned, zoo.Tokenizer);
        return pairs.Length;
    }

    static void WriteAtomically(string path, string text) => OutputLocations.WriteAtomically(path, text);
}
