using System.CommandLine;
using WeakToStrong.Models;
using WeakToStrong.Training;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Cli.Commands;

/// <summary>
/// `wts train pretrain|sft|dpo|rm`: the zoo's trainers on any HF-format model and JSONL data (the schema of
/// datasets/README.md). Output is a Hugging Face directory with the tokenizer copied in.
/// </summary>
internal static class TrainCommand
{
    sealed class Budget
    {
        public readonly Option<int> Steps = new("--steps") { DefaultValueFactory = _ => 200 };
        public readonly Option<int> BatchSize = new("--batch-size") { DefaultValueFactory = _ => 16 };
        public readonly Option<double> LearningRate = new("--lr") { DefaultValueFactory = _ => 1e-3 };
        public readonly Option<int> Warmup = new("--warmup") { DefaultValueFactory = _ => 20 };
        public readonly Option<ulong> Seed = new("--seed") { DefaultValueFactory = _ => 0UL };
        public readonly Option<string> Out = new("--out") { Description = "output model directory; must not exist or be empty (an existing one is never replaced)", Required = true };
        public readonly Option<double?> Epochs = new("--epochs")
        {
            Description = "passes over the data instead of --steps: steps = ⌈epochs × examples / batch size⌉ (batches are drawn at random)",
        };
        public readonly RuntimeOptions Runtime = new();

        /// <param name="overExamples">the command trains on a list of examples, so --epochs can stand for --steps</param>
        /// <summary>--out and its training log beside it must be writable: checked before the training budget is spent.</summary>
        public void CheckOut(ParseResult result)
        {
            string output = result.GetValue(Out)!;
            OutputLocations.CheckFolder(output, "--out");
            OutputLocations.CheckFolder(output + ".logs", "--out");
        }

        public Command AddTo(Command command, bool overExamples = false)
        {
            foreach (var option in new Option[] { Steps, BatchSize, LearningRate, Warmup, Seed, Out, ConfigFileArguments.Option() }) command.Options.Add(option);
            if (overExamples) command.Options.Add(Epochs);
            Runtime.AddTo(command);
            return command;
        }

        /// <param name="examples">how many examples the data holds (for --epochs)</param>
        public TrainingOptions Options(ParseResult result, int? examples = null)
        {
            string output = result.GetValue(Out)!;
            string logCsv = Path.Combine(output + ".logs", "loss.csv");
            // Checked before training: the model and its loss log are written only where nothing is.
            if (File.Exists(output) || OutputPaths.Entries(output).Count > 0)
                throw new InvalidInputException($"--out {output}: exists and is not empty; choose a new --out or delete it first (nothing is ever replaced)");
            if (Path.Exists(logCsv))
                throw new InvalidInputException($"--out {output}: its loss log {logCsv} exists; choose a new --out or delete it first (nothing is ever replaced)");
            int steps = result.GetValue(Steps), batchSize = result.GetValue(BatchSize);
            if (examples is int count && result.GetValue(Epochs) is double epochs)
            {
                if (result.GetResult(Steps) is { Implicit: false }) throw new InvalidInputException("give --steps or --epochs, not both");
                if (!(epochs > 0)) throw new InvalidInputException($"--epochs must be positive, got {epochs}");
                if (batchSize <= 0) throw new InvalidInputException($"batch size must be positive, got {batchSize}");
                steps = (int)Math.Max(1, Math.Ceiling(epochs * count / batchSize));
            }
            return new()
            {
                Steps = steps, BatchSize = batchSize, LearningRate = result.GetValue(LearningRate),
                WarmupSteps = result.GetValue(Warmup), Seed = result.GetValue(Seed),
                LogCsv = logCsv,
            };
        }

        public static void Report(TrainingStep step, int total)
        {
            if ((step.Step + 1) % Math.Max(1, total / 10) == 0 || step.Step + 1 == total)
                Console.Error.WriteLine($"step {step.Step + 1}/{total}  loss {step.Loss:F4}  lr {step.LearningRate:E2}  {step.Seconds:F0} s");
        }
    }

    public static Command Create() => new("train", "Pretrain, fine-tune, DPO or reward-model training on JSONL data.")
        { Pretrain(), FineTune(), Dpo(), RewardModel() };

