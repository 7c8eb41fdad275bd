using WeakToStrong.Models;

namespace WeakToStrong.World;

/// <summary>One model of the zoo: its shape (vocabulary filled in once the tokenizer exists) and its training budget.</summary>
public sealed record ZooModelPlan(string Name, Func<int, ModelConfig> Shape, int Steps, int BatchSize, double LearningRate);

/// <summary>
/// What `wts zoo build` trains for one task. The large base models grow in depth and width (analogs of the
/// paper's several base models; GPT-2 and Llama architectures both appear); the small pair is one narrow
/// layer, too weak for the task's capability but able to carry its preference after DPO.
/// </summary>
public sealed record ZooPlan
{
    public required string Task { get; init; }
    public required bool Quick { get; init; }
    public required int TokenizerVocabulary { get; init; }
    public required int CorpusDocuments { get; init; }
    public required int Positions { get; init; }
    public required int BlockSize { get; init; }
    public required IReadOnlyList<ZooModelPlan> Bases { get; init; }
    public required ZooModelPlan Small { get; init; }
    /// <summary>The gold evaluator's backbone (null where the gold judge is a rule).</summary>
    public required ZooModelPlan? Gold { get; init; }
    public required int GoldExamples { get; init; }
    /// <summary>Held-out examples (pairs) the gold evaluator's accuracy is measured on.</summary>
    public required int GoldHeldOut { get; init; }
    /// <summary>Preference pairs the small tuned model is DPO'd on (the task's own pairs, labelled by its preference or gold rule).</summary>
    public required int PreferencePairs { get; init; }
    public required int DpoSteps { get; init; }
    public required double DpoBeta { get; init; }
    public required double DpoLearningRate { get; init; }
    /// <summary>Response length in the sanity checks (`wts zoo check`).</summary>
    public required int MaxNewTokens { get; init; }

    public static IReadOnlyList<string> Tasks { get; } = ["sentiment", "summarization", "instruction"];

    public static ZooPlan For(string task, bool quick)
    {
        if (!Tasks.Contains(task)) throw new InvalidInputException($"--task: expected one of {string.Join(", ", Tasks)}, got \"{task}\"");
        // Quick: an eighth of the tokens, in quarter-size batches, so four times the updates per token: tiny models
        // learn more from many small steps than from a few large ones (measured: the quick worlds show the paper's
        // shape this way, and not at full batch with an eighth of the steps).
        int Steps(int full) => quick ? Math.Max(20, full / 2) : full;
        int Batch(int full) => quick ? Math.Max(2, full / 4) : full;
        // The gold classifiers learn their rule fast at full batch. The quick sentiment classifier takes a quarter of the
        // full steps (an eighth before length-bucketed batches; at an eighth the bucketed one rated the small tuned model's
        // samples above CBS's), the quick summarization RM an eighth.
        int GoldSteps(int full, int quickSteps) => quick ? quickSteps : full;
        int positions = task == "summarization" ? 320 : 160;
        int baseStepFactor = task == "instruction" && !quick ? 3 : 1, baseBatchFactor = task == "instruction" ? 2 : 1;
        ModelConfig Gpt2(int layers, int hidden, int heads, int vocab) => ModelConfig.Gpt2(layers, hidden, heads, vocab, positions);
        ModelConfig Llama(int layers, int hidden, int heads, int kvHeads, int vocab) =>
            ModelConfig.Llama(layers, hidden, heads, kvHeads, intermediate: hidden * 8 / 3 / 8 * 8, vocab, positions);
        return new ZooPlan
        {
            Task = task,
            Quick = quick,
            TokenizerVocabulary = quick ? 768 : 1024,
            CorpusDocuments = quick ? 6000 : 24000,
            Positions = positions,
            BlockSize = task switch { "summarization" => 256, "instruction" => 64, _ => 128 },
            // Instruction documents are short and their capability (reading the instruction) takes more tokens to
            // learn: shorter blocks, more steps, the same compute per step.
            Bases =
            [
                new("base-small", v => Gpt2(2, 64, 4, v), Steps(300 * baseStepFactor), Batch(16 * baseBatchFactor), 3e-3),
                new("base-medium", v => Llama(3, 96, 4, 2, v), Steps(400 * baseStepFactor), Batch(16 * baseBatchFactor), 3e-3),
                new("base-large", v => Llama(4, 160, 4, 2, v), Steps(500 * baseStepFactor), Batch(16 * baseBatchFactor), 2e-3),
            ],
            // The size of the smallest base: fluent in places, but without the larger models' coherence.
            // Cheap, so the quick one gets 40% of the full tokens: it must be fluent enough for DPO to tune.
            Small = new("small-untuned", v => Gpt2(2, 64, 4, v), quick ? 480 : 300, Batch(16), 3e-3),
            // The gold evaluator is the strongest reader in the world (distilbert-imdb's role): it must not be fooled by word salad.
            // Summarization pairs are long (post + summary) but their rule is learned fast: fewer, smaller batches.
            Gold = task switch
            {
                "instruction" => null,
                "summarization" => new("gold", v => Llama(4, 128, 4, 2, v), GoldSteps(300, 37), 16, 1e-3),
                _ => new("gold", v => Llama(4, 128, 4, 2, v), GoldSteps(1200, 300), 32, 1e-3),
            },
            GoldExamples = quick ? 3000 : 12000,
            GoldHeldOut = quick ? 400 : 1000,
            PreferencePairs = quick ? 500 : 2000,
            // Quick DPO has a quarter of the pairs, so it takes larger steps (β 0.1 as in the paper's DPO runs, a higher
            // learning rate); the instruction format takes more passes over them.
            DpoSteps = quick && task == "instruction" ? 240 : 120,
            DpoBeta = quick ? 0.1 : 0.5,
            DpoLearningRate = quick ? 1e-3 : 3e-4,
            MaxNewTokens = task switch { "sentiment" => 64, "summarization" => 40, _ => 24 },
        };
    }
}
