using System.Diagnostics;
using TorchSharp;
using WeakToStrong.Models;
using static TorchSharp.torch;

namespace WeakToStrong.Search;

/// <summary>
/// Emulated fine-tuning (Mitchell et al. 2024; the same arithmetic as proxy-tuning, Liu et al. 2024), the
/// paper's token-level baseline: each token is sampled from softmax(logits_large + β·(logits_tuned − logits_untuned)),
/// each model reading its own prompt with its own KV cache. The logits are only comparable over one
/// vocabulary, so all three tokenizers must be identical.
/// </summary>
public sealed class EmulatedFineTuning
{
    readonly PromptedModel large, tuned, untuned;
    readonly double beta;
    readonly GenerationOptions generation;

    public EmulatedFineTuning(PromptedModel large, PromptedModel tuned, PromptedModel untuned, double beta, GenerationOptions generation)
    {
        if (!double.IsFinite(beta)) throw new InvalidInputException($"EFT beta must be a finite number, got {beta}");
        generation.Validate();
        foreach (var small in new[] { tuned, untuned })
            if (Vocabularies.Difference(large.Tokenizer, small.Tokenizer) is string difference)
                throw new InvalidInputException($"EFT needs one vocabulary, but {large.Name} and {small.Name} differ: {difference}. " +
                    "Use chunk-level beam search, which guides across vocabularies at the text level.");
        this.large = large;
        this.tuned = tuned;
        this.untuned = untuned;
        this.beta = beta;
        this.generation = generation;
    }

    public IReadOnlyList<SearchOutput> Run(IReadOnlyList<SearchPrompt> prompts, Action<int>? onToken = null)
    {
        if (prompts.Count == 0) return [];
        var clock = Stopwatch.StartNew();
        int rows = prompts.Count;
        int vocabulary = new[] { large, tuned, untuned }.Min(m => m.UsableVocabSize);
        var generators = prompts.Select(p => new Generator(PromptSeeds.For(generation.Seed, p.Index))).ToArray(); // CPU: draws happen on the host
        var models = new[] { large, tuned, untuned };
        var sequences = new KvSequences[models.Length];
        var logits = new Tensor?[models.Length];
        var responses = Enumerable.Range(0, rows).Select(_ => new Response()).ToArray();
        var sampledPerPrompt = new long[rows];
        var smallTokensPerPrompt = new long[rows];
        using var noGrad = no_grad();
        using var betaScalar = beta.ToScalar(); // owned through the loop: see Models.Scalars
        try
        {
            for (int m = 0; m < models.Length; m++)
            {
                var promptIds = prompts.Select(p => models[m].EncodePrompt(p.Text)).ToArray();
                models[m].CheckLength(promptIds.Max(ids => ids.Length) + generation.MaxNewTokens);
                if (m > 0) for (int p = 0; p < rows; p++) smallTokensPerPrompt[p] += promptIds[p].Length;
                sequences[m] = new KvSequences(models[m].Model, rows, promptIds.Max(ids => ids.Length) + generation.MaxNewTokens);
                logits[m] = sequences[m].Feed(promptIds, lastOnly: true);
            }
            for (int generated = 1; generated <= generation.MaxNewTokens && responses.Any(r => !r.Finished); generated++)
            {
                using var scope = NewDisposeScope();
                var combined = logits[0]!.narrow(1, 0, vocabulary)
                    .add((logits[1]!.narrow(1, 0, vocabulary) - logits[2]!.narrow(1, 0, vocabulary)).mul(betaScalar), Scalars.One);
                var tokens = Sampling.Sample(combined, generation.Sampling, generators); // one row per prompt, one host read
                var feed = new IReadOnlyList<int>[rows];
                for (int p = 0; p < rows; p++)
                {
                    int token = (int)tokens[p];
                    feed[p] = [];
                    if (responses[p].Finished) continue;
                    responses[p].Append(token, large.Tokenizer, large.EosTokenIds, generation.StopStrings);
                    sampledPerPrompt[p]++;
                    if (!responses[p].Finished) feed[p] = [token];
                }
                onToken?.Invoke(generated);
                if (generated == generation.MaxNewTokens) break;
                for (int p = 0; p < rows; p++) smallTokensPerPrompt[p] += 2 * feed[p].Count;
                for (int m = 0; m < models.Length; m++)
                {
                    var next = sequences[m].Feed(feed, lastOnly: true);
                    if (next is null) continue;
                    logits[m]!.Dispose();
                    logits[m] = next.MoveToOuterDisposeScope();
                }
            }
            // As in every other method, a response cut at the token limit counts as finished (so it is scored with EOS
            // appended, and its finish reason is recorded).
            foreach (var response in responses.Where(r => !r.Finished)) response.FinishAtLength();
        }
        finally
        {
            foreach (var l in logits) l?.Dispose();
            foreach (var s in sequences) s?.Dispose();
            foreach (var g in generators) g.Dispose();
        }

        double seconds = clock.Elapsed.TotalSeconds;
        int forwardCalls = sequences.Sum(s => s.ForwardCalls);
        return Enumerable.Range(0, rows).Select(p => new SearchOutput(prompts[p],
            [new Hypothesis(responses[p].Text, responses[p].TokenIds, double.NaN, responses[p].Finish)],
            new ComputeCounts(sampledPerPrompt[p], smallTokensPerPrompt[p], forwardCalls, seconds))).ToArray();
    }
}
