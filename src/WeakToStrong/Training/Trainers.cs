using TorchSharp;
using WeakToStrong.Models;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WeakToStrong.Training;

/// <summary>A prompt and a response (SFT), or a prompt with a preferred and a dispreferred response (DPO, reward models).</summary>
public sealed record Demonstration(string Prompt, string Response);
public sealed record Preference(string Prompt, string Chosen, string Rejected);
public sealed record LabelledText(string Text, int Label);

/// <summary>Causal-LM pretraining and supervised fine-tuning.</summary>
public static class LanguageModelTraining
{
    /// <summary>
    /// Next-token prediction on the corpus: every text followed by EOS, concatenated, cut into random windows
    /// of <paramref name="blockSize"/> + 1 tokens (the generator seeded by options.Seed picks them).
    /// </summary>
    public static IReadOnlyList<TrainingStep> Pretrain(CausalLanguageModel model, HfTokenizer tokenizer, IReadOnlyList<string> texts,
        int blockSize, TrainingOptions options, Action<TrainingStep>? progress = null) =>
        Pretrain(model, TokenStream(tokenizer, texts, EosOf(tokenizer, model)), blockSize, options, progress);

    /// <summary>Pretraining on a <see cref="TokenStream"/> made once (the zoo trains several models of a task on one).</summary>
    public static IReadOnlyList<TrainingStep> Pretrain(CausalLanguageModel model, int[] tokenStream, int blockSize, TrainingOptions options,
        Action<TrainingStep>? progress = null)
    {
        if (tokenStream.Length < blockSize + 2) throw new InvalidInputException($"the corpus has {tokenStream.Length} tokens, fewer than one block of {blockSize + 1}");
        if (blockSize > model.Config.MaxPositionEmbeddings) throw new InvalidInputException($"block size {blockSize} exceeds the model's {model.Config.MaxPositionEmbeddings} positions");
        var device = model.InputEmbeddings.device;
        using var corpus = tensor(tokenStream, device: device); // int32 (a full summarization corpus is 10 M tokens); windows are widened as they are cut
        using var generator = new Generator(options.Seed); // CPU: seeded draws happen on the host (HostRandom)
        var windowOffsets = Scalars.Arange(0, blockSize + 1, device).unsqueeze(0);
        int partRows = Math.Max(1, TrainingLoop.MaxPartTokens / blockSize);
        return TrainingLoop.Run(model, options, _ =>
        {
            var starts = HostRandom.Randint(0, tokenStream.Length - blockSize - 1, [options.BatchSize, 1], generator, device);
            var windows = corpus.index_select(0, starts.add(windowOffsets, Scalars.One).flatten()).view(options.BatchSize, blockSize + 1).to(ScalarType.Int64);
            return Enumerable.Range(0, (options.BatchSize + partRows - 1) / partRows).Select(part =>
            {
                int first = part * partRows, rows = Math.Min(partRows, options.BatchSize - first);
                var window = windows.narrow(0, first, rows);
                var logits = model.Forward(window.narrow(1, 0, blockSize)).to(ScalarType.Float32); // losses in float32 at any model dtype
                // Each part's mean, weighted by its share of the batch: the parts add up to the batch's mean (one part: times exactly 1).
                using var share = ((double)rows / options.BatchSize).ToScalar();
                return F.cross_entropy(logits.reshape(-1, logits.shape[^1]), window.narrow(1, 1, blockSize).reshape(-1)).mul(share);
            });
        }, progress);
    }

    /// <summary>Every text's tokens followed by <paramref name="eos"/>, concatenated: what <see cref="Pretrain(CausalLanguageModel, int[], int, TrainingOptions, Action{TrainingStep}?)"/> cuts windows from.</summary>
    public static int[] TokenStream(HfTokenizer tokenizer, IReadOnlyList<string> texts, int eos)
    {
        var encoded = texts.Select(text => tokenizer.Encode(text)).ToArray();
        var stream = new int[encoded.Sum(ids => (long)ids.Count + 1)];
        int at = 0;
        foreach (var ids in encoded)
        {
            for (int i = 0; i < ids.Count; i++) stream[at++] = ids[i];
            stream[at++] = eos;
        }
        return stream;
    }

    /// <summary>SFT: the loss covers the response and the EOS that ends it, not the prompt.</summary>
    public static IReadOnlyList<TrainingStep> FineTune(CausalLanguageModel model, HfTokenizer tokenizer, IReadOnlyList<Demonstration> examples,
        TrainingOptions options, Action<TrainingStep>? progress = null)
    {
        var encoded = Encode(model, tokenizer, examples.Select(e => (e.Prompt, e.Response)).ToArray());
        var device = model.InputEmbeddings.device;
        using var generator = new Generator(options.Seed); // CPU: seeded draws happen on the host (HostRandom)
        return TrainingLoop.Run(model, options, _ =>
        {
            var batch = PaddedBatch.Build(SampleRows(encoded, options.BatchSize, generator), device);
            var logprobs = batch.TargetLogprobs(model.Forward(batch.InputIds, batch.AttentionMask));
            return -logprobs.sum() / batch.TargetWeights.narrow(1, 1, batch.TargetWeights.shape[1] - 1).sum();
        }, progress);
    }

