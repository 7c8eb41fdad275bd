using WeakToStrong.Search;
using static TorchSharp.torch;

namespace WeakToStrong.Tests.Search;

public class SearchTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    static readonly SearchPrompt[] Prompts =
        [new(0, "the cat"), new(1, "a tale of"), new(2, "once upon"), new(3, "zebras are")];

    PromptedModel Large => world.Load("large");
    PromptedModel Tuned => world.Load("tuned");
    PromptedModel Untuned => world.Load("untuned");

    static GenerationOptions Generation(int maxNewTokens = 16, long seed = 5, int topK = 50, IReadOnlyList<string>? stop = null) =>
        new(maxNewTokens, new SamplingOptions(0.7, topK, 1.0), stop, seed);

    /// <summary>Σ log p(ids[i] | ids[&lt;i]) for i ≥ max(1, scoreFrom) by one plain forward: no cache, no reuse.</summary>
    internal static double FullLogprob(PromptedModel model, IReadOnlyList<int> ids, int scoreFrom)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logprobs = model.Model.Forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)).log_softmax(-1)[0];
        double sum = 0;
        for (int i = Math.Max(1, scoreFrom); i < ids.Count; i++) sum += logprobs[i - 1, ids[i]].item<float>();
        return sum;
    }

    /// <summary>
    /// The reference implementation's scoring (SFTDataMapFunc + get_batch_logps), written out: tokenize template(prompt)
    /// and template(prompt) + text each in one piece, append EOS when finished, score after the common prefix.
    /// </summary>
    internal static double ReferenceLogprob(PromptedModel model, string rawPrompt, string text, bool finished)
    {
        var prompt = model.Tokenizer.Encode(model.Template.Apply(rawPrompt));
        var ids = model.Tokenizer.Encode(model.Template.Apply(rawPrompt) + text).ToList();
        if (finished) ids.Add(model.ScoringEosTokenId);
        int common = 0;
        while (common < prompt.Count && common < ids.Count && prompt[common] == ids[common]) common++;
        return FullLogprob(model, ids, common);
    }

    /// <summary>Our option: the sampled ids after the prompt's ids (same vocabulary, no stop string).</summary>
    static double SampledIdsLogprob(PromptedModel model, string rawPrompt, Hypothesis h)
    {
        var prompt = model.EncodePrompt(rawPrompt);
        List<int> ids = [.. prompt, .. h.TokenIds.Take(h.TokenIds.Count - (h.Finish == FinishReason.Eos ? 1 : 0))];
        if (h.Finish is not null) ids.Add(model.ScoringEosTokenId);
        return FullLogprob(model, ids, prompt.Length);
    }

    /// <summary>The implicit value recomputed from scratch by the reference's rule (or, with sampled ids, ours where it applies).</summary>
    static double FullImplicitValue(PromptedModel large, PromptedModel tuned, PromptedModel untuned, string rawPrompt, Hypothesis h, bool retokenize = true)
    {
        double Term(PromptedModel small) =>
            !retokenize && Vocabularies.AreIdentical(large.Tokenizer, small.Tokenizer) && h.Finish != FinishReason.StopString
                ? SampledIdsLogprob(small, rawPrompt, h)
                : ReferenceLogprob(small, rawPrompt, h.Text, h.Finish is not null);
        return Term(tuned) - Term(untuned);
    }

    [Fact]
    public void PlainSamplingEqualsGenerateWithThePromptsSeed()
    {
        var generation = Generation(maxNewTokens: 20);
        var search = new ChunkLevelBeamSearch(Large, null, BeamSearchOptions.Sampling, generation);
        var guided = new ChunkLevelBeamSearch(Large, LogProbScorer.ImplicitValue(Large, Tuned, Untuned), new BeamSearchOptions(1, 1, 4), generation);

        var plain = search.Run(Prompts);
        var withScorer = guided.Run(Prompts);

        foreach (var (prompt, output, scored) in Prompts.Zip(plain, withScorer))
        {
            var expected = WeakToStrong.Search.Generation.Sample(Large.Model, Large.EncodePrompt(prompt.Text), 20, generation.Sampling,
                Large.EosTokenIds.ToArray(), unchecked((long)PromptSeeds.For(generation.Seed, prompt.Index)));
            Assert.Equal(expected, output.Best.TokenIds);
            Assert.Equal(expected, scored.Best.TokenIds); // W = K = 1: scoring chooses nothing
        }
    }

    [Fact]
    public void BestOfNPicksTheArgmaxOfTheValueAmongItsSamples()
    {
        var search = new ChunkLevelBeamSearch(Large, LogProbScorer.ImplicitValue(Large, Tuned, Untuned), BeamSearchOptions.BestOfN(8), Generation(12));

        var outputs = search.Run(Prompts, hypothesesPerPrompt: 8);

        foreach (var output in outputs)
        {
            Assert.Equal(8, output.Hypotheses.Count);
            var values = output.Hypotheses.Select(h => FullImplicitValue(Large, Tuned, Untuned, output.Prompt.Text, h)).ToArray();
            for (int i = 0; i < values.Length; i++) Assert.Equal(values[i], output.Hypotheses[i].Score, 1e-4);
            int argmax = Array.IndexOf(values, values.Max());
            Assert.Equal(output.Hypotheses[argmax].TokenIds, output.Best.TokenIds);
            Assert.True(values.Distinct().Count() > 1, "the samples should differ in value");
        }
    }

    [Theory]
    [InlineData("untuned", "tuned", true)]      // same vocabulary, the reference's rule: re-tokenized text
    [InlineData("untuned", "tuned", false)]     // same vocabulary, our option: the sampled ids
    [InlineData("untuned-b", "tuned-b", true)]  // another vocabulary: decode, re-encode, reuse the common prefix
    public void IncrementalChunkScoresEqualFullRecomputation(string untunedName, string tunedName, bool retokenize)
    {
        var tuned = world.Load(tunedName);
        var untuned = world.Load(untunedName);
        var search = new ChunkLevelBeamSearch(Large, LogProbScorer.ImplicitValue(Large, tuned, untuned, retokenize), new BeamSearchOptions(2, 3, 3), Generation(17));

        var outputs = search.Run(Prompts, hypothesesPerPrompt: 6);

        foreach (var output in outputs)
            foreach (var h in output.Hypotheses)
                Assert.Equal(FullImplicitValue(Large, tuned, untuned, output.Prompt.Text, h, retokenize), h.Score, 1e-4);
    }

    [Fact]
    public void TheTokenLimitFinishesEveryResponseAndItsScoreIncludesEos()
    {
        var search = new ChunkLevelBeamSearch(Large, LogProbScorer.ImplicitValue(Large, Tuned, Untuned), BeamSearchOptions.BestOfN(4), Generation(6));

        var outputs = search.Run(Prompts, hypothesesPerPrompt: 4);

        foreach (var output in outputs)
            foreach (var h in output.Hypotheses)
            {
                Assert.NotNull(h.Finish);
                if (h.Finish == FinishReason.Length) Assert.Equal(6, h.TokenIds.Count);
                double withEos = ReferenceLogprob(Tuned, output.Prompt.Text, h.Text, true) - ReferenceLogprob(Untuned, output.Prompt.Text, h.Text, true);
                double withoutEos = ReferenceLogprob(Tuned, output.Prompt.Text, h.Text, false) - ReferenceLogprob(Untuned, output.Prompt.Text, h.Text, false);
                Assert.Equal(withEos, h.Score, 1e-4);
                Assert.NotEqual(withoutEos, h.Score, 1e-4);
            }
        Assert.Contains(outputs.SelectMany(o => o.Hypotheses), h => h.Finish == FinishReason.Length);
    }

    [Fact]
    public void ThePromptAndResponseAreSplitAtTheirCommonTokenPrefix()
    {
        // The template ends inside a word, so the prompt's last token and the response's first merge: the merged
        // token is scored, as the reference scores it, and the prompt's last token is not.
        var small = Tuned with { Template = new PromptTemplate("{raw_prompt} th") };
        var prompt = small.Tokenizer.Encode(small.Template.Apply("the cat"));
        var full = small.Tokenizer.Encode(small.Template.Apply("the cat") + "e dog");
        int common = 0;
        while (common < prompt.Count && prompt[common] == full[common]) common++;
        Assert.True(common < prompt.Count, "the fixture's tokenizer should merge \" th\" + \"e\"");

        var scorer = new LogProbScorer("tuned", Large, [(small, 1.0)]);
        using var session = scorer.Begin(["the cat"], rowsPerPrompt: 1, maxNewTokens: 2, updates: 1);
        double score = session.Score([Response.FromText("e dog", null)])[0];

        Assert.Equal(FullLogprob(small, full, common), score, 1e-4);
        Assert.Equal(ReferenceLogprob(small, "the cat", "e dog", false), score, 1e-4);
    }

    [Fact]
    public void IncrementalLogprobsSurviveRollbackAndReordering()
    {
        var model = world.Load("untuned-b");
        int[][] prompts = [model.EncodePrompt("first prompt"), model.EncodePrompt("second")];
        // Reserved for the prompts alone: the cache grows at every update that feeds anything.
        using var incremental = new IncrementalLogprobs(model, prompts, rowsPerPrompt: 2, responseColumns: 0);
        var random = new Random(3);
        var responses = Enumerable.Range(0, 4).Select(r => new List<int>(prompts[r / 2])).ToArray();
        var scoreFrom = Enumerable.Range(0, 4).Select(r => prompts[r / 2].Length).ToArray();
        for (int round = 0; round < 12; round++)
        {
            for (int r = 0; r < responses.Length; r++)
            {
                var response = responses[r];
                // Extend, cut back or rewrite the tail, as re-tokenized text does, at times into the prompt.
                int cut = random.Next(Math.Max(1, response.Count - 3), response.Count + 1);
                response.RemoveRange(cut, response.Count - cut);
                int add = random.Next(0, 4);
                for (int i = 0; i < add; i++) response.Add(random.Next(0, model.Tokenizer.VocabSize));
                scoreFrom[r] = Math.Min(cut, prompts[r / 2].Length);
            }
            var sums = incremental.Update(responses, scoreFrom);
            for (int r = 0; r < responses.Length; r++)
                Assert.Equal(FullLogprob(model, responses[r], scoreFrom[r]), sums[r], 1e-4);
            if (round % 3 == 2)
            {
                int[] order = [1, 1, 2, 3]; // rows stay within their prompt
                incremental.Reorder(order);
                responses = order.Select(i => new List<int>(responses[i])).ToArray();
                scoreFrom = order.Select(i => scoreFrom[i]).ToArray();
            }
        }
    }

    [Fact]
    public void EftWithBetaZeroOrEqualSmallModelsIsLargeModelSampling()
    {
        var generation = Generation(18);
        var sampled = new ChunkLevelBeamSearch(Large, null, BeamSearchOptions.Sampling, generation).Run(Prompts);

        var betaZero = new EmulatedFineTuning(Large, Tuned, Untuned, 0.0, generation).Run(Prompts);
        var sameSmall = new EmulatedFineTuning(Large, Tuned, Tuned, 3.0, generation).Run(Prompts);
        var guided = new EmulatedFineTuning(Large, Tuned, Untuned, 1.0, generation).Run(Prompts);

        Assert.Equal(sampled.Select(o => o.Best.TokenIds), betaZero.Select(o => o.Best.TokenIds));
        Assert.Equal(sampled.Select(o => o.Best.TokenIds), sameSmall.Select(o => o.Best.TokenIds));
        // …and finishes as it does: at the token limit with FinishReason.Length, which scoring reads (EOS appended).
        Assert.Equal(sampled.Select(o => o.Best.Finish), betaZero.Select(o => o.Best.Finish));
        Assert.Contains(betaZero, o => o.Best.Finish == FinishReason.Length);
        Assert.NotEqual(sampled.Select(o => o.Best.TokenIds), guided.Select(o => o.Best.TokenIds));
    }

    [Fact]
    public void EftRefusesDifferentVocabularies()
    {
        var error = Assert.Throws<InvalidInputException>(() =>
            new EmulatedFineTuning(Large, world.Load("tuned-b"), Untuned, 1.0, Generation()));
        Assert.Contains("one vocabulary", error.Message);
        Assert.Contains("tuned-b", error.Message);
    }

    [Theory]
    [InlineData(FinishedStates.CompeteAll)]
    [InlineData(FinishedStates.OneSlot)]
    public void GuidanceThatPrefersOneTokenSteersTowardIt(FinishedStates finished)
    {
        // Sampled ids are scored: these random models emit arbitrary bytes, which as text become U+FFFD (three tokens
        // each when re-tokenized), so text-level scoring would mostly reward valid UTF-8, not the preferred token.
        var generation = Generation(24, topK: 0);
        var prompts = Enumerable.Range(0, 8).Select(i => new SearchPrompt(i, $"prompt number {i}")).ToArray();
        int Count(IReadOnlyList<SearchOutput> outputs) => outputs.Sum(o => o.Best.TokenIds.Count(t => t == TinyWorld.PreferredToken));

        int sampled = Count(new ChunkLevelBeamSearch(Large, null, BeamSearchOptions.Sampling, generation).Run(prompts));
        int searched = Count(new ChunkLevelBeamSearch(Large, LogProbScorer.ImplicitValue(Large, Tuned, Untuned, retokenize: false), new BeamSearchOptions(2, 16, 1, finished), generation).Run(prompts));

        Assert.True(searched >= 10 && searched >= 5 * Math.Max(1, sampled), $"preferred token: {searched} times with CBS ({finished}), {sampled} with sampling");
    }

    [Fact]
    public void FinishedStatesAreKeptButNeverExtended()
    {
        var large = world.Load("large-eos");
        int eos = large.ScoringEosTokenId;
        var search = new ChunkLevelBeamSearch(large, LogProbScorer.ImplicitValue(large, Tuned, Untuned), new BeamSearchOptions(3, 3, 2), Generation(30));

        var outputs = search.Run(Prompts, hypothesesPerPrompt: 9);

        int finished = 0; // Response.Append throws on a finished response, so finishing the run shows none was extended
        foreach (var h in outputs.SelectMany(o => o.Hypotheses))
        {
            int eosCount = h.TokenIds.Count(t => t == eos);
            if (h.Finish == FinishReason.Eos)
            {
                finished++;
                Assert.Equal(1, eosCount);
                Assert.Equal(eos, h.TokenIds[^1]);
            }
            else Assert.Equal(0, eosCount);
        }
        Assert.True(finished > 0, "the EOS-prone model should finish some responses");
    }

    [Theory]
    [InlineData(1, 8, null)]
    [InlineData(2, 4, 3)]
    [InlineData(3, 3, 1)]
    public void EveryTokenIsDrawnFromItsOwnRowsHistoryAsFinishedRowsLeaveTheBatch(int w, int k, int? l)
    {
        // An EOS-prone model finishes rows at different steps, so the live rows of the large model's cache are gathered
        // again and again. With top-3 sampling every token must be among the 3 most likely after its own row's history,
        // as a plain forward without a cache computes it: a row fed another row's cache would draw outside its top 3.
        const int topK = 3;
        var large = world.Load("large-eos");
        var generation = Generation(maxNewTokens: 24, topK: topK);
        var search = new ChunkLevelBeamSearch(large, LogProbScorer.ImplicitValue(large, Tuned, Untuned), new BeamSearchOptions(w, k, l), generation);
        var outputs = search.Run(Prompts, hypothesesPerPrompt: w * k);
        int checkedTokens = 0, finishedEarly = 0;
        using var noGrad = no_grad();
        foreach (var output in outputs)
            foreach (var h in output.Hypotheses)
            {
                if (h.Finish == FinishReason.Eos && h.TokenIds.Count < 24) finishedEarly++;
                var prompt = large.EncodePrompt(output.Prompt.Text);
                using var scope = NewDisposeScope();
                var ids = tensor(prompt.Concat(h.TokenIds).Select(i => (long)i).ToArray()).unsqueeze(0);
                var logits = large.Model.Forward(ids)[0].narrow(-1, 0, large.UsableVocabSize);
                for (int i = 0; i < h.TokenIds.Count; i++)
                {
                    var row = logits[prompt.Length - 1 + i];
                    float third = row.topk(topK).values[topK - 1].item<float>();
                    Assert.True(row[h.TokenIds[i]].item<float>() >= third - 1e-4f,
                        $"CBS({w},{k},{l?.ToString() ?? "∞"}) \"{output.Prompt.Text}\": token {i} of a hypothesis is outside its row's top {topK}");
                    checkedTokens++;
                }
            }
        var lengths = outputs.SelectMany(o => o.Hypotheses).Select(h => h.TokenIds.Count).Distinct().Count();
        Assert.True(finishedEarly > 0 && lengths > 2 && checkedTokens >= 40, $"{finishedEarly} hypotheses finished early, {lengths} lengths, {checkedTokens} tokens checked");
    }

    [Fact]
    public void WithOneSlotAFinishedStateTakesOneBeamSlotHoweverManyCopiesItHas()
    {
        // One prompt, W = 2, K = 3. Row 4 (finished) and row 1 (unfinished) are the best two.
        double[] scores = [0.1, 0.9, 0.3, 0.2, 1.5, 0.0];
        bool[] finished = [false, false, false, false, true, false];
        var beam = new BeamSearchOptions(2, 3, 1, FinishedStates.OneSlot);

        var (selection, duplicate) = ChunkLevelBeamSearch.SelectAndExpand(scores, new bool[6], finished, beam);

        Assert.Equal([4, 4, 4, 1, 1, 1], selection);
        Assert.Equal([false, true, true, false, false, false], duplicate);

        // Next round: the finished state still scores best, its copies do not crowd out the others.
        double[] next = [1.5, 1.5, 1.5, 0.2, 0.7, 0.4];
        bool[] nextFinished = [true, true, true, false, false, false];
        var (again, _) = ChunkLevelBeamSearch.SelectAndExpand(next, duplicate, nextFinished, beam);
        Assert.Equal([0, 0, 0, 4, 4, 4], again);
    }

    [Fact]
    public void ByDefaultAFinishedStatesCopiesAllCompeteAsInTheReference()
    {
        double[] scores = [0.1, 0.9, 0.3, 0.2, 1.5, 0.0];
        bool[] finished = [false, false, false, false, true, false];
        var beam = new BeamSearchOptions(2, 3, 1);

        var (selection, duplicate) = ChunkLevelBeamSearch.SelectAndExpand(scores, new bool[6], finished, beam);
        Assert.Equal([4, 4, 4, 1, 1, 1], selection);
        Assert.All(duplicate, Assert.False);

        // Next round: the finished state's three copies rank first and second: it takes both beam slots.
        double[] next = [1.5, 1.5, 1.5, 0.2, 0.7, 0.4];
        bool[] nextFinished = [true, true, true, false, false, false];
        var (again, _) = ChunkLevelBeamSearch.SelectAndExpand(next, duplicate, nextFinished, beam);
        Assert.Equal([0, 0, 0, 1, 1, 1], again);
    }

    [Fact]
    public void APromptsResultDoesNotDependOnItsBatch()
    {
        var search = new ChunkLevelBeamSearch(Large, LogProbScorer.ImplicitValue(Large, Tuned, Untuned), new BeamSearchOptions(2, 2, 3), Generation(13));

        var together = search.Run(Prompts);
        var reversed = search.Run(Prompts.Reverse().ToArray()).Reverse().ToArray();
        var alone = Prompts.Select(p => search.Run([p])[0]).ToArray();

        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(alone[i].Best.TokenIds, together[i].Best.TokenIds);
            Assert.Equal(alone[i].Best.TokenIds, reversed[i].Best.TokenIds);
            Assert.Equal(alone[i].Best.Score, together[i].Best.Score, 1e-4);
        }
        Assert.True(together.Select(o => string.Join(',', o.Best.TokenIds)).Distinct().Count() > 1);
    }

    [Fact]
    public void StopStringsFinishAResponseAndCutItsText()
    {
        var plain = new ChunkLevelBeamSearch(Large, null, BeamSearchOptions.Sampling, Generation(30)).Run(Prompts);
        // Stop at a character the unconstrained samples produce.
        var withText = plain.First(o => o.Best.Text.Skip(2).Any(char.IsAsciiLetterOrDigit));
        string stop = withText.Best.Text.Skip(2).First(char.IsAsciiLetterOrDigit).ToString();

        var stopped = new ChunkLevelBeamSearch(Large, null, BeamSearchOptions.Sampling, Generation(30, stop: [stop])).Run([withText.Prompt])[0];

        Assert.Equal(FinishReason.StopString, stopped.Best.Finish);
        Assert.DoesNotContain(stop, stopped.Best.Text, StringComparison.Ordinal);
        Assert.StartsWith(stopped.Best.Text, withText.Best.Text);
    }

    [Fact]
    public void ComputeIsCounted()
    {
        var search = new ChunkLevelBeamSearch(Large, LogProbScorer.ImplicitValue(Large, Tuned, Untuned), new BeamSearchOptions(2, 2, 4), Generation(8));

        var output = search.Run([Prompts[0]])[0];

        Assert.InRange(output.Compute.LargeTokensSampled, 8, 4 * 8); // 4 rows × at most 8 tokens
        Assert.True(output.Compute.SmallTokensScored >= 2 * 4 * 8, $"{output.Compute.SmallTokensScored}");
        Assert.True(output.Compute.ForwardCalls > 8);
        Assert.True(output.Compute.WallSeconds > 0);
    }
}

