using WeakToStrong.World.Tasks;
using static WeakToStrong.World.Tasks.SummarizationTask;

namespace WeakToStrong.Tests.World;

public class SummarizationTaskTests
{
    static readonly SummarizationTask Task = new();

    static IEnumerable<(Post Post, DeterministicRandom Rng)> Posts(int count, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        for (int i = 0; i < count; i++) yield return (GeneratePost(rng), rng);
    }

    [Fact]
    public void FactsAreReadBackFromThePostText()
    {
        foreach (var (post, _) in Posts(500, 1))
        {
            Assert.Equal(post.Facts, FindFacts(post.Prompt));
            Assert.InRange(post.Distractors.Count, 3, 6);
            Assert.Equal(3 + post.Distractors.Count, post.Sentences.Count);
            Assert.StartsWith("SUBREDDIT: r/", post.Prompt);
            Assert.EndsWith("\nTL;DR:", post.Prompt);
        }
    }

    [Fact]
    public void ReferenceCoversEverythingAndBeatsEveryDegradedKind()
    {
        foreach (var (post, rng) in Posts(300, 2))
        {
            double reference = Score(post.Prompt, post.Reference);
            Assert.Equal(3.0, reference);
            Assert.True(Words(post.Reference) <= WordLimit);
            foreach (var kind in Enum.GetValues<CandidateKind>().Where(k => k != CandidateKind.Reference))
            {
                string candidate = Candidate(post, kind, rng);
                Assert.True(Score(post.Prompt, candidate) < reference, $"{kind}: \"{candidate}\" scored {Score(post.Prompt, candidate)}");
            }
        }
    }

    static int Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void InventedEntitiesArePenalized()
    {
        var (post, _) = Posts(1, 3).Single();
        string otherName = new[] { "jake", "maya", "liam" }.First(n => n != post.Facts.Name);
        string withName = post.Reference + $" {otherName} was there too.";
        Assert.Equal([otherName], InventedEntities(post.Prompt, withName));
        Assert.Equal(Score(post.Prompt, post.Reference) - InventedPenalty, Score(post.Prompt, withName), 1e-9);
        string withNumber = post.Reference + " it cost 9999.";
        Assert.Equal(Score(post.Prompt, post.Reference) - InventedPenalty, Score(post.Prompt, withNumber), 1e-9);
        // Repeating an entity the post does contain costs nothing.
        Assert.Empty(InventedEntities(post.Prompt, post.Reference + " " + post.Facts.Item));
    }

    [Fact]
    public void SwappedEntityLosesItsFactAndCountsAsInvented()
    {
        var (post, _) = Posts(1, 4).Single();
        string wrongItem = post.Facts.Item == "laptop" ? "kayak" : "laptop";
        string summary = post.Reference.Replace(" " + post.Facts.Item, " " + wrongItem);
        Assert.Equal(2 - InventedPenalty, Score(post.Prompt, summary), 1e-9);
    }

    [Fact]
    public void LongSummariesPayPerExtraWord()
    {
        var (post, _) = Posts(1, 5).Single();
        int words = Words(post.Reference);
        string padded = post.Reference + string.Concat(Enumerable.Repeat(" really", WordLimit - words + 10));
        Assert.Equal(3 - 10 * PenaltyPerExtraWord, Score(post.Prompt, padded), 1e-9);
    }

    [Fact]
    public void PreferencePairsAgreeWithTheRuleAndHaveNoTies()
    {
        var pairs = Task.PreferencePairs(300, 6);
        Assert.Equal(300, pairs.Count);
        Assert.All(pairs, p => Assert.True(Score(p.Prompt, p.Chosen) > Score(p.Prompt, p.Rejected)));
        Assert.All(pairs, p => Assert.Equal(TaskSplit.Train, TaskSplit.Of(p.Prompt)));
    }

    [Fact]
    public void PretrainingMixesSummaryQualities()
    {
        var texts = Task.PretrainingTexts(500, 7).ToList();
        Assert.Equal(texts, Task.PretrainingTexts(500, 7).ToList());
        Assert.NotEqual(texts, Task.PretrainingTexts(500, 8).ToList());
        var scores = texts.Select(t =>
        {
            int cut = t.IndexOf("TL;DR:", StringComparison.Ordinal) + "TL;DR:".Length;
            return Score(t[..cut], t[cut..]);
        }).ToList();
        Assert.Contains(scores, s => s == 3);
        Assert.True(scores.Count(s => s == 3) < scores.Count / 2, "good summaries should be a minority");
        Assert.Contains(scores, s => s <= 0.5);
    }

    [Fact]
    public void SplitsAreDisjointAndDeterministic()
    {
        var train = Task.Prompts(TaskSplit.Train, 200, 9);
        var test = Task.Prompts(TaskSplit.Test, 200, 9);
        Assert.Empty(train.Select(p => p.Prompt).Intersect(test.Select(p => p.Prompt)));
        Assert.Equal(test, Task.Prompts(TaskSplit.Test, 200, 9), new PromptComparer());
        Assert.All(test, p => Assert.Equal(3.0, Score(p.Prompt, p.Reference!)));
        var pretraining = Task.PretrainingTexts(2000, 9).ToList();
        var testPrompts = test.Select(p => p.Prompt).ToHashSet();
        Assert.DoesNotContain(pretraining, t => testPrompts.Contains(t[..(t.IndexOf("TL;DR:", StringComparison.Ordinal) + 6)]));
        Assert.Throws<InvalidInputException>(() => Task.Prompts("validation", 1, 9));
    }

    [Fact]
    public void ScoreRejectsTextThatIsNotAPost() =>
        Assert.Throws<InvalidInputException>(() => Score("just some words", "a summary"));
}

/// <summary>Record equality compares the Meta dictionary by reference; this compares its contents.</summary>
internal sealed class PromptComparer : IEqualityComparer<TaskPrompt>
{
    public bool Equals(TaskPrompt? x, TaskPrompt? y) =>
        x is not null && y is not null && x.Id == y.Id && x.Prompt == y.Prompt && x.Reference == y.Reference &&
        (x.Meta is null ? y.Meta is null : y.Meta is not null && x.Meta.OrderBy(kv => kv.Key).SequenceEqual(y.Meta.OrderBy(kv => kv.Key)));

    public int GetHashCode(TaskPrompt obj) => obj.Id.GetHashCode();
}