    /// <summary>Per-token perplexity of held-out texts (each followed by EOS), in windows of the model's context.</summary>
    /// <param name="progress">hears the number of texts done after each</param>
    public static double Perplexity(CausalLanguageModel model, HfTokenizer tokenizer, IReadOnlyList<string> texts, int blockSize, Action<long>? progress = null)
    {
        int eos = EosOf(tokenizer, model);
        var device = model.InputEmbeddings.device;
        double totalLogprob = 0;
        long tokens = 0, done = 0;
        using var noGrad = no_grad();
        foreach (var text in texts)
        {
            var ids = tokenizer.Encode(text).Prepend(eos).Append(eos).ToArray(); // EOS before: the first token is predicted too
            for (int start = 0; start + 1 < ids.Length; start += blockSize)
            {
                using var scope = NewDisposeScope();
                int length = Math.Min(blockSize + 1, ids.Length - start);
                var window = ids.AsSpan(start, length).ToArray();
                var batch = PaddedBatch.Build([([window[0]], window[1..])], device);
                totalLogprob += batch.TargetLogprobs(model.Forward(batch.InputIds, batch.AttentionMask)).item<float>();
                tokens += length - 1;
            }
            progress?.Invoke(++done);
        }
        return Math.Exp(-totalLogprob / tokens);
    }

    internal static int EosOf(HfTokenizer tokenizer, CausalLanguageModel model) =>
        tokenizer.EosTokenId ?? model.Config.EosTokenIds.Cast<int?>().FirstOrDefault()
        ?? throw new InvalidInputException($"{model.Config.Path}: training needs an EOS token; neither the tokenizer nor config.json defines one");

    /// <summary>Prompt ids and response ids + EOS, encoded without special tokens.</summary>
    internal static (IReadOnlyList<int> Prompt, IReadOnlyList<int> Target)[] Encode(CausalLanguageModel model, HfTokenizer tokenizer,
        IReadOnlyList<(string Prompt, string Response)> examples)
    {
        if (examples.Count == 0) throw new InvalidInputException("no training examples");
        int eos = EosOf(tokenizer, model);
        return examples.Select(e =>
        {
            var prompt = tokenizer.Encode(e.Prompt);
            if (prompt.Count == 0) throw new InvalidInputException($"a training prompt encodes to no tokens: \"{e.Prompt}\"");
            var target = tokenizer.Encode(e.Response).Append(eos).ToArray();
            if (prompt.Count + target.Length > model.Config.MaxPositionEmbeddings)
                throw new InvalidInputException($"an example of {prompt.Count + target.Length} tokens exceeds the model's {model.Config.MaxPositionEmbeddings} positions");
            return ((IReadOnlyList<int>)prompt, (IReadOnlyList<int>)target);
        }).ToArray();
    }

    internal static T[] SampleRows<T>(IReadOnlyList<T> rows, int count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var picks = randint(0, rows.Count, [count], generator: generator).data<long>().ToArray();
        return picks.Select(i => rows[(int)i]).ToArray();
    }
}

/// <summary>
/// Direct preference optimization (Rafailov et al. 2023), as the paper tuned gpt2 on imdb_preference:
/// loss = −log σ(β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]) with the reference frozen.
/// </summary>
public static class DirectPreferenceOptimization
{
    public static IReadOnlyList<TrainingStep> Train(CausalLanguageModel policy, CausalLanguageModel reference, HfTokenizer tokenizer,
        IReadOnlyList<Preference> pairs, double beta, TrainingOptions options, Action<TrainingStep>? progress = null)
    {
        if (!(beta > 0)) throw new InvalidInputException($"DPO beta must be positive, got {beta}");
        var chosen = LanguageModelTraining.Encode(policy, tokenizer, pairs.Select(p => (p.Prompt, p.Chosen)).ToArray());
        var rejected = LanguageModelTraining.Encode(policy, tokenizer, pairs.Select(p => (p.Prompt, p.Rejected)).ToArray());
        var device = policy.InputEmbeddings.device;
        var referenceChosen = ReferenceLogprobs(reference, chosen, device);
        var referenceRejected = ReferenceLogprobs(reference, rejected, device);
        using var generator = new Generator(options.Seed); // CPU: seeded draws happen on the host (HostRandom)
        using var betaScalar = beta.ToScalar(); // owned through every step: see Scalars
        return TrainingLoop.Run(policy, options, _ =>
        {
            var rows = LanguageModelTraining.SampleRows(Enumerable.Range(0, pairs.Count).ToArray(), options.BatchSize, generator);
            var both = PaddedBatch.Build([.. rows.Select(i => chosen[i]), .. rows.Select(i => rejected[i])], device);
            var logprobs = both.TargetLogprobs(policy.Forward(both.InputIds, both.AttentionMask));
            var index = tensor(rows.Select(i => (long)i).ToArray(), device: device);
            var chosenRatio = logprobs.narrow(0, 0, rows.Length) - referenceChosen.index_select(0, index);
            var rejectedRatio = logprobs.narrow(0, rows.Length, rows.Length) - referenceRejected.index_select(0, index);
            return -F.logsigmoid((chosenRatio - rejectedRatio).mul(betaScalar)).mean();
        }, progress);
    }