public class OtherScorerTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    static readonly SearchPrompt[] Prompts = [new(0, "the cat"), new(1, "a tale of")];

    [Fact]
    public void BestOfNWithARewardModelPicksTheHighestReward()
    {
        using var rewardModel = WeakToStrong.Evaluation.RewardModel.Load(RepositoryPaths.Fixture("distilbert-cls"), WeakToStrong.Models.ModelOptions.Cpu);
        var large = world.Load("large");
        var search = new ChunkLevelBeamSearch(large, new RewardModelScorer(rewardModel, Guide.DefaultRewardTemplate), BeamSearchOptions.BestOfN(6),
            new GenerationOptions(10, null, null, 2));

        foreach (var output in search.Run(Prompts, hypothesesPerPrompt: 6))
        {
            var rewards = rewardModel.Score(output.Hypotheses.Select(h => output.Prompt.Text + h.Text).ToArray());
            for (int i = 0; i < rewards.Length; i++) Assert.Equal(rewards[i], output.Hypotheses[i].Score, 1e-5);
            Assert.Equal(rewards.Max(), output.Best.Score, 1e-5);
        }
    }

    [Fact]
    public void LogLikelihoodGuideScoresTheLargeModelsOwnLogProbability()
    {
        var large = world.Load("large");
        var search = new ChunkLevelBeamSearch(large, LogProbScorer.LogLikelihood(large), new BeamSearchOptions(2, 2, 3), new GenerationOptions(9, null, null, 1));

        foreach (var output in search.Run(Prompts, hypothesesPerPrompt: 4))
            foreach (var h in output.Hypotheses)
                Assert.Equal(SearchTests.ReferenceLogprob(large, output.Prompt.Text, h.Text, h.Finish is not null), h.Score, 1e-4);
    }
}
