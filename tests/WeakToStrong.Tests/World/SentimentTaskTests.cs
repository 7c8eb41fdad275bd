using System.Text.RegularExpressions;
using WeakToStrong.World.Tasks;

namespace WeakToStrong.Tests.World;

public class SentimentTaskTests
{
    static readonly SentimentTask Task = new();

    static List<SentimentTask.Review> Reviews(int count, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        return Enumerable.Range(0, count).Select(i => SentimentTask.GenerateReview(i % 2 == 0, rng)).ToList();
    }

    [Fact]
    public void SameSeedSameCorpusDifferentSeedDifferentCorpus()
    {
        var a = Task.PretrainingTexts(200, 1).ToList();
        Assert.Equal(a, Task.PretrainingTexts(200, 1).ToList());
        var b = Task.PretrainingTexts(200, 2).ToList();
        Assert.NotEqual(a, b);
        Assert.True(a.Intersect(b).Count() < 10);
    }

    [Fact]
    public void GrammarIsVaried()
    {
        var reviews = Reviews(2000, 3);
        var words = reviews.SelectMany(r => Regex.Matches(r.Text, "[a-z]+").Select(m => m.Value)).ToHashSet();
        Assert.True(words.Count >= 300, $"{words.Count} distinct words");
        var templates = reviews.SelectMany(r => r.Templates).ToHashSet();
        Assert.True(templates.Count >= 30, $"{templates.Count} templates used");
        Assert.Equal(SentimentTask.TemplateIds.Count, templates.Count);
        Assert.True(reviews.Select(r => r.Text).Distinct().Count() > 1990);
    }

    [Fact]
    public void ReviewsHaveThreeToSixSentences()
    {
        foreach (var review in Reviews(500, 4))
            Assert.InRange(Regex.Matches(review.Text, @"[.!?](\s|$)").Count, 3, 6);
    }

    [Fact]
    public void NegationFlipsPolarityBothWays()
    {
        var reviews = Reviews(2000, 5);
        // "not bad", "never boring": a negated negative word in a positive review; "hardly impressive" in a negative one.
        var negatedNegative = new Regex(@"\b(not|never|hardly|far from|by no means|anything but|nothing) (bad|boring|dull|predictable|tedious|bland|awful)\b");
        var negatedPositive = new Regex(@"\b(not|never|hardly|far from|by no means|anything but|nothing) (impressive|memorable|convincing|funny|original|exciting|clever|good)\b");
        Assert.Contains(reviews, r => r.Positive && r.Text.Contains("not bad"));
        Assert.Contains(reviews, r => r.Positive && Regex.IsMatch(r.Text, "never (felt )?boring"));
        Assert.Contains(reviews, r => !r.Positive && Regex.IsMatch(r.Text, @"hardly (impressive|memorable|convincing|funny|original|exciting|clever|good)"));
        int positiveHits = reviews.Count(r => r.Positive && negatedNegative.IsMatch(r.Text));
        int negativeHits = reviews.Count(r => !r.Positive && negatedPositive.IsMatch(r.Text));
        Assert.True(positiveHits > 50 && negativeHits > 50, $"{positiveHits} / {negativeHits}");
        // Contrast and mixed reviews exist too.
        Assert.Contains(reviews, r => r.Text.Contains(", but the "));
        Assert.Contains(reviews, r => r.Text.StartsWith("although ") || r.Text.Contains(" although "));
    }

    [Fact]
    public void AgreementFollowsTheNoun()
    {
        string text = string.Join(' ', Reviews(2000, 6).Select(r => r.Text));
        Assert.Contains("the performances were", text);
        Assert.Contains("the acting was", text);
        Assert.DoesNotContain("the performances was", text);
        Assert.DoesNotContain("the acting were", text);
        Assert.DoesNotContain("a impressive", text);
        Assert.DoesNotContain("an brilliant", text);
    }

    [Fact]
    public void OppositePolarityReplaysTheSameStructure()
    {
        for (ulong seed = 0; seed < 200; seed++)
        {
            var positive = SentimentTask.GenerateReview(true, new DeterministicRandom(seed));
            var negative = SentimentTask.GenerateReview(false, new DeterministicRandom(seed));
            Assert.Equal(positive.Templates, negative.Templates);
            Assert.NotEqual(positive.Text, negative.Text);
        }
    }

    [Fact]
    public void CorruptedReviewsDifferAndAreLabelledNegative()
    {
        var rng = new DeterministicRandom(8);
        foreach (var review in Reviews(500, 9))
        {
            string corrupted = SentimentTask.Corrupt(review.Text, rng);
            Assert.NotEqual(review.Text, corrupted);
            Assert.NotEqual(review.Text.Replace(",", ""), corrupted);
        }
        var examples = Task.ClassifierExamples(2000, 10);
        Assert.All(examples.Where(e => e.Corrupted), e => Assert.Equal(SentimentTask.NegativeLabel, e.Label));
        Assert.InRange(examples.Count(e => e.Corrupted), 700, 900);
        var clean = examples.Where(e => !e.Corrupted).ToList();
        Assert.InRange(clean.Count(e => e.Label == SentimentTask.PositiveLabel), clean.Count / 2 - 1, clean.Count / 2 + 1);
    }

    [Fact]
    public void PromptsArePrefixesOfHeldOutReviewsAndSplitsAreDisjoint()
    {
        var train = Task.Prompts(TaskSplit.Train, 300, 11);
        var test = Task.Prompts(TaskSplit.Test, 300, 11);
        Assert.Empty(train.Select(p => p.Prompt).Intersect(test.Select(p => p.Prompt)));
        foreach (var p in test)
        {
            Assert.InRange(p.Prompt.Split(' ').Length, 2, 8);
            Assert.Equal(p.Meta!["review"], p.Prompt + p.Reference);
            Assert.Equal(TaskSplit.Test, TaskSplit.Of(p.Meta["review"]));
        }
        var pretraining = Task.PretrainingTexts(2000, 11).ToHashSet();
        Assert.DoesNotContain(test, p => pretraining.Contains(p.Meta!["review"]));
        Assert.All(pretraining, t => Assert.Equal(TaskSplit.Train, TaskSplit.Of(t)));
    }

    [Fact]
    public void PreferencePairsShareAPrefixAndDifferInSentiment()
    {
        var pairs = Task.PreferencePairs(200, 12);
        Assert.Equal(200, pairs.Count);
        foreach (var pair in pairs)
        {
            Assert.True(pair.Prompt.Split(' ').Length >= 2);
            Assert.NotEqual(pair.Chosen, pair.Rejected);
            Assert.StartsWith(" ", pair.Chosen);
        }
        // The two continuations mirror each other: "best" where the other says "worst".
        int Count(IEnumerable<string> texts, string word) => texts.Sum(t => Regex.Matches(t, $@"\b{word}\b").Count);
        Assert.True(Count(pairs.Select(p => p.Chosen), "best") > Count(pairs.Select(p => p.Rejected), "best"));
        Assert.True(Count(pairs.Select(p => p.Chosen), "worst") < Count(pairs.Select(p => p.Rejected), "worst"));
    }
}
