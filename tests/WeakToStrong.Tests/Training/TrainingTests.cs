using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tests.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.Training;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Training;

public class TrainingTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    HfTokenizer Tokenizer => HfTokenizer.Load(world.Dir("large"));

    static GPT2LMHeadModel NewLanguageModel(int seed)
    {
        var model = new GPT2LMHeadModel(ModelConfig.Gpt2(2, 32, 4, vocabSize: TinyWorld.EosOf(TinyWorld.MergesA) + 1, positions: 128), ModelOptions.Cpu);
        model.InitializeWeights(new Generator((ulong)seed));
        return model;
    }

    static readonly string[] Corpus = Enumerable.Range(0, 40).Select(i => $"the cat number {i % 7} sat on the mat and the dog ran.").ToArray();

    [Fact]
    public void PretrainingLowersPerplexityAndLogsEveryStep()
    {
        using var model = NewLanguageModel(1);
        string log = Path.Combine(world.Root, "pretrain-log.csv");
        double before = LanguageModelTraining.Perplexity(model, Tokenizer, Corpus[..5], 64);

        var steps = LanguageModelTraining.Pretrain(model, Tokenizer, Corpus, 32,
            new TrainingOptions { Steps = 60, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 5, LogCsv = log });

        double after = LanguageModelTraining.Perplexity(model, Tokenizer, Corpus[..5], 64);
        Assert.True(after < before / 3, $"perplexity {before:F1} -> {after:F1}");
        Assert.Equal(61, File.ReadAllLines(log).Length); // header + one row per step
        Assert.True(steps[^1].Loss < steps[0].Loss);
    }

    [Fact]
    public void TrainingIsDeterministicGivenTheSeed()
    {
        var options = new TrainingOptions { Steps = 8, BatchSize = 4, LearningRate = 1e-3, Seed = 5 };
        using var a = NewLanguageModel(2);
        using var b = NewLanguageModel(2);
        var first = LanguageModelTraining.Pretrain(a, Tokenizer, Corpus, 16, options).Select(s => s.Loss);
        var second = LanguageModelTraining.Pretrain(b, Tokenizer, Corpus, 16, options).Select(s => s.Loss);
        Assert.Equal(first, second);
    }

    [Fact]
    public void FineTuningTeachesTheResponseOnly()
    {
        using var model = NewLanguageModel(3);
        var examples = Enumerable.Range(0, 6).Select(i => new Demonstration($"q{i}:", $" a{i}")).ToArray();

        LanguageModelTraining.FineTune(model, Tokenizer, examples, new TrainingOptions { Steps = 300, BatchSize = 6, LearningRate = 1e-2, WarmupSteps = 10 });

        var prompted = new PromptedModel("sft", model, Tokenizer, PromptTemplate.Raw);
        var outputs = new ChunkLevelBeamSearch(prompted, null, BeamSearchOptions.Sampling,
            new GenerationOptions(4, new SamplingOptions(Temperature: 0), null, 0)).Run(examples.Select((e, i) => new SearchPrompt(i, e.Prompt)).ToArray());
        for (int i = 0; i < examples.Length; i++)
        {
            Assert.Equal(examples[i].Response, outputs[i].Best.Text);
            Assert.Equal(FinishReason.Eos, outputs[i].Best.Finish); // the EOS after the response was learned too
        }
    }

    [Fact]
    public void DpoRaisesTheChosenOverTheRejectedRelativeToTheReference()
    {
        using var policy = NewLanguageModel(4);
        using var reference = NewLanguageModel(4);
        var pairs = Enumerable.Range(0, 8).Select(i => new Preference($"review {i}:", " great", " awful")).ToArray();
        double Margin(CausalLanguageModel m) =>
            Logprob(m, "review 9:", " great") - Logprob(m, "review 9:", " awful"); // a held-out prompt

        double before = Margin(policy);
        var steps = DirectPreferenceOptimization.Train(policy, reference, Tokenizer, pairs, beta: 0.5,
            new TrainingOptions { Steps = 40, BatchSize = 4, LearningRate = 3e-3, WarmupSteps = 2 });

        Assert.Equal(Math.Log(2), steps[0].Loss, 1e-4); // policy = reference at the start: −log σ(0)
        Assert.True(Margin(policy) > before + 2, $"margin {before:F2} -> {Margin(policy):F2}");
        Assert.Equal(before, Margin(reference), 1e-5); // the reference stays frozen
    }

    double Logprob(CausalLanguageModel model, string prompt, string response)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var batch = PaddedBatch.Build([(Tokenizer.Encode(prompt), Tokenizer.Encode(response))], CPU);
        return batch.TargetLogprobs(model.Forward(batch.InputIds, batch.AttentionMask)).item<float>();
    }

    [Fact]
    public void RewardModelsLearnPreferencesAndLabels()
    {
        var config = ModelConfig.Gpt2(2, 32, 4, vocabSize: TinyWorld.EosOf(TinyWorld.MergesA) + 1, positions: 128)
            with { Head = HeadKind.SequenceClassification, NumLabels = 1 };
        using var bradleyTerry = new GPT2ForSequenceClassification(config, ModelOptions.Cpu);
        bradleyTerry.InitializeWeights(new Generator(6));
        string[] good = ["a fine day", "a good film", "nice work", "great fun"], bad = ["a dull day", "a bad film", "poor work", "no fun"];
        var pairs = good.Zip(bad).Select(p => new Preference("text: ", p.First, p.Second)).ToArray();
        RewardModelTraining.BradleyTerry(bradleyTerry, Tokenizer, pairs, new TrainingOptions { Steps = 60, BatchSize = 4, LearningRate = 3e-3, WarmupSteps = 5 });
        var rewardModel = new WeakToStrong.Evaluation.RewardModel(bradleyTerry, Tokenizer, ModelOptions.Cpu);
        var scores = rewardModel.Score([.. good.Select(g => "text: " + g), .. bad.Select(b => "text: " + b)]);
        Assert.True(scores[..4].Min() > scores[4..].Max(), string.Join(", ", scores.Select(s => s.ToString("F2"))));

        using var classifier = new GPT2ForSequenceClassification(config with { NumLabels = 2 }, ModelOptions.Cpu);
        classifier.InitializeWeights(new Generator(7));
        var labelled = good.Select(t => new LabelledText(t, 1)).Concat(bad.Select(t => new LabelledText(t, 0))).ToArray();
        RewardModelTraining.Classification(classifier, Tokenizer, labelled, new TrainingOptions { Steps = 60, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 5 });
        var logits = new WeakToStrong.Evaluation.RewardModel(classifier, Tokenizer, ModelOptions.Cpu).Logits(labelled.Select(l => l.Text).ToArray());
        Assert.All(labelled.Zip(logits), p => Assert.Equal(p.First.Label, p.Second[1] > p.Second[0] ? 1 : 0));
    }

    [Fact]
    public void BadTrainingSettingsAreRefused()
    {
        using var model = NewLanguageModel(8);
        Assert.Throws<InvalidInputException>(() => LanguageModelTraining.Pretrain(model, Tokenizer, Corpus, 16, new TrainingOptions { Steps = 0 }));
        Assert.Throws<InvalidInputException>(() => LanguageModelTraining.Pretrain(model, Tokenizer, ["x"], 64, new TrainingOptions()));
        Assert.Throws<InvalidInputException>(() => DirectPreferenceOptimization.Train(model, model, Tokenizer, [new Preference("a", "b", "c")], 0, new TrainingOptions()));
    }
}
