using WeakToStrong.Evaluation;

namespace WeakToStrong.Search;

/// <summary>What guides a search: a score for every partial or finished response.</summary>
public interface IScorer
{
    string Name { get; }

    /// <summary>Starts scoring <paramref name="rowsPerPrompt"/> rows per prompt; row r belongs to prompt r / rowsPerPrompt.</summary>
    IScoringSession Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt);
}

public interface IScoringSession : IDisposable
{
    /// <summary>The score of each row's response as it is now.</summary>
    double[] Score(IReadOnlyList<Response> rows);

    /// <summary>Rows were selected: row i is now old row rowIndex[i] (always a row of the same prompt).</summary>
    void Reorder(IReadOnlyList<int> rowIndex);

    /// <summary>Tokens run through the scoring model(s) so far for each prompt's rows.</summary>
    IReadOnlyList<long> TokensScoredPerPrompt { get; }

    int ForwardCalls { get; }
}

/// <summary>
/// Σ weight · log p_model(response | that model's prompt), kept incrementally. The paper's implicit value
/// V = log π_tuned − log π_untuned is <see cref="ImplicitValue"/>; the large model's own log-likelihood
/// (beam search without guidance) is <see cref="LogLikelihood"/>.
/// A finished response is scored with the scoring model's EOS appended. A scoring model whose vocabulary is
/// the large model's scores the sampled ids themselves; any other decodes the large model's text and
/// re-encodes it with its own tokenizer (cross-vocabulary guidance).
/// </summary>
public sealed class LogProbScorer : IScorer
{
    readonly (PromptedModel Model, double Weight, bool SameVocabulary)[] terms;

    public LogProbScorer(string name, PromptedModel large, IReadOnlyList<(PromptedModel Model, double Weight)> terms)
    {
        Name = name;
        this.terms = terms.Select(t => (t.Model, t.Weight, Vocabularies.AreIdentical(t.Model.Tokenizer, large.Tokenizer))).ToArray();
        foreach (var term in this.terms) _ = term.Model.ScoringEosTokenId; // fail now, not after the first chunk
    }

    public static LogProbScorer ImplicitValue(PromptedModel large, PromptedModel tuned, PromptedModel untuned) =>
        new("implicit value", large, [(tuned, 1.0), (untuned, -1.0)]);

    public static LogProbScorer LogLikelihood(PromptedModel large) => new("log-likelihood", large, [(large, 1.0)]);

    public string Name { get; }

    /// <summary>Whether each term scores the large model's token ids directly (no re-tokenization).</summary>
    public IReadOnlyList<bool> SharesLargeVocabulary => terms.Select(t => t.SameVocabulary).ToArray();

    public IScoringSession Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt) => new Session(this, rawPrompts, rowsPerPrompt);

    sealed class Session : IScoringSession
    {
        readonly LogProbScorer scorer;
        readonly IncrementalLogprobs[] logprobs;

        public Session(LogProbScorer scorer, IReadOnlyList<string> rawPrompts, int rowsPerPrompt)
        {
            this.scorer = scorer;
            logprobs = new IncrementalLogprobs[scorer.terms.Length];
            try
            {
                for (int i = 0; i < logprobs.Length; i++) logprobs[i] = new IncrementalLogprobs(scorer.terms[i].Model, rawPrompts, rowsPerPrompt);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public IReadOnlyList<long> TokensScoredPerPrompt =>
            Enumerable.Range(0, logprobs[0].TokensFedPerPrompt.Length).Select(p => logprobs.Sum(l => l.TokensFedPerPrompt[p])).ToArray();

        public int ForwardCalls => logprobs.Sum(l => l.ForwardCalls);

        public double[] Score(IReadOnlyList<Response> rows)
        {
            var scores = new double[rows.Count];
            for (int i = 0; i < logprobs.Length; i++)
            {
                var (model, weight, sameVocabulary) = scorer.terms[i];
                var tokens = rows.Select(row => ScoredTokens(row, model, sameVocabulary)).ToArray();
                var sums = logprobs[i].Update(tokens);
                for (int r = 0; r < rows.Count; r++) scores[r] += weight * sums[r];
            }
            return scores;
        }

        static IReadOnlyList<int> ScoredTokens(Response row, PromptedModel model, bool sameVocabulary)
        {
            // A stop string cuts the text inside the sampled tokens, so only the text is exact then.
            var tokens = sameVocabulary && row.Finish != FinishReason.StopString
                ? row.ContentTokenIds.ToList()
                : model.Tokenizer.Encode(row.Text).ToList();
            if (row.Finished) tokens.Add(model.ScoringEosTokenId);
            return tokens;
        }

        public void Reorder(IReadOnlyList<int> rowIndex)
        {
            foreach (var l in logprobs) l.Reorder(rowIndex);
        }

        public void Dispose()
        {
            foreach (var l in logprobs) l?.Dispose();
        }
    }
}

/// <summary>
/// A sequence classifier as the guide (an ablation): the reward of template(prompt) + response text,
/// recomputed for every row at every chunk.
/// </summary>
public sealed class RewardModelScorer(RewardModel rewardModel, PromptTemplate template) : IScorer
{
    public string Name => "reward model";

    public IScoringSession Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt) => new Session(this, rawPrompts, rowsPerPrompt);

    sealed class Session(RewardModelScorer scorer, IReadOnlyList<string> rawPrompts, int rowsPerPrompt) : IScoringSession
    {
        readonly long[] tokensScored = new long[rawPrompts.Count];

        public IReadOnlyList<long> TokensScoredPerPrompt => tokensScored;
        public int ForwardCalls { get; private set; }

        public double[] Score(IReadOnlyList<Response> rows)
        {
            var texts = rows.Select((row, r) => scorer.template.Apply(rawPrompts[r / rowsPerPrompt]) + row.Text).ToArray();
            for (int r = 0; r < texts.Length; r++) tokensScored[r / rowsPerPrompt] += scorer.rewardModel.Tokenize(texts[r]).Length;
            ForwardCalls += (texts.Length + 15) / 16;
            return scorer.rewardModel.Score(texts, batchSize: 16);
        }

        public void Reorder(IReadOnlyList<int> rowIndex) { }

        public void Dispose() { }
    }

    readonly RewardModel rewardModel = rewardModel;
    readonly PromptTemplate template = template;
}

public static class Scoring
{
    /// <summary>
    /// A returned response's score under <paramref name="scorer"/> (e.g. the implicit value of an EFT or
    /// plain-sampling answer), replaying its tokens so the text and finish state are the search's own.
    /// </summary>
    public static double ScoreFinal(IScorer scorer, string rawPrompt, Hypothesis hypothesis, PromptedModel large, IReadOnlyList<string> stopStrings)
    {
        var response = new Response();
        foreach (int token in hypothesis.TokenIds) response.Append(token, large.Tokenizer, large.EosTokenIds, stopStrings);
        using var session = scorer.Begin([rawPrompt], rowsPerPrompt: 1);
        return session.Score([response])[0];
    }
}
