using System.Collections.Concurrent;
using TorchSharp;
using WeakToStrong.Evaluation;
using WeakToStrong.Experiments;
using WeakToStrong.Models;
using WeakToStrong.Models.Safetensors;
using WeakToStrong.Search;
using WeakToStrong.Tests.Cli;
using WeakToStrong.Tests.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Models;

/// <summary>
/// Every path the paper's runs take, in bfloat16 and in float16 on CPU, against the same weights in float32:
/// log-probabilities, generation, the three reward heads, every search method, every trainer and a `wts run`.
/// Tolerances (absolute, per dtype; bfloat16 keeps 8 significant bits, float16 11) are the constants below;
/// each test prints the deviation it measured.
/// </summary>
public class ReducedPrecisionTests(TinyWorld world, ITestOutputHelper output) : IClassFixture<TinyWorld>
{
    /// <summary>Σ log p over a sequence (nats), per row of the fixtures' golden inputs.</summary>
    static double LogprobTolerance(string dtype) => dtype == "bfloat16" ? 0.5 : 0.05;
    /// <summary>
    /// A classifier's logits and rewards (a difference of two logits, or one). The tiny random DistilBERT is the
    /// loosest: an independent PyTorch forward of it in bfloat16 is also 0.1 off float32 on its golden inputs.
    /// </summary>
    static double RewardTolerance(string dtype) => dtype == "bfloat16" ? 0.5 : 0.05;
    /// <summary>A greedy token's float32 logit below float32's best logit at that step: only near-ties may flip.</summary>
    static double GreedyTieTolerance(string dtype) => dtype == "bfloat16" ? 0.25 : 0.03;
    /// <summary>The implicit value log π_tuned − log π_untuned of a search's answer of up to 8 tokens (nats).</summary>
    static double ValueTolerance(string dtype) => dtype == "bfloat16" ? 1.5 : 0.15;
    /// <summary>A training step's loss (nats per token or per pair).</summary>
    static double LossTolerance(string dtype) => dtype == "bfloat16" ? 0.008 : 0.002;
    /// <summary>|log(perplexity / float32's perplexity)|.</summary>
    static double PerplexityTolerance(string dtype) => dtype == "bfloat16" ? 1e-3 : 2e-4;

    public static TheoryData<string> DTypes => new() { "bfloat16", "float16" };

    // float32 references, computed once for both dtypes (per TinyWorld).
    static readonly ConcurrentDictionary<(string, string), IReadOnlyList<SearchOutput>> Float32Outputs = new();
    static readonly ConcurrentDictionary<string, IReadOnlyList<GenerationRecord>> Float32Runs = new();

    static ModelOptions Options(string dtype) => ModelOptions.Parse("cpu", dtype);

    void Report(string operation, string dtype, double deviation, double tolerance) =>
        output.WriteLine($"{operation,-28} {dtype,-9} max deviation {deviation:E2} (tolerance {tolerance:G2})");

    sealed record Golden(Tensor InputIds, Tensor AttentionMask);

    static Golden ReadGolden(string fixture)
    {
        using var file = SafetensorsFile.Open(RepositoryPaths.Fixture(fixture, "golden.safetensors"));
        return new Golden(file.ReadTensor("input_ids", ScalarType.Int64), file.ReadTensor("attention_mask", ScalarType.Int64));
    }

    /// <summary>Σ log p(token t | tokens before) per row over real tokens, log-softmax in float32.</summary>
    static double[] SequenceLogprobs(CausalLanguageModel model, Golden golden)
    {
        long length = golden.InputIds.shape[1];
        var logprobs = model.Forward(golden.InputIds, golden.AttentionMask).narrow(1, 0, length - 1).to(ScalarType.Float32).log_softmax(-1);
        var picked = logprobs.gather(-1, golden.InputIds.narrow(1, 1, length - 1).unsqueeze(-1)).squeeze(-1);
        var real = (golden.AttentionMask.narrow(1, 0, length - 1) * golden.AttentionMask.narrow(1, 1, length - 1)).to(ScalarType.Float32);
        return (picked * real).sum(-1).data<float>().Select(v => (double)v).ToArray();
    }

    static double MaxDeviation(IEnumerable<double> actual, IEnumerable<double> expected) =>
        actual.Zip(expected, (a, e) => Math.Abs(a - e)).DefaultIfEmpty(0).Max();