    static Tensor ReferenceLogprobs(CausalLanguageModel reference, (IReadOnlyList<int>, IReadOnlyList<int>)[] sequences, Device device)
    {
        using var noGrad = no_grad();
        var values = new float[sequences.Length];
        for (int start = 0; start < sequences.Length; start += 32)
        {
            using var scope = NewDisposeScope();
            var batch = PaddedBatch.Build(sequences.Skip(start).Take(32).ToArray(), device);
            batch.TargetLogprobs(reference.Forward(batch.InputIds, batch.AttentionMask)).cpu().data<float>().ToArray().CopyTo(values, start);
        }
        return tensor(values, device: device);
    }
}

/// <summary>Reward models: Bradley–Terry on preference pairs (one logit), or classification (num_labels logits).</summary>
public static class RewardModelTraining
{
    /// <summary>loss = −log σ(r(prompt + chosen) − r(prompt + rejected)).</summary>
    public static IReadOnlyList<TrainingStep> BradleyTerry(SequenceClassifier model, HfTokenizer tokenizer, IReadOnlyList<Preference> pairs,
        TrainingOptions options, Action<TrainingStep>? progress = null)
    {
        if (model.Config.NumLabels != 1) throw new InvalidInputException($"a Bradley–Terry reward model has num_labels 1, {model.Config.Path} has {model.Config.NumLabels}");
        var chosen = pairs.Select(p => Tokenize(model, tokenizer, p.Prompt + p.Chosen)).ToArray();
        var rejected = pairs.Select(p => Tokenize(model, tokenizer, p.Prompt + p.Rejected)).ToArray();
        var device = model.parameters().First().device;
        using var generator = new Generator(options.Seed); // CPU: seeded draws happen on the host (HostRandom)
        var batches = new LengthBucketedRows(chosen.Zip(rejected, (c, r) => Math.Max(c.Count, r.Count)).ToArray(), options.BatchSize, generator);
        return TrainingLoop.Run(model, options, _ =>
        {
            var rows = batches.Next();
            return batches.Parts(rows, sequencesPerRow: 2).Select(part =>
            {
                var batch = PaddedBatch.Build([.. part.Select(i => chosen[i]), .. part.Select(i => rejected[i])], device);
                var rewards = model.Forward(batch.InputIds, batch.AttentionMask).to(ScalarType.Float32).squeeze(-1);
                using var batchPairs = ((double)rows.Length).ToScalar(); // the batch's, not the part's: the parts' losses add up to its mean
                return -F.logsigmoid(rewards.narrow(0, 0, part.Length) - rewards.narrow(0, part.Length, part.Length)).sum() / batchPairs;
            });
        }, progress);
    }

    /// <summary>Cross-entropy over the classifier's labels.</summary>
    public static IReadOnlyList<TrainingStep> Classification(SequenceClassifier model, HfTokenizer tokenizer, IReadOnlyList<LabelledText> examples,
        TrainingOptions options, Action<TrainingStep>? progress = null)
    {
        foreach (var example in examples)
            if (example.Label < 0 || example.Label >= model.Config.NumLabels)
                throw new InvalidInputException($"label {example.Label} is outside 0..{model.Config.NumLabels - 1} of {model.Config.Path}");
        var encoded = examples.Select(e => Tokenize(model, tokenizer, e.Text)).ToArray();
        var device = model.parameters().First().device;
        using var generator = new Generator(options.Seed); // CPU: seeded draws happen on the host (HostRandom)
        var batches = new LengthBucketedRows(encoded.Select(e => e.Count).ToArray(), options.BatchSize, generator);
        return TrainingLoop.Run(model, options, _ =>
        {
            var rows = batches.Next();
            return batches.Parts(rows).Select(part =>
            {
                var batch = PaddedBatch.Build(part.Select(i => encoded[i]).ToArray(), device);
                var labels = tensor(part.Select(i => (long)examples[i].Label).ToArray(), device: device);
                using var count = ((double)rows.Length).ToScalar(); // the batch's, not the part's: the parts' losses add up to its mean
                return F.cross_entropy(model.Forward(batch.InputIds, batch.AttentionMask).to(ScalarType.Float32), labels,
                    reduction: TorchSharp.torch.nn.Reduction.Sum) / count;
            });
        }, progress);
    }

    /// <summary>The tokens a reward model sees, the same at training and scoring time (see Evaluation.RewardModel).</summary>
    static IReadOnlyList<int> Tokenize(SequenceClassifier model, HfTokenizer tokenizer, string text)
    {
        var ids = tokenizer.EncodeForClassification(text, model.Config.MaxPositionEmbeddings);
        if (ids.Length == 0) throw new InvalidInputException($"a training text encodes to no tokens: \"{text}\"");
        return ids;
    }
}
