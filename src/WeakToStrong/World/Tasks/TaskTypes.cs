namespace WeakToStrong.World.Tasks;

/// <summary>
/// One prompt for search/evaluation. <paramref name="Reference"/> is the task's reference response
/// (held-out continuation, reference summary, or the reference policy's answer); Meta holds task-specific strings.
/// </summary>
public sealed record TaskPrompt(string Id, string Prompt, string? Reference, IReadOnlyDictionary<string, string>? Meta);

/// <summary>A preference between two responses to the same prompt; prompt + response is the full text.</summary>
public sealed record PreferencePair(string Prompt, string Chosen, string Rejected);

/// <summary>A labelled text for the sentiment gold classifier; corrupted texts are always labelled negative.</summary>
public sealed record ClassifierExample(string Text, string Label, bool Corrupted);

/// <summary>A synthetic task: the corpus the base models are pretrained on, prompts to search from, and preference pairs.</summary>
public interface ITaskGenerator
{
    string Name { get; }

    /// <summary>Documents for pretraining; never contains a test-split item.</summary>
    IEnumerable<string> PretrainingTexts(int count, ulong seed);

    /// <summary><paramref name="count"/> distinct prompts of one split ("train" or "test").</summary>
    IReadOnlyList<TaskPrompt> Prompts(string split, int count, ulong seed);

    /// <summary>Train-split preference pairs, labelled by the task's preference (sentiment) or its gold rule.</summary>
    IReadOnlyList<PreferencePair> PreferencePairs(int count, ulong seed);
}

/// <summary>Train/test assignment by a hash of the content, so the splits are disjoint whatever the seed.</summary>
public static class TaskSplit
{
    public const string Train = "train";
    public const string Test = "test";

    /// <summary>One item in five goes to test.</summary>
    public static string Of(string content) => StableHash.Fnv1a(content) % 5 == 0 ? Test : Train;

    public static bool IsIn(string content, string split) => Of(content) == split;

    public static void Validate(string split)
    {
        if (split != Train && split != Test) throw new InvalidInputException($"split must be \"train\" or \"test\", got \"{split}\"");
    }

    /// <summary>Draws until <paramref name="count"/> distinct items of the split are found; gives up if the space looks exhausted.</summary>
    internal static List<T> CollectDistinct<T>(int count, Func<T?> draw, Func<T, string> key, string what) where T : class
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<T>(count);
        int misses = 0;
        while (result.Count < count)
        {
            var item = draw();
            if (item is not null && seen.Add(key(item)))
            {
                result.Add(item);
                misses = 0;
            }
            else if (++misses > 20_000 + 50 * count)
                throw new InvalidInputException($"could not find {count} distinct {what}; only {result.Count} exist for this generator");
        }
        return result;
    }
}

/// <summary>The three tasks by name.</summary>
public static class TaskGenerators
{
    public static IReadOnlyList<ITaskGenerator> All { get; } = [new SentimentTask(), new SummarizationTask(), new InstructionTask()];

    public static ITaskGenerator Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new InvalidInputException($"unknown task \"{name}\"; expected one of {string.Join(", ", All.Select(t => t.Name))}");
}

/// <summary>Small text helpers shared by the generators and gold rules.</summary>
internal static class Words
{
    static readonly char[] Separators = [' ', '\n', '\t', ',', '.', '!', '?', ':', ';', '"', '(', ')'];

    /// <summary>Lowercase-preserving word tokens with punctuation stripped.</summary>
    public static string[] Tokens(string text) => text.Split(Separators, StringSplitOptions.RemoveEmptyEntries);

    public static int Count(string text) => Tokens(text).Length;

    /// <summary>Whole-word (or whole-phrase) containment: "3 weeks" is in "about 3 weeks ago" but "3" is not in "13".</summary>
    public static bool ContainsPhrase(string text, string phrase)
    {
        var haystack = Tokens(text.ToLowerInvariant());
        var needle = Tokens(phrase.ToLowerInvariant());
        if (needle.Length == 0) return false;
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    public static string Article(string nextWord) => "aeiou".Contains(nextWord[0]) ? "an" : "a";
}
