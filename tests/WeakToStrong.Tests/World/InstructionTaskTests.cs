using WeakToStrong.World.Tasks;
using static WeakToStrong.World.Tasks.InstructionTask;

namespace WeakToStrong.Tests.World;

public class InstructionTaskTests
{
    static readonly InstructionTask Task = new();

    [Theory]
    [InlineData("add 34 and 57.", "add", "91")]
    [InlineData("what is 72 minus 18?", "subtract", "54")]
    [InlineData("subtract 18 from 72.", "subtract", "54")]
    [InlineData("reverse the word planet.", "reverse", "tenalp")]
    [InlineData("sort these numbers from smallest to largest: 42, 7, 19.", "sort", "7, 19, 42")]
    [InlineData("list 3 fruits.", "list", "apple, banana, cherry")]
    [InlineData("write garden in uppercase.", "uppercase", "GARDEN")]
    [InlineData("what is the plural of mouse?", "plural", "mice")]
    [InlineData("give an antonym of hot.", "antonym", "cold")]
    [InlineData("is the phrase \"a terrible mistake\" positive or negative?", "sentiment", "negative")]
    public void SolvesEachFamilyFromTheText(string instruction, string family, string answer)
    {
        var expected = Solve(instruction);
        Assert.Equal(family, expected.Family);
        Assert.Equal(answer, expected.Answer);
    }

    [Fact]
    public void JudgeOrdersTerseAboveReferenceAboveChattyAboveWrong()
    {
        var rng = new DeterministicRandom(1);
        for (int i = 0; i < 1000; i++)
        {
            string instruction = GenerateInstruction(rng);
            double terse = Judge(instruction, Respond(instruction, ResponseStyle.Terse, rng));
            double reference = Judge(instruction, ReferenceOutput(instruction));
            double chatty = Judge(instruction, Respond(instruction, ResponseStyle.Chatty, rng));
            double wrongTerse = Judge(instruction, Respond(instruction, ResponseStyle.WrongTerse, rng));
            double wrongChatty = Judge(instruction, Respond(instruction, ResponseStyle.WrongChatty, rng));
            Assert.True(terse == 3 && reference == 2.5, $"{instruction}: terse {terse}, reference {reference}");
            Assert.True(chatty is >= 2 and < 2.5, $"{instruction}: chatty {chatty}");
            Assert.True(wrongTerse < 2 && wrongChatty < 2, $"{instruction}: wrong {wrongTerse} / {wrongChatty}");
            Assert.Equal(PairwiseOutcome.Win, Compare(instruction, Respond(instruction, ResponseStyle.Terse, rng), ReferenceOutput(instruction)));
            Assert.Equal(PairwiseOutcome.Loss, Compare(instruction, Respond(instruction, ResponseStyle.WrongTerse, rng), ReferenceOutput(instruction)));
        }
    }

    [Theory]
    [InlineData("add 34 and 57.", "91 or maybe 92")]
    [InlineData("add 34 and 57.", "34 + 57 = 90")]
    [InlineData("is the phrase \"a wonderful day\" positive or negative?", "positive, or negative")]
    [InlineData("reverse the word planet.", "tenalp, i mean tenlap")]
    [InlineData("list 2 colors.", "red, blue, green")]
    [InlineData("list 2 colors.", "red, apple")]
    [InlineData("give an antonym of hot.", "cold or warm or big")]
    public void ContradictoryAnswersAreNotCorrect(string instruction, string output) =>
        Assert.True(Judge(instruction, output) < 2, $"{output} judged {Judge(instruction, output)}");

    [Fact]
    public void MultiLineAnswersLoseTheFormatPoint()
    {
        Assert.Equal(3, Judge("add 34 and 57.", "91"));
        Assert.Equal(3, Judge(PromptFor("add 34 and 57."), "91\n"));
        Assert.Equal(2, Judge("add 34 and 57.", "91\nhope this helps"));
        Assert.Equal(2.5, Judge("add 34 and 57.", "the sum is 91."));
    }

    [Fact]
    public void CompareIsAntisymmetric()
    {
        var rng = new DeterministicRandom(2);
        var styles = Enum.GetValues<ResponseStyle>();
        int decisive = 0;
        for (int i = 0; i < 500; i++)
        {
            string instruction = GenerateInstruction(rng);
            string a = Respond(instruction, rng.Pick(styles), rng), b = Respond(instruction, rng.Pick(styles), rng);
            var ab = Compare(instruction, a, b);
            Assert.Equal((int)ab, -(int)Compare(instruction, b, a));
            Assert.Equal(PairwiseOutcome.Tie, Compare(instruction, a, a));
            if (ab != PairwiseOutcome.Tie) decisive++;
        }
        Assert.True(decisive > 200);
    }

    [Fact]
    public void PromptsCoverEveryFamilyAndSplitsAreDisjoint()
    {
        var train = Task.Prompts(TaskSplit.Train, 400, 3);
        var test = Task.Prompts(TaskSplit.Test, 400, 3);
        Assert.Empty(train.Select(p => p.Prompt).Intersect(test.Select(p => p.Prompt)));
        Assert.Equal(9, test.Select(p => p.Meta!["family"]).Distinct().Count());
        Assert.All(test, p =>
        {
            Assert.Equal(PromptFor(p.Meta!["instruction"]), p.Prompt);
            Assert.Equal(2.5, Judge(p.Prompt, p.Reference!));
        });
        var pretrainingPrompts = Task.PretrainingTexts(3000, 3).Select(t => t[..(t.IndexOf(ResponseMarker, StringComparison.Ordinal) + ResponseMarker.Length)]).ToHashSet();
        Assert.DoesNotContain(test, p => pretrainingPrompts.Contains(p.Prompt));
    }

    [Fact]
    public void PretrainingKnowsTheTasksButRarelyTheFormat()
    {
        var texts = Task.PretrainingTexts(3000, 4).ToList();
        Assert.Equal(texts, Task.PretrainingTexts(3000, 4).ToList());
        Assert.NotEqual(texts, Task.PretrainingTexts(3000, 5).ToList());
        var scores = texts.Select(t =>
        {
            int cut = t.IndexOf(ResponseMarker, StringComparison.Ordinal) + ResponseMarker.Length;
            return Judge(t[..cut], t[cut..]);
        }).ToList();
        double correct = scores.Count(s => s >= 2) / (double)scores.Count;
        double terseCorrect = scores.Count(s => s == 3) / (double)scores.Count;
        Assert.InRange(correct, 0.7, 0.85);
        Assert.InRange(terseCorrect, 0.1, 0.25);
    }

    [Fact]
    public void PreferencePairsAgreeWithTheJudge()
    {
        var pairs = Task.PreferencePairs(300, 6);
        Assert.Equal(300, pairs.Count);
        Assert.All(pairs, p => Assert.True(Judge(p.Prompt, p.Chosen) > Judge(p.Prompt, p.Rejected)));
    }

    [Fact]
    public void UnknownInstructionsAreRejected() =>
        Assert.Throws<InvalidInputException>(() => Solve("write a poem about the sea."));
}
