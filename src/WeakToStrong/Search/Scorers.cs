using WeakToStrong.Evaluation;

namespace WeakToStrong.Search;

/// <summary>What guides a search: a score for every partial or finished response.</summary>
public interface IScorer
{
    string Name { get; }

    /// <summary>Starts scoring <paramref name="rowsPerPrompt"/> rows per prompt; row r belongs to prompt r / rowsPerPrompt.</summary>
    /// <param name="maxNewTokens">the longest response that will be scored, in the search's tokens (caches are reserved for it)</param>
    /// <param name="updates">how many times the rows will be scored (one per chunk)</param>
    IScoringSession Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt, int maxNewTokens, int updates);
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
/// <para>Which tokens are scored follows the reference implementation (its <c>SFTDataMapFunc</c>): each model
/// tokenizes template(prompt) and template(prompt) + response text, each in one piece without adding special
/// tokens, appends its EOS to a finished response (EOS, stop string or the token limit), and scores the tokens
/// after the two sequences' longest common prefix. With <c>retokenize: false</c> a model whose vocabulary is the
/// large model's scores the sampled ids after its prompt ids instead (an option of ours; text cut by a stop
/// string is always re-tokenized, since only the text is exact there).</para>
/// </summary>
public sealed class LogProbScorer : IScorer
{
    readonly (PromptedModel Model, double Weight, bool ScoresSampledIds)[] terms;

    public LogProbScorer(string name, PromptedModel large, IReadOnlyList<(PromptedModel Model, double Weight)> terms, bool retokenize = true)
    {
        Name = name;
        this.terms = terms.Select(t => (t.Model, t.Weight, !retokenize && Vocabularies.AreIdentical(t.Model.Tokenizer, large.Tokenizer))).ToArray();
        foreach (var term in this.terms) _ = term.Model.ScoringEosTokenId; // fail now, not after the first chunk
    }

    public static LogProbScorer ImplicitValue(PromptedModel large, PromptedModel tuned, PromptedModel untuned, bool retokenize = true) =>
        new("implicit value", large, [(tuned, 1.0), (untuned, -1.0)], retokenize);

    public static LogProbScorer LogLikelihood(PromptedModel large, bool retokenize = true) => new("log-likelihood", large, [(large, 1.0)], retokenize);

    public string Name { get; }

    /// <summary>The models scored, in order (for per-model log-likelihoods, <see cref="Session.ScoreTerms"/>).</summary>
    public IReadOnlyList<PromptedModel> Models => terms.Select(t => t.Model).ToArray();