    static Command Pretrain()
    {
        var budget = new Budget();
        var modelType = new Option<string>("--model-type") { Description = "gpt2 or llama", DefaultValueFactory = _ => "gpt2" };
        modelType.AcceptOnlyFromAmong("gpt2", "llama");
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 2 };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => 64 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "llama: key/value heads (default: --heads)" };
        var positions = new Option<int>("--positions") { DefaultValueFactory = _ => 256 };
        var blockSize = new Option<int>("--block-size") { DefaultValueFactory = _ => 128 };
        var tokenizerDir = new Option<string>("--tokenizer") { Description = "tokenizer directory", Required = true };
        var corpus = new Option<string>("--corpus") { Description = "JSONL of {\"text\": …} records", Required = true };
        var command = budget.AddTo(new Command("pretrain", "Causal-LM pretraining of a new GPT-2 or Llama model from scratch.")
            { modelType, layers, hidden, heads, kvHeads, positions, blockSize, tokenizerDir, corpus });
        command.SetAction(result => Cli.Run(() =>
        {
            budget.CheckOut(result);
            var options = budget.Runtime.Apply(result);
            var tokenizer = Cli.LoadTokenizer(result.GetValue(tokenizerDir)!);
            var texts = TaskDatasets.ReadTexts(result.GetValue(corpus)!);
            int eos = tokenizer.EosTokenId ?? throw new InvalidInputException($"{result.GetValue(tokenizerDir)}: the tokenizer has no EOS token");
            int l = result.GetValue(layers), h = result.GetValue(hidden), n = result.GetValue(heads), p = result.GetValue(positions);
            if (l <= 0 || h <= 0 || n <= 0 || h % n != 0) throw new InvalidInputException("--layers, --hidden, --heads must be positive and --heads must divide --hidden");
            var config = (result.GetValue(modelType) == "llama"
                ? ModelConfig.Llama(l, h, n, result.GetValue(kvHeads) ?? n, h * 8 / 3 / 8 * 8, tokenizer.VocabSize, p)
                : ModelConfig.Gpt2(l, h, n, tokenizer.VocabSize, p)) with { BosTokenId = eos, EosTokenIds = [eos] };
            var training = budget.Options(result);
            var model = ModelFactory.NewCausalLM(config, options);
            model.InitializeWeights(new TorchSharp.torch.Generator(training.Seed));
            LanguageModelTraining.Pretrain(model, tokenizer, texts, result.GetValue(blockSize), training, s => Budget.Report(s, training.Steps));
            PretrainedModels.Save(model, config, result.GetValue(budget.Out)!, result.GetValue(tokenizerDir));
            return 0;
        }));
        return command;
    }

    static Command FineTune()
    {
        var budget = new Budget();
        var model = new Option<string>("--model") { Description = "causal LM to fine-tune (directory or hub id)", Required = true };
        var data = new Option<string>("--data") { Description = "JSONL prompt records; the response is their \"reference\"", Required = true };
        var command = budget.AddTo(new Command("sft", "Supervised fine-tuning: loss on the response and its EOS.") { model, data }, overExamples: true);
        command.SetAction(result => Cli.Run(() =>
        {
            budget.CheckOut(result);
            var options = budget.Runtime.Apply(result);
            string reference = result.GetValue(model)!;
            var examples = TaskDatasets.ReadPrompts(result.GetValue(data)!)
                .Select(p => new Demonstration(p.Prompt, p.Reference ?? throw new InvalidInputException($"{result.GetValue(data)}: record {p.Id} has no reference response")))
                .ToArray();
            using var lm = PretrainedModels.LoadCausalLM(reference, options, Cli.Warn);
            var training = budget.Options(result, examples.Length);
            LanguageModelTraining.FineTune(lm, Cli.LoadTokenizerFor(reference, lm.Config), examples, training, s => Budget.Report(s, training.Steps));
            PretrainedModels.Save(lm, lm.Config, result.GetValue(budget.Out)!, ModelLocator.Resolve(reference));
            return 0;
        }));
        return command;
    }

    static Command Dpo()
    {
        var budget = new Budget();
        var model = new Option<string>("--model") { Description = "policy to start from, also the frozen reference unless --reference", Required = true };
        var referenceModel = new Option<string?>("--reference") { Description = "frozen reference model (default: --model)" };
        var data = new Option<string>("--data") { Description = "JSONL of {\"prompt\", \"chosen\", \"rejected\"}", Required = true };
        var beta = new Option<double>("--beta") { DefaultValueFactory = _ => 0.1 };
        var command = budget.AddTo(new Command("dpo", "Direct preference optimization against a frozen reference.") { model, referenceModel, data, beta }, overExamples: true);
        command.SetAction(result => Cli.Run(() =>
        {
            budget.CheckOut(result);
            var options = budget.Runtime.Apply(result);
            string start = result.GetValue(model)!;
            var pairs = TaskDatasets.ReadPairs(result.GetValue(data)!).Select(p => new Preference(p.Prompt, p.Chosen, p.Rejected)).ToArray();
            using var policy = PretrainedModels.LoadCausalLM(start, options, Cli.Warn);
            using var frozen = PretrainedModels.LoadCausalLM(result.GetValue(referenceModel) ?? start, options, Cli.Warn);
            var training = budget.Options(result, pairs.Length);
            var tokenizer = Cli.LoadTokenizerFor(start, policy.Config);
            tokenizer.RequireIdsWithin(frozen.Config);
            DirectPreferenceOptimization.Train(policy, frozen, tokenizer, pairs, result.GetValue(beta), training, s => Budget.Report(s, training.Steps));
            PretrainedModels.Save(policy, policy.Config, result.GetValue(budget.Out)!, ModelLocator.Resolve(start));
            return 0;
        }));
        return command;
    }

    static Command RewardModel()
    {
        var budget = new Budget();
        var backbone = new Option<string>("--model") { Description = "causal LM whose backbone becomes the reward model (its LM head is dropped)", Required = true };
        var pairs = new Option<string?>("--pairs") { Description = "JSONL preference pairs: a Bradley–Terry reward model (one logit)" };
        var labelled = new Option<string?>("--labelled") { Description = "JSONL {\"text\", \"label\": positive|negative}: a two-label classifier" };
        var command = budget.AddTo(new Command("rm", "Reward model from a pretrained backbone: Bradley–Terry on pairs, or classification.") { backbone, pairs, labelled }, overExamples: true);
        command.SetAction(result => Cli.Run(() =>
        {
            if ((result.GetValue(pairs) is null) == (result.GetValue(labelled) is null)) throw new InvalidInputException("give exactly one of --pairs and --labelled");
            budget.CheckOut(result);
            var options = budget.Runtime.Apply(result);
            string reference = result.GetValue(backbone)!;
            string directory = ModelLocator.Resolve(reference);
            var lmConfig = ModelConfig.Load(Path.Combine(directory, "config.json"));
            var config = result.GetValue(pairs) is not null ? lmConfig.WithClassificationHead(1) : lmConfig.WithClassificationHead(2, ["NEGATIVE", "POSITIVE"]);
            var preferences = result.GetValue(pairs) is string pairFile
                ? TaskDatasets.ReadPairs(pairFile).Select(p => new Preference(p.Prompt, p.Chosen, p.Rejected)).ToArray() : null;
            var classified = preferences is null
                ? TaskDatasets.ReadClassifierExamples(result.GetValue(labelled)!).Select(e => new LabelledText(e.Text, e.Label == SentimentTask.PositiveLabel ? 1 : 0)).ToArray() : null;
            var model = ModelFactory.NewSequenceClassifier(config, options);
            var training = budget.Options(result, preferences?.Length ?? classified!.Length);
            model.InitializeWeights(new TorchSharp.torch.Generator(training.Seed)); // the score head; the backbone is loaded next
            PretrainedModels.LoadWeights(model, directory, PretrainedModels.BackbonePrefix(config), options, Cli.Warn, allowMissing: name => name.StartsWith("score.", StringComparison.Ordinal));
            var tokenizer = Cli.LoadTokenizerFor(reference, config);
            if (preferences is not null) RewardModelTraining.BradleyTerry(model, tokenizer, preferences, training, s => Budget.Report(s, training.Steps));
            else RewardModelTraining.Classification(model, tokenizer, classified!, training, s => Budget.Report(s, training.Steps));
            PretrainedModels.Save(model, config, result.GetValue(budget.Out)!, directory);
            return 0;
        }));
        return command;
    }
}
