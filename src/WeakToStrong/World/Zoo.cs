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

    /// <summary>
    /// Builds what is missing of each task's zoo: <paramref name="threads"/> models are trained side by side, each on one
    /// thread, the most work ahead first (see <see cref="ParallelJobs"/>); so the weights do not depend on how many run at once.
    /// </summary>
    /// <param name="progress">hears of each stage: the corpus, the tokenizer, each model's training (in steps) and its held-out evaluation</param>
    public static IReadOnlyList<ZooTask> Build(string root, IReadOnlyList<string> tasks, bool quick, IProgressReport progress, int threads)
    {
        var builds = tasks.Select(task => new TaskBuild(Locate(root, task, quick), progress)).ToArray();
        ParallelJobs.Run(builds.SelectMany(b => b.Jobs()).ToArray(), threads);
        return builds.Select(b => b.Zoo).ToArray();
    }

    /// <summary>The default for <see cref="Build"/>'s threads: every CPU, at most four (each model side by side holds its own batches).</summary>
    public static int DefaultThreads => Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>One task's zoo as jobs: its corpus and tokenizer, then each missing model (the small tuned one after the small untuned one).</summary>
    sealed class TaskBuild(ZooTask zoo, IProgressReport progress)
    {
        readonly ZooPlan plan = zoo.Plan;
        readonly ITaskGenerator generator = TaskGenerators.Get(zoo.Plan.Task);
        readonly ulong seed = StableHash.Fnv1a("zoo/" + zoo.Plan.Task);
        readonly ModelOptions options = ModelOptions.Cpu;
        readonly JsonObject manifest = File.Exists(zoo.Manifest) ? JsonNode.Parse(File.ReadAllText(zoo.Manifest))!.AsObject() : new JsonObject();
        int[] tokenStream = []; // the corpus as the task's pretraining jobs read it, tokenized once
        const int DpoPairs = 16;

        public ZooTask Zoo => zoo;
        string Task => plan.Task;
        static bool Built(string directory) => File.Exists(Path.Combine(directory, "config.json"));

        public IEnumerable<Job> Jobs()
        {
            var pretrained = plan.Bases.Append(plan.Small).Where(m => !Built(zoo.Model(m.Name))).ToArray();
            var prepare = Make($"{Task}: corpus and tokenizer", double.MaxValue, () => Prepare(needCorpus: pretrained.Length > 0), []);
            yield return prepare;
            Job? untuned = null;
            foreach (var model in pretrained)
            {
                var job = Make($"{Task}: {model.Name}", Work(model, plan.BlockSize), () => Pretrain(model), [prepare]);
                if (model == plan.Small) untuned = job;
                yield return job;
            }
            if (plan.Gold is ZooModelPlan gold && !Built(zoo.Gold!))
                yield return Make($"{Task}: gold", Work(gold, plan.BlockSize * (generator is SentimentTask ? 1 : 2)),
                    () => Record("gold.heldout_accuracy", TrainGold(gold)), [prepare]);
            if (!Built(zoo.SmallTuned))
                // DPO: per step 16 pairs (32 rows) through the policy and, forward only (a third of a step), the reference.
                yield return Make($"{Task}: small-tuned", Work(plan.Small, plan.BlockSize) * plan.DpoSteps * DpoPairs * 2 * 4 / 3 / (plan.Small.Steps * plan.Small.BatchSize),
                    () => Record("small-tuned.dpo_pairs", TrainSmallTuned()), [untuned ?? prepare]);
        }

        /// <summary>A job that gives its heap pages back when it ends: the next one's shapes differ, and the heap is never trimmed otherwise.</summary>
        static Job Make(string name, double work, Action run, Job[] after) => new(name, work, () =>
        {
            run();
            NativeMemory.ReturnFreedMemory();
        }, after);

        /// <summary>What ranks a job: tokens trained on times the square of the width times the depth (a training step's matmuls).</summary>
        double Work(ZooModelPlan model, int tokensPerRow)
        {
            var shape = model.Shape(plan.TokenizerVocabulary);
            return (double)model.Steps * model.BatchSize * tokensPerRow * shape.NumHiddenLayers * shape.HiddenSize * shape.HiddenSize;
        }

        void Prepare(bool needCorpus)
        {
            Directory.CreateDirectory(zoo.Directory);
            bool tokenizerMissing = !File.Exists(Path.Combine(zoo.Tokenizer, "vocab.json"));
            if (!needCorpus && !tokenizerMissing) return;
            var corpus = progress.Stage($"{Task}: corpus", plan.CorpusDocuments, "documents", advanced =>
                generator.PretrainingTexts(plan.CorpusDocuments, seed).Select((text, i) =>
                {
                    if ((i + 1) % 100 == 0 || i + 1 == plan.CorpusDocuments) advanced(i + 1);
                    return text;
                }).ToArray());
            if (tokenizerMissing)
            {
                progress.Message($"{Task}: training a byte-level BPE tokenizer ({plan.TokenizerVocabulary} tokens) on {corpus.Length} documents");
                progress.Stage($"{Task}: tokenizer", 1, "tokenizers", advanced =>
                {
                    var trained = ByteLevelBpeTrainer.Train(corpus, new ByteLevelBpeTrainingOptions { VocabSize = plan.TokenizerVocabulary });
                    trained.Vocabulary.Save(zoo.Tokenizer, plan.Positions);
                    advanced(1);
                    return trained;
                });
            }
            if (needCorpus)
            {
                var (tokenizer, eos) = LoadTokenizer();
                tokenStream = LanguageModelTraining.TokenStream(tokenizer, corpus, eos);
            }
        }

        /// <summary>The tokenizer, loaded by each job for itself, and the model's shape with its vocabulary and EOS.</summary>
        (HfTokenizer Tokenizer, ModelConfig Config) Tokenized(ZooModelPlan model)
        {
            var (tokenizer, eos) = LoadTokenizer();
            return (tokenizer, model.Shape(tokenizer.VocabSize) with { BosTokenId = eos, EosTokenIds = [eos] });
        }

        (HfTokenizer Tokenizer, int Eos) LoadTokenizer()
        {
            var tokenizer = HfTokenizer.Load(zoo.Tokenizer);
            return (tokenizer, tokenizer.EosTokenId ?? throw new InvalidOperationException($"{zoo.Tokenizer}: the trained tokenizer has no EOS token"));
        }

        TrainingOptions Budget(ZooModelPlan model) => new()
        {
            Steps = model.Steps, BatchSize = model.BatchSize, LearningRate = model.LearningRate, WarmupSteps = Math.Max(1, model.Steps / 10),
            Seed = seed ^ StableHash.Fnv1a(model.Name), LogCsv = Path.Combine(zoo.Logs, model.Name + ".csv"),
        };

        /// <summary>A base model or the small untuned model: causal-LM pretraining on the task corpus.</summary>
        void Pretrain(ZooModelPlan model)
        {
            var (tokenizer, config) = Tokenized(model);
            progress.Message($"{Task}: pretraining {model.Name} ({config.ModelType}, {config.NumHiddenLayers} layers × {config.HiddenSize}) for {model.Steps} steps");
            using var lm = NewCausalLM(config, options, seed ^ StableHash.Fnv1a(model.Name));
            progress.Stage($"{Task}: pretraining {model.Name}", model.Steps, "steps", advanced =>
                LanguageModelTraining.Pretrain(lm, tokenStream, plan.BlockSize, Budget(model), step => advanced(step.Step + 1)));
            PretrainedModels.Save(lm, config, zoo.Model(model.Name), zoo.Tokenizer);
            var heldOut = generator.Prompts(TaskSplit.Test, 64, seed).Select(p => p.Prompt + p.Reference).ToArray();
            Record($"{model.Name}.heldout_perplexity", progress.Stage($"{Task}: perplexity of {model.Name}", heldOut.Length, "texts", advanced =>
                LanguageModelTraining.Perplexity(lm, tokenizer, heldOut, plan.BlockSize, advanced)));
        }

        /// <summary>Sentiment: a positive/negative classifier (corrupted reviews count as negative). Summarization: a Bradley–Terry RM.</summary>
        double TrainGold(ZooModelPlan gold)
        {
            var (tokenizer, backbone) = Tokenized(gold);
            if (generator is SentimentTask sentiment)
            {
                var config = backbone.WithClassificationHead(2, ["NEGATIVE", "POSITIVE"]);
                progress.Message($"{Task}: training the gold sentiment classifier on {plan.GoldExamples} labelled reviews");
                static LabelledText Labelled(ClassifierExample e) => new(e.Text, e.Label == SentimentTask.PositiveLabel ? 1 : 0);
                var examples = sentiment.ClassifierExamples(plan.GoldExamples, seed).Select(Labelled).ToArray();
                using var classifier = NewClassifier(config, options, seed ^ 0x601D);
                progress.Stage($"{Task}: training gold", gold.Steps, "steps", advanced =>
                    RewardModelTraining.Classification(classifier, tokenizer, examples, Budget(gold), step => advanced(step.Step + 1)));
                PretrainedModels.Save(classifier, config, zoo.Gold!, zoo.Tokenizer);
                var heldOut = sentiment.ClassifierExamples(plan.GoldHeldOut, seed ^ 0xE7A1).Select(Labelled).ToArray();
                using var reward = new RewardModel(classifier, tokenizer, options);
                var logits = progress.Stage($"{Task}: accuracy of gold", heldOut.Length, "texts", advanced =>
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
                progress.Message($"{Task}: training the gold reward model on {plan.GoldExamples} preference pairs");
                static Preference Pair(PreferencePair p) => new(p.Prompt, p.Chosen, p.Rejected);
                var pairs = generator.PreferencePairs(plan.GoldExamples, seed).Select(Pair).ToArray();
                using var rewardModel = NewClassifier(config, options, seed ^ 0x601D);
                progress.Stage($"{Task}: training gold", gold.Steps, "steps", advanced =>
                    RewardModelTraining.BradleyTerry(rewardModel, tokenizer, pairs, Budget(gold), step => advanced(step.Step + 1)));
                PretrainedModels.Save(rewardModel, config, zoo.Gold!, zoo.Tokenizer);
                var heldOut = generator.PreferencePairs(plan.GoldHeldOut, seed ^ 0xE7A1).Select(Pair).ToArray();
                using var reward = new RewardModel(rewardModel, tokenizer, options);
                var (chosen, rejected) = progress.Stage($"{Task}: accuracy of gold", heldOut.Length, "pairs", advanced =>
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
        int TrainSmallTuned()
        {
            var tokenizer = HfTokenizer.Load(zoo.Tokenizer);
            var pairs = generator.PreferencePairs(plan.PreferencePairs, seed ^ 0xD90).Select(p => new Preference(p.Prompt, p.Chosen, p.Rejected)).ToArray();
            progress.Message($"{Task}: DPO of small-tuned from small-untuned on {pairs.Length} preference pairs (β = {plan.DpoBeta})");
            using var untuned = PretrainedModels.LoadCausalLM(zoo.SmallUntuned, options);
            using var policy = PretrainedModels.LoadCausalLM(zoo.SmallUntuned, options);
            var budget = new TrainingOptions
            {
                Steps = plan.DpoSteps, BatchSize = DpoPairs, LearningRate = plan.DpoLearningRate, WarmupSteps = Math.Max(1, plan.DpoSteps / 10),
                Seed = seed ^ StableHash.Fnv1a("dpo"), LogCsv = Path.Combine(zoo.Logs, "small-tuned.csv"),
            };
            progress.Stage($"{Task}: DPO of small-tuned", plan.DpoSteps, "steps", advanced =>
                DirectPreferenceOptimization.Train(policy, untuned, tokenizer, pairs, plan.DpoBeta, budget, step => advanced(step.Step + 1)));
            PretrainedModels.Save(policy, policy.Config, zoo.SmallTuned, zoo.Tokenizer);
            return pairs.Length;
        }

        /// <summary>Adds a measurement to the task's manifest, written whole each time, its keys in the plan's order whatever finished first.</summary>
        void Record(string key, JsonNode value)
        {
            lock (manifest)
            {
                manifest[key] = value;
                string[] order = [.. plan.Bases.Append(plan.Small).Select(m => $"{m.Name}.heldout_perplexity"), "gold.heldout_accuracy", "small-tuned.dpo_pairs"];
                var ordered = new JsonObject();
                foreach (var (name, node) in manifest.OrderBy(p => Array.IndexOf(order, p.Key) is int i and >= 0 ? i : order.Length).ToArray())
                    ordered[name] = node?.DeepClone();
                WriteAtomically(zoo.Manifest, ordered.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
        }
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

    static void WriteAtomically(string path, string text) => OutputLocations.WriteAtomically(path, text);
}