    IScoringSession IScorer.Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt, int maxNewTokens, int updates) =>
        Begin(rawPrompts, rowsPerPrompt, maxNewTokens, updates);

    public Session Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt, int maxNewTokens, int updates) =>
        new(this, rawPrompts, rowsPerPrompt, IncrementalLogprobs.ResponseColumns(maxNewTokens, updates));

    public sealed class Session : IScoringSession
    {
        readonly LogProbScorer scorer;
        readonly IReadOnlyList<string> rawPrompts;
        readonly int rowsPerPrompt;
        readonly int[][][] promptIds;   // [term][prompt]
        readonly IncrementalLogprobs[] logprobs;

        internal Session(LogProbScorer scorer, IReadOnlyList<string> rawPrompts, int rowsPerPrompt, int responseColumns)
        {
            this.scorer = scorer;
            this.rawPrompts = rawPrompts;
            this.rowsPerPrompt = rowsPerPrompt;
            promptIds = scorer.terms.Select(t => rawPrompts.Select(t.Model.EncodePrompt).ToArray()).ToArray();
            logprobs = new IncrementalLogprobs[scorer.terms.Length];
            try
            {
                for (int i = 0; i < logprobs.Length; i++) logprobs[i] = new IncrementalLogprobs(scorer.terms[i].Model, promptIds[i], rowsPerPrompt, responseColumns);
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
            var terms = ScoreTerms(rows);
            var scores = new double[rows.Count];
            for (int i = 0; i < terms.Length; i++)
                for (int r = 0; r < rows.Count; r++) scores[r] += scorer.terms[i].Weight * terms[i][r];
            return scores;
        }

        /// <summary>log p_model(response | prompt) of each row under each model, in the order of <see cref="Models"/>.</summary>
        public double[][] ScoreTerms(IReadOnlyList<Response> rows)
        {
            var sums = new double[scorer.terms.Length][];
            for (int i = 0; i < sums.Length; i++)
            {
                var scored = rows.Select((row, r) => ScoredTokens(i, row, r / rowsPerPrompt)).ToArray();
                sums[i] = logprobs[i].Update(scored.Select(s => s.Sequence).ToArray(), scored.Select(s => s.ScoreFrom).ToArray());
            }
            return sums;
        }

        /// <summary>
        /// The token sequence a term's model reads for a row, and where its scored part starts (internal: the tests
        /// compare this split with the reference implementation's token ids).
        /// </summary>
        internal (IReadOnlyList<int> Sequence, int ScoreFrom) ScoredTokens(int term, Response row, int prompt)
        {
            var (model, _, scoresSampledIds) = scorer.terms[term];
            int[] promptTokens = promptIds[term][prompt];
            List<int> sequence;
            int scoreFrom;
            if (scoresSampledIds && row.Finish != FinishReason.StopString && row.TokenIds.Count > 0)
            {
                sequence = [.. promptTokens, .. row.ContentTokenIds];
                scoreFrom = promptTokens.Length;
            }
            else
            {
                sequence = [.. model.Tokenizer.Encode(model.Template.Apply(rawPrompts[prompt]) + row.Text)];
                scoreFrom = CommonPrefixLength(promptTokens, sequence);
            }
            if (row.Finished) sequence.Add(model.ScoringEosTokenId);
            return (sequence, scoreFrom);
        }

        static int CommonPrefixLength(IReadOnlyList<int> a, IReadOnlyList<int> b)
        {
            int n = 0;
            while (n < a.Count && n < b.Count && a[n] == b[n]) n++;
            return n;
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
/// A sequence classifier as the guide: the reward of the template with {raw_prompt} and {response} filled in,
/// recomputed for every row at every chunk.
/// </summary>
public sealed class RewardModelScorer(RewardModel rewardModel, string template) : IScorer
{
    public string Name => "reward model";

    public IScoringSession Begin(IReadOnlyList<string> rawPrompts, int rowsPerPrompt, int maxNewTokens, int updates) =>
        new Session(this, rawPrompts, rowsPerPrompt);

    string Apply(string rawPrompt, string response) =>
        template.Replace("{raw_prompt}", rawPrompt, StringComparison.Ordinal).Replace("{response}", response, StringComparison.Ordinal);

    sealed class Session(RewardModelScorer scorer, IReadOnlyList<string> rawPrompts, int rowsPerPrompt) : IScoringSession
    {
        readonly long[] tokensScored = new long[rawPrompts.Count];

        public IReadOnlyList<long> TokensScoredPerPrompt => tokensScored;
        public int ForwardCalls { get; private set; }

        public double[] Score(IReadOnlyList<Response> rows)
        {
            var texts = rows.Select((row, r) => scorer.Apply(rawPrompts[r / rowsPerPrompt], row.Text)).ToArray();
            for (int r = 0; r < texts.Length; r++) tokensScored[r / rowsPerPrompt] += scorer.rewardModel.Tokenize(texts[r]).Length;
            ForwardCalls += (texts.Length + 15) / 16;
            return scorer.rewardModel.Score(texts, batchSize: 16);
        }

        public void Reorder(IReadOnlyList<int> rowIndex) { }

        public void Dispose() { }
    }

    readonly RewardModel rewardModel = rewardModel;
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
        if (hypothesis.Finish == FinishReason.Length) response.FinishAtLength();
        using var session = scorer.Begin([rawPrompt], rowsPerPrompt: 1, maxNewTokens: hypothesis.TokenIds.Count, updates: 1);
        return session.Score([response])[0];
    }
}