    [Theory, MemberData(nameof(DTypes))]
    public void LogprobsMatchFloat32(string dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var fixture in new[] { "gpt2-tied", "llama-gqa", "mistral", "qwen2-bias" })
        {
            var golden = ReadGolden(fixture); // left-padded rows: the masks' lowest value in this dtype is exercised
            using var reference = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
            using var reduced = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), Options(dtype));
            double deviation = MaxDeviation(SequenceLogprobs(reduced, golden), SequenceLogprobs(reference, golden));
            Report($"logprobs {fixture}", dtype, deviation, LogprobTolerance(dtype));
            Assert.True(deviation <= LogprobTolerance(dtype), $"{fixture} {dtype}: Σ logprob off by {deviation:F4} nats");
        }
    }

    [Theory, MemberData(nameof(DTypes))]
    public void GreedyGenerationPicksFloat32sBestOrANearTie(string dtype)
    {
        using var noGrad = no_grad();
        foreach (var fixture in new[] { "gpt2-tied", "llama-gqa" })
        {
            using var reference = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
            using var reduced = PretrainedModels.LoadCausalLM(RepositoryPaths.Fixture(fixture), Options(dtype));
            int[] prompt = [3, 17, 42, 8];
            var greedy = new SamplingOptions(Temperature: 0);
            var tokens = Generation.Sample(reduced, prompt, 16, greedy, [], seed: 0);
            var expected = Generation.Sample(reference, prompt, 16, greedy, [], seed: 0);
            Assert.Equal(16, tokens.Count);
            // Teacher-force the reduced-precision tokens through float32: each must be float32's best up to a near-tie.
            using var scope = NewDisposeScope();
            var ids = tensor(prompt.Concat(tokens).Select(i => (long)i).ToArray()).unsqueeze(0);
            var logits = reference.Forward(ids).squeeze(0).narrow(0, prompt.Length - 1, tokens.Count);
            var chosen = logits.gather(-1, tensor(tokens.Select(i => (long)i).ToArray()).unsqueeze(-1)).squeeze(-1);
            double deviation = (logits.max(-1).values - chosen).max().item<float>();
            int same = tokens.Zip(expected).TakeWhile(p => p.First == p.Second).Count();
            Report($"generate {fixture} ({same}/16 same)", dtype, deviation, GreedyTieTolerance(dtype));
            Assert.True(deviation <= GreedyTieTolerance(dtype), $"{fixture} {dtype}: a greedy token is {deviation:F4} below float32's best");
        }
    }

    [Theory, MemberData(nameof(DTypes))]
    public void RewardHeadsMatchFloat32(string dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var fixture in new[] { "gpt2-reward", "llama-reward", "distilbert-cls" })
        {
            var golden = ReadGolden(fixture); // padded rows (left for the decoders, right for DistilBERT)
            using var reference = PretrainedModels.LoadSequenceClassifier(RepositoryPaths.Fixture(fixture), ModelOptions.Cpu);
            using var reduced = PretrainedModels.LoadSequenceClassifier(RepositoryPaths.Fixture(fixture), Options(dtype));
            var expected = reference.Forward(golden.InputIds, golden.AttentionMask);
            var actual = reduced.Forward(golden.InputIds, golden.AttentionMask).to(ScalarType.Float32);
            Assert.Equal(ScalarType.Float32, expected.dtype);
            double deviation = (actual - expected).abs().max().item<float>();
            Report($"reward {fixture}", dtype, deviation, RewardTolerance(dtype));
            Assert.True(deviation <= RewardTolerance(dtype), $"{fixture} {dtype}: logits off by {deviation:F4}");
        }
        // Through the reward model users call, text in, score out (the DistilBERT gold of sentiment runs).
        using var gold = RewardModel.Load(RepositoryPaths.Fixture("distilbert-cls"), ModelOptions.Cpu);
        using var reducedGold = RewardModel.Load(RepositoryPaths.Fixture("distilbert-cls"), Options(dtype));
        string[] texts = ["a fine movie", "the worst film i have seen, truly awful and long"];
        double scored = MaxDeviation(reducedGold.Score(texts), gold.Score(texts));
        Report("reward distilbert text", dtype, scored, RewardTolerance(dtype));
        Assert.True(scored <= RewardTolerance(dtype), $"distilbert-cls {dtype}: reward off by {scored:F4}");
    }

    MethodModels LoadSearchModels(ModelOptions options)
    {
        PromptedModel Load(string name) => new(name, PretrainedModels.LoadCausalLM(world.Dir(name), options), HfTokenizer.Load(world.Dir(name)),
            new PromptTemplate(PromptTemplate.Placeholder));
        return new MethodModels(Load("large"), Load("tuned"), Load("untuned"));
    }

    [Theory, MemberData(nameof(DTypes))]
    public void EverySearchMethodRunsAndItsValuesMatchFloat32(string dtype)
    {
        var reference = LoadSearchModels(ModelOptions.Cpu);
        var reduced = LoadSearchModels(Options(dtype));
        var prompts = new[] { new SearchPrompt(0, "the cat"), new SearchPrompt(1, "a dog and") };
        var generation = new GenerationOptions(8, new SamplingOptions(), null, Seed: 3);
        MethodSpec[] methods =
        [
            new(MethodKind.Base), new(MethodKind.BestOfN, N: 4), new(MethodKind.Cbs, W: 2, K: 2, L: 3), new(MethodKind.Eft, Beta: 1.0),
            new(MethodKind.Cbs, W: 2, K: 2, L: 3, Guide: Guide.Likelihood),
        ];
        foreach (var method in methods)
        {
            var outputs = Methods.Run(method, reduced, generation, prompts);
            var expected = Float32Outputs.GetOrAdd((world.Root, method.Key), _ => Methods.Run(method, reference, generation, prompts));
            Assert.Equal(prompts.Length, outputs.Count);
            // The same answer valued by the reduced-precision models and by the float32 ones.
            var values = outputs.Select(o => Methods.ImplicitValueOf(method, reduced, o, [])!.Value);
            var valuesInFloat32 = outputs.Select(o => Methods.ImplicitValueOf(method, reference, o, [])!.Value);
            double deviation = MaxDeviation(values, valuesInFloat32);
            int same = outputs.Zip(expected).Count(p => p.First.Best.Text == p.Second.Best.Text);
            Report($"search {method.Key} ({same}/{prompts.Length} same)", dtype, deviation, ValueTolerance(dtype));
            Assert.True(deviation <= ValueTolerance(dtype), $"{method.Label} {dtype}: implicit value off by {deviation:F4}");
        }
    }

    static readonly string[] Corpus = Enumerable.Range(0, 20).Select(i => $"the cat number {i % 7} sat on the mat and the dog ran.").ToArray();

    /// <summary>A trainer run twice from the same float32 weights, once converted to the dtype: per-step losses compared.</summary>
    void CompareTraining<T>(string name, string dtype, Func<ModelOptions, T> create, Func<T, TrainingOptions, IReadOnlyList<TrainingStep>> train)
        where T : TorchSharp.torch.nn.Module
    {
        var options = new TrainingOptions { Steps = 4, BatchSize = 4, LearningRate = 1e-3, WarmupSteps = 1, Seed = 7 };
        using var reference = create(ModelOptions.Cpu);
        using var reduced = create(ModelOptions.Cpu);
        reduced.to(Options(dtype).DType);
        var before = reduced.parameters().First().to(ScalarType.Float32).clone();
        var losses = train(reduced, options).Select(s => s.Loss);
        var expected = train(reference, options).Select(s => s.Loss);
        double deviation = MaxDeviation(losses, expected);
        Report($"train {name}", dtype, deviation, LossTolerance(dtype));
        Assert.True(deviation <= LossTolerance(dtype), $"{name} {dtype}: a step's loss off by {deviation:F4}");
        Assert.Equal(Options(dtype).DType, reduced.parameters().First().dtype);
        Assert.True(reduced.parameters().First().to(ScalarType.Float32).ne(before).any().item<bool>(), $"{name} {dtype}: the weights did not move");
    }

    GPT2LMHeadModel LanguageModel(ModelOptions options)
    {
        var model = new GPT2LMHeadModel(ModelConfig.Gpt2(2, 32, 4, vocabSize: TinyWorld.EosOf(TinyWorld.MergesA) + 1, positions: 128), options);
        model.InitializeWeights(new Generator(11));
        return model;
    }

    SequenceClassifier Classifier(int labels)
    {
        var config = ModelConfig.Gpt2(2, 32, 4, vocabSize: TinyWorld.EosOf(TinyWorld.MergesA) + 1, positions: 128).WithClassificationHead(labels);
        var model = new GPT2ForSequenceClassification(config, ModelOptions.Cpu);
        model.InitializeWeights(new Generator(12));
        return model;
    }

    HfTokenizer Tokenizer => HfTokenizer.Load(world.Dir("large"));

    [Theory, MemberData(nameof(DTypes))]
    public void EveryTrainerMatchesFloat32(string dtype)
    {
        var tokenizer = Tokenizer;
        var demonstrations = Enumerable.Range(0, 6).Select(i => new Demonstration($"q{i}:", $" a{i}")).ToArray();
        var pairs = Enumerable.Range(0, 6).Select(i => new Preference($"review {i}:", " great", " awful")).ToArray();
        var labelled = Enumerable.Range(0, 6).Select(i => new LabelledText(i % 2 == 0 ? "a great film" : "an awful film", i % 2)).ToArray();

        CompareTraining("pretrain", dtype, LanguageModel, (m, o) => LanguageModelTraining.Pretrain(m, tokenizer, Corpus, 16, o));
        CompareTraining("sft", dtype, LanguageModel, (m, o) => LanguageModelTraining.FineTune(m, tokenizer, demonstrations, o));
        CompareTraining("dpo", dtype, LanguageModel, (m, o) =>
        {
            using var frozen = LanguageModel(ModelOptions.Cpu);
            frozen.to(m.parameters().First().dtype);
            return DirectPreferenceOptimization.Train(m, frozen, tokenizer, pairs, 0.5, o);
        });
        CompareTraining("reward bradley-terry", dtype, _ => Classifier(1), (m, o) => RewardModelTraining.BradleyTerry(m, tokenizer, pairs, o));
        CompareTraining("reward classification", dtype, _ => Classifier(2), (m, o) => RewardModelTraining.Classification(m, tokenizer, labelled, o));

        using var model = LanguageModel(ModelOptions.Cpu);
        double perplexity = LanguageModelTraining.Perplexity(model, tokenizer, Corpus[..2], 32);
        model.to(Options(dtype).DType);
        double reducedPerplexity = LanguageModelTraining.Perplexity(model, tokenizer, Corpus[..2], 32);
        Report("perplexity (log ratio)", dtype, Math.Abs(Math.Log(reducedPerplexity / perplexity)), PerplexityTolerance(dtype));
        Assert.True(Math.Abs(Math.Log(reducedPerplexity / perplexity)) <= PerplexityTolerance(dtype), $"perplexity {perplexity:F3} vs {reducedPerplexity:F3}");

        // The trainers' log-probabilities of reduced-precision logits are taken in float32.
        using var scope = NewDisposeScope();
        var batch = PaddedBatch.Build([([1, 2], [3, 4, 5])], CPU);
        var logits = randn(1, 5, 16, generator: new Generator(3)).to(Options(dtype).DType);
        var logprobs = batch.TargetLogprobs(logits);
        Assert.Equal(ScalarType.Float32, logprobs.dtype);
        Assert.Equal(batch.TargetLogprobs(logits.to(ScalarType.Float32)).item<float>(), logprobs.item<float>());
    }

    /// <summary>One weight of 1.0 in the dtype, pulled down by a constant gradient.</summary>
    sealed class OneWeight : TorchSharp.torch.nn.Module
    {
        public readonly TorchSharp.Modules.Parameter weight;

        public OneWeight(ScalarType dtype) : base(nameof(OneWeight))
        {
            weight = new TorchSharp.Modules.Parameter(ones(4, dtype: dtype));
            register_parameter("weight", weight);
        }
    }

    [Theory, MemberData(nameof(DTypes))]
    public void SmallUpdatesSurviveInMasterWeights(string dtype)
    {
        // The gradient, 1e-8 per weight, equals AdamW's ε, so each step moves a weight by lr/2 = 5e-5 and 200 steps
        // move it from 1 to 0.99. One step alone is below half the dtype's spacing just below 1 (2⁻⁹ in bfloat16,
        // 2⁻¹² in float16): updating the weights in their own dtype would leave them at 1. The gradient is also
        // below half float16's smallest subnormal (2⁻²⁵): only loss scaling keeps it.
        using var model = new OneWeight(Options(dtype).DType);
        using var gradientScale = tensor(1e-8f);
        var options = new TrainingOptions { Steps = 200, LearningRate = 1e-4, WarmupSteps = 0, FinalLearningRateFraction = 1, WeightDecay = 0, MaxGradNorm = 1e6 };
        TrainingLoop.Run(model, options, _ => (model.weight.to(ScalarType.Float32) * gradientScale).sum());
        var weights = model.weight.to(ScalarType.Float32).data<float>().ToArray();
        Report("master weights 1 → 0.99", dtype, Math.Abs(weights[0] - 0.99), 0.004);
        Assert.Equal(Options(dtype).DType, model.weight.dtype);
        Assert.All(weights, w => Assert.InRange(w, 0.99 - 0.004, 0.99 + 0.004)); // within a bfloat16 spacing below 1
    }

    [Fact]
    public void TheFloat16LossScaleGrowsPerStepNotPerPart()
    {
        // A step back-propagated in three parts is one clean step: with growth every 2 steps, the scale doubles after
        // the second step (counting parts, it would double after the first and again during the second).
        using var model = new OneWeight(ScalarType.Float16);
        using var master = new MasterWeights([model.weight], growthInterval: 2);
        double initial = master.LossScale;
        for (int step = 1; step <= 2; step++)
        {
            for (int part = 0; part < 3; part++)
                master.Backward((model.weight.to(ScalarType.Float32) * 1e-3f).sum());
            master.EndStep();
            Assert.Equal(step == 2 ? initial * 2 : initial, master.LossScale);
        }
    }

    [Theory, MemberData(nameof(DTypes))]
    public void TheCommandsRunInTheDtype(string dtype)
    {
        var reward = Wts.Run("reward", "--model", RepositoryPaths.Fixture("distilbert-cls"), "--text", "a fine movie", "--dtype", dtype);
        Assert.True(reward.ExitCode == 0, reward.Stderr);
        Assert.Contains("reward", reward.Stdout);

        string corpus = Path.Combine(world.Root, $"corpus-{dtype}.jsonl");
        File.WriteAllLines(corpus, Corpus.Select(text => $"{{\"text\": \"{text}\"}}"));
        var train = Wts.Run("train", "pretrain", "--tokenizer", world.Dir("large"), "--corpus", corpus, "--steps", "3", "--batch-size", "2",
            "--block-size", "16", "--hidden", "32", "--out", Path.Combine(world.Root, $"pretrained-{dtype}"), "--dtype", dtype);
        Assert.True(train.ExitCode == 0, train.Stderr);
        Assert.Contains("step 3/3", train.Stderr);
    }

    [Theory, MemberData(nameof(DTypes))]
    public void AnExperimentRunsInTheDtypeAndItsScoresMatchFloat32(string dtype)
    {
        string config = Path.Combine(world.Root, "reduced-precision.yaml");
        File.WriteAllText(config, $$"""
            name: reduced-precision
            task: sentiment
            dataset: {prompts: 2}
            models:
              bases: [{name: big, path: {{world.Dir("large")}}}]
              tuned: {{world.Dir("tuned")}}
              untuned: {{world.Dir("untuned")}}
              gold: {{RepositoryPaths.Fixture("distilbert-cls")}}
            methods:
              - base
              - {method: bon, n: 2}
              - {method: cbs, w: 2, k: 2, l: 2}
              - {method: eft, beta: 1.0}
            generation: {max_new_tokens: 4, temperature: 0}
            """);
        IReadOnlyList<GenerationRecord> Run(string runDtype)
        {
            string directory = Path.Combine(world.Root, $"run-{runDtype}");
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            var result = Wts.Run("run", config, "--output", directory, "--dtype", runDtype);
            Assert.True(result.ExitCode == 0, result.Stderr);
            return GenerationLog.Read(new RunDirectory(directory).Generations);
        }
        var reduced = Run(dtype).ToDictionary(r => r.Key);
        var reference = Float32Runs.GetOrAdd(world.Root, _ => Run("float32"));
        Assert.Equal(reference.Count, reduced.Count);
        // Greedy decoding, so most responses are the same in both precisions (a near-tie may flip a token);
        // where they are, the gold reward and implicit value must agree.
        var same = reference.Where(r => reduced[r.Key].Response == r.Response).ToArray();
        double gold = MaxDeviation(same.Select(r => reduced[r.Key].Gold), same.Select(r => r.Gold));
        double value = MaxDeviation(same.Select(r => reduced[r.Key].ImplicitValue ?? 0), same.Select(r => r.ImplicitValue ?? 0));
        Report($"wts run gold ({same.Length}/{reference.Count} same)", dtype, gold, RewardTolerance(dtype));
        Report("wts run implicit value", dtype, value, ValueTolerance(dtype));
        Assert.NotEmpty(same);
        Assert.True(gold <= RewardTolerance(dtype), $"{dtype}: gold reward off by {gold:F4}");
        Assert.True(value <= ValueTolerance(dtype), $"{dtype}: implicit value off by {value:F4}");
    }
}
