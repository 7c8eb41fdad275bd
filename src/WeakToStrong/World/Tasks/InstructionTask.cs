using System.Text.RegularExpressions;

namespace WeakToStrong.World.Tasks;

/// <summary>
/// AlpacaEval analog: short instructions over eight families. The gold judge wants the correct answer alone on one
/// line; pretraining pairs instructions with answers in varied formats (mostly chatty, some wrong), so base models
/// know the tasks but not the preferred format. The reference policy answers correctly but says "the answer is X.".
/// </summary>
public sealed class InstructionTask : ITaskGenerator
{
    public string Name => "instruction";

    public const string PromptPrefix = "### Instruction:\n";
    public const string ResponseMarker = "\n### Response:\n";

    public enum PairwiseOutcome { Loss = -1, Tie = 0, Win = 1 }

    /// <summary>How a response is phrased; the wrong styles answer incorrectly.</summary>
    public enum ResponseStyle { Terse, Reference, Chatty, WrongTerse, WrongChatty }

    /// <summary>What an instruction asks for, worked out from its text alone.</summary>
    public sealed record Expected(string Family, string Answer, Func<string, bool> IsCorrect, Func<string, bool> IsBareAnswer);

    sealed record Family(string Name, Func<DeterministicRandom, string> Write, Func<string, Expected?> TryParse);

    public static string PromptFor(string instruction) => PromptPrefix + instruction + ResponseMarker;

    /// <summary>
    /// The instruction inside an embedded prompt, character for character, or the prompt itself (a real dataset's
    /// instruction, e.g. AlpacaEval's, whose leading and trailing whitespace alpaca_eval's join depends on).
    /// </summary>
    public static string ExactInstructionOf(string prompt)
    {
        if (!prompt.StartsWith(PromptPrefix, StringComparison.Ordinal)) return prompt;
        int end = prompt.IndexOf(ResponseMarker, StringComparison.Ordinal);
        return end < 0 ? prompt[PromptPrefix.Length..] : prompt[PromptPrefix.Length..end];
    }

    /// <summary>The instruction inside a prompt, or the text itself when it is not a prompt, trimmed (what the judge reads).</summary>
    public static string InstructionOf(string promptOrInstruction)
    {
        if (!promptOrInstruction.StartsWith(PromptPrefix, StringComparison.Ordinal)) return promptOrInstruction.Trim();
        int end = promptOrInstruction.IndexOf(ResponseMarker, StringComparison.Ordinal);
        return (end < 0 ? promptOrInstruction[PromptPrefix.Length..] : promptOrInstruction[PromptPrefix.Length..end]).Trim();
    }

    public IEnumerable<string> PretrainingTexts(int count, ulong seed)
    {
        var stream = DeterministicRandom.For(seed, "instruction/pretraining");
        // Chatty-heavy with some errors: the format a judge prefers is present but rare.
        ResponseStyle[] mix = [ResponseStyle.Terse, ResponseStyle.Terse, ResponseStyle.Reference, ResponseStyle.Reference,
            ResponseStyle.Chatty, ResponseStyle.Chatty, ResponseStyle.Chatty, ResponseStyle.Chatty, ResponseStyle.Chatty,
            ResponseStyle.WrongTerse, ResponseStyle.WrongChatty, ResponseStyle.WrongChatty];
        int produced = 0;
        while (produced < count)
        {
            var rng = new DeterministicRandom(stream.NextUInt64());
            string instruction = GenerateInstruction(rng);
            if (!TaskSplit.IsIn(instruction, TaskSplit.Train)) continue;
            produced++;
            yield return PromptFor(instruction) + Respond(instruction, rng.Pick(mix), rng);
        }
    }

    public IReadOnlyList<TaskPrompt> Prompts(string split, int count, ulong seed)
    {
        TaskSplit.Validate(split);
        var stream = DeterministicRandom.For(seed, "instruction/prompts/" + split);
        return TaskSplit.CollectDistinct(count, () =>
        {
            string instruction = GenerateInstruction(new DeterministicRandom(stream.NextUInt64()));
            if (!TaskSplit.IsIn(instruction, split)) return null;
            var expected = Solve(instruction);
            var meta = new Dictionary<string, string> { ["family"] = expected.Family, ["answer"] = expected.Answer, ["instruction"] = instruction };
            return new TaskPrompt($"instruction-{split}-{StableHash.Hex(instruction)}", PromptFor(instruction), ReferenceOutput(instruction), meta);
        }, p => p.Prompt, $"instruction {split} prompts");
    }

    /// <summary>Two responses in different styles, ordered by <see cref="Judge"/>; ties are skipped.</summary>
    public IReadOnlyList<PreferencePair> PreferencePairs(int count, ulong seed)
    {
        var stream = DeterministicRandom.For(seed, "instruction/pairs");
        var styles = Enum.GetValues<ResponseStyle>();
        return TaskSplit.CollectDistinct(count, () =>
        {
            var rng = new DeterministicRandom(stream.NextUInt64());
            string instruction = GenerateInstruction(rng);
            if (!TaskSplit.IsIn(instruction, TaskSplit.Train)) return null;
            var two = rng.Sample(styles, 2);
            string a = Respond(instruction, two[0], rng), b = Respond(instruction, two[1], rng);
            return Compare(instruction, a, b) switch
            {
                PairwiseOutcome.Win => new PreferencePair(PromptFor(instruction), a, b),
                PairwiseOutcome.Loss => new PreferencePair(PromptFor(instruction), b, a),
                _ => null,
            };
        }, p => p.Prompt + "\u0001" + p.Chosen + "\u0001" + p.Rejected, "instruction preference pairs");
    }

    // ---- Gold judge ----

    /// <summary>
    /// 2 · correct + format, where correct = the exact answer is present and nothing contradicts it, and format =
    /// 1 for the answer alone on one line, 0.5 for one line with at most 4 words besides the answer, else 0.
    /// Correct terse 3 &gt; reference ("the answer is X.") 2.5 &gt; chatty correct 2 &gt; wrong terse 1.
    /// </summary>
    public static double Judge(string instruction, string output)
    {
        var expected = Solve(InstructionOf(instruction));
        string text = output.Trim();
        bool correct = expected.IsCorrect(text);
        bool oneLine = text.Length > 0 && !text.Contains('\n');
        double format = !oneLine ? 0
            : expected.IsBareAnswer(text) ? 1
            : Words.Count(text) - Words.Count(expected.Answer) <= 4 ? 0.5
            : 0;
        return (correct ? 2 : 0) + format;
    }

    /// <summary>Win when <paramref name="a"/> is judged better than <paramref name="b"/>; antisymmetric by construction.</summary>
    public static PairwiseOutcome Compare(string instruction, string a, string b)
    {
        double difference = Judge(instruction, a) - Judge(instruction, b);
        return Math.Abs(difference) < 1e-9 ? PairwiseOutcome.Tie : difference > 0 ? PairwiseOutcome.Win : PairwiseOutcome.Loss;
    }

    /// <summary>The fixed reference policy (the gpt-4-turbo analog): correct, mildly verbose.</summary>
    public static string ReferenceOutput(string instruction) => $"the answer is {Solve(InstructionOf(instruction)).Answer}.";

    public static Expected Solve(string instruction)
    {
        foreach (var family in Families)
            if (family.TryParse(instruction) is { } expected) return expected;
        throw new InvalidInputException($"not an instruction this task generates: \"{instruction}\"");
    }

    // ---- Instructions and responses ----

    public static string GenerateInstruction(DeterministicRandom rng) => rng.Pick(Families).Write(rng);

    public static string Respond(string instruction, ResponseStyle style, DeterministicRandom rng)
    {
        var expected = Solve(instruction);
        string answer = style is ResponseStyle.WrongTerse or ResponseStyle.WrongChatty ? WrongAnswer(instruction, expected, rng) : expected.Answer;
        return style switch
        {
            ResponseStyle.Terse or ResponseStyle.WrongTerse => answer,
            ResponseStyle.Reference => $"the answer is {answer}.",
            _ => string.Format(rng.Pick(ChattyFormats), answer),
        };
    }

    // Chat filler avoids every word a family's checks look at (numbers, antonyms, list items, sentiment labels).
    static readonly string[] ChattyFormats =
    [
        "sure! the answer is {0}. hope this helps!",
        "great question! it is {0}. let me know if you need anything else.",
        "of course.\n{0}\nglad to help!",
        "here you go: {0}. is there anything else i can do for you?",
        "let me think about that. i believe it is {0}.",
        "okay! {0} is the answer. have a nice time!",
        "{0}\n\ni hope this answers your question. feel free to ask more!",
        "certainly! after thinking it through, the result is {0}.",
    ];

    static string WrongAnswer(string instruction, Expected expected, DeterministicRandom rng)
    {
        switch (expected.Family)
        {
            case "add":
            case "subtract":
            {
                var operands = Numbers(instruction);
                int answer = int.Parse(expected.Answer);
                int wrong;
                do wrong = answer + (rng.Chance(0.5) ? 1 : -1) * rng.NextInt(1, 10);
                while (wrong < 0 || operands.Contains(wrong));
                return wrong.ToString();
            }
            case "sort":
            {
                var sorted = Numbers(expected.Answer);
                if (rng.Chance(0.5)) sorted.Reverse();
                else { int i = rng.NextInt(sorted.Count - 1); (sorted[i], sorted[i + 1]) = (sorted[i + 1], sorted[i]); }
                return string.Join(", ", sorted);
            }
            case "reverse":
            {
                string answer = expected.Answer;
                if (rng.Chance(0.3)) return new string(answer.Reverse().ToArray()); // the word itself, unreversed
                var letters = answer.ToCharArray();
                int i = rng.NextInt(letters.Length - 1);
                while (letters[i] == letters[i + 1]) i = (i + 1) % (letters.Length - 1);
                (letters[i], letters[i + 1]) = (letters[i + 1], letters[i]);
                return new string(letters);
            }
            case "list":
            {
                var items = expected.Answer.Split(", ").ToList();
                if (rng.Chance(0.5) && items.Count > 1) items.RemoveAt(items.Count - 1);
                else
                {
                    var category = ListCategories.First(c => c.Items.Contains(items[0]));
                    var foreign = rng.Pick(ListCategories.Where(c => c != category).ToArray());
                    items[^1] = rng.Pick(foreign.Items);
                }
                return string.Join(", ", items);
            }
            case "uppercase":
                return rng.Chance(0.5) ? expected.Answer.ToLowerInvariant() : expected.Answer[0] + expected.Answer[1..].ToLowerInvariant();
            case "plural":
            {
                string word = PluralOf.First(kv => kv.Value == expected.Answer).Key;
                return WrongPlurals(word).First(w => w != expected.Answer);
            }
            case "antonym":
            {
                string word = Antonyms.First(kv => kv.Value == expected.Answer).Key;
                return Other(AntonymWords, [word, expected.Answer], rng);
            }
            case "sentiment":
                return expected.Answer == "positive" ? "negative" : "positive";
            default:
                throw new InvalidOperationException($"no wrong answers for family {expected.Family}");
        }
    }

    static string Other(IReadOnlyList<string> words, string[] not, DeterministicRandom rng)
    {
        int i = rng.NextInt(words.Count);
        while (not.Contains(words[i])) i = (i + 1) % words.Count;
        return words[i];
    }

    // ---- Families: how each is written, and how its text is read back ----

    static List<int> Numbers(string text) => Regex.Matches(text, @"\d+").Select(m => int.Parse(m.Value)).ToList();
    static string[] Tokens(string text) => Words.Tokens(text);
    static bool IsSingleToken(string text, Func<string, bool> shape) => Tokens(text) is [var only] && only == text.TrimEnd('.') && shape(only);
    static bool IsLowerWord(string t) => t.Length > 0 && t.All(char.IsAsciiLetterLower);

    static Expected? ParseWith(string instruction, string[] patterns, Func<Match, Expected?> build)
    {
        foreach (var pattern in patterns)
        {
            var match = Regex.Match(instruction, "^" + pattern + "$");
            if (match.Success) return build(match);
        }
        return null;
    }

    static string Fill(string template, params (string Slot, string Value)[] values)
    {
        foreach (var (slot, value) in values) template = template.Replace("{" + slot + "}", value);
        return template;
    }

    // Templates with {slots}; the matching regexes are built from them so the two cannot drift apart.
    static string[] Patterns(string[] templates, params (string Slot, string Regex)[] slots) =>
        templates.Select(t => slots.Aggregate(Regex.Escape(t).Replace(@"\{", "{"), (p, s) => p.Replace("{" + s.Slot + "}", s.Regex))).ToArray();

    static readonly string[] AddTemplates = ["add {a} and {b}.", "what is {a} plus {b}?", "compute the sum of {a} and {b}."];
    static readonly string[] SubtractTemplates = ["subtract {b} from {a}.", "what is {a} minus {b}?", "how much is {a} take away {b}?"];
    static readonly string[] ReverseTemplates = ["reverse the word {w}.", "spell {w} backwards.", "write the letters of {w} in reverse order."];
    static readonly string[] SortTemplates = ["sort these numbers from smallest to largest: {l}.", "put {l} in increasing order.", "arrange in ascending order: {l}."];
    static readonly string[] ListTemplates = ["list {n} {c}.", "name {n} {c}.", "give me {n} examples of {c}."];
    static readonly string[] UppercaseTemplates = ["write {w} in uppercase.", "convert {w} to capital letters.", "rewrite the word {w} in all caps."];
    static readonly string[] PluralTemplates = ["what is the plural of {w}?", "give the plural form of {w}.", "pluralize the word {w}."];
    static readonly string[] AntonymTemplates = ["what is the opposite of {w}?", "give an antonym of {w}.", "name a word that means the opposite of {w}."];
    static readonly string[] SentimentTemplates = ["is the phrase \"{p}\" positive or negative?", "classify the sentiment of \"{p}\" as positive or negative.", "does \"{p}\" sound positive or negative?"];

    const string Number = @"(\d+)";
    const string Word = @"([a-z]+)";

    static Expected Arithmetic(string family, int a, int b, int answer) => new(
        family, answer.ToString(),
        output =>
        {
            // Numbers other than the operands are claims about the result; all of them must be the answer.
            var claims = Numbers(output).Where(n => n != a && n != b).ToList();
            return claims.Count > 0 && claims.All(n => n == answer);
        },
        output => IsSingleToken(output, t => t == t.Trim() && t.All(char.IsAsciiDigit)));

    // ---- Lexicon ----

    static readonly string[] ReversibleWords =
    [
        "planet", "garden", "river", "window", "pencil", "market", "silver", "candle", "forest", "rocket", "button", "castle",
        "dragon", "flower", "guitar", "island", "jacket", "kitten", "lemon", "magnet", "number", "orange", "parrot", "rabbit",
        "sunset", "tunnel", "velvet", "wonder", "yellow", "zebra", "bridge", "cloud", "dance", "eagle", "frost", "grape",
        "honey", "juice", "knight", "light", "mouse", "night", "ocean", "piano", "quiet", "storm", "tiger", "under",
        "voice", "water", "apple", "bread", "chair", "dream", "earth", "field", "glass", "heart", "metal", "paper",
    ];

    sealed record ListCategory(string Name, string[] Items);

    static readonly ListCategory[] ListCategories =
    [
        new("fruits", ["apple", "banana", "cherry", "mango", "pear", "plum", "kiwi", "peach"]),
        new("colors", ["red", "blue", "green", "purple", "pink", "brown", "black", "white"]),
        new("animals", ["horse", "lion", "bear", "fox", "wolf", "deer", "goat", "otter"]),
        new("vegetables", ["carrot", "potato", "onion", "celery", "spinach", "pepper", "cabbage", "leek"]),
        new("sports", ["soccer", "tennis", "hockey", "golf", "rugby", "cricket", "boxing", "rowing"]),
        new("instruments", ["violin", "drum", "flute", "trumpet", "cello", "harp", "banjo", "clarinet"]),
        new("tools", ["hammer", "wrench", "saw", "drill", "chisel", "pliers", "shovel", "rake"]),
        new("vehicles", ["bus", "truck", "train", "boat", "tram", "van", "bicycle", "taxi"]),
    ];

    static readonly HashSet<string> AllListItems = ListCategories.SelectMany(c => c.Items).ToHashSet();

    static readonly Dictionary<string, string> PluralOf = new()
    {
        ["cat"] = "cats", ["book"] = "books", ["tree"] = "trees", ["box"] = "boxes", ["bus"] = "buses", ["dish"] = "dishes",
        ["church"] = "churches", ["city"] = "cities", ["baby"] = "babies", ["story"] = "stories", ["mouse"] = "mice",
        ["child"] = "children", ["foot"] = "feet", ["tooth"] = "teeth", ["man"] = "men", ["woman"] = "women",
        ["person"] = "people", ["goose"] = "geese", ["leaf"] = "leaves", ["knife"] = "knives", ["wolf"] = "wolves",
        ["sheep"] = "sheep", ["fish"] = "fish", ["hero"] = "heroes", ["potato"] = "potatoes", ["table"] = "tables",
    };

    /// <summary>Plausible but wrong plurals: the naive suffixes, less the right one.</summary>
    static IEnumerable<string> WrongPlurals(string word) =>
        new[] { word + "s", word + "es", word.Length > 1 ? word[..^1] + "ies" : word + "ies" }.Where(w => w != PluralOf[word]);

    static readonly Dictionary<string, string> Antonyms = BuildAntonyms(
    [
        ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("light", "dark"), ("early", "late"),
        ("full", "empty"), ("high", "low"), ("hard", "soft"), ("rich", "poor"), ("strong", "weak"), ("wet", "dry"),
        ("loud", "quiet"), ("thick", "thin"), ("clean", "dirty"), ("tall", "short"), ("young", "old"), ("push", "pull"),
        ("win", "lose"), ("true", "false"), ("love", "hate"), ("buy", "sell"), ("north", "south"), ("east", "west"),
        ("brave", "cowardly"), ("sharp", "dull"), ("smooth", "rough"), ("heavy", "lightweight"),
    ]);

    static readonly string[] AntonymWords = Antonyms.Keys.ToArray();

    static Dictionary<string, string> BuildAntonyms((string, string)[] pairs)
    {
        var map = new Dictionary<string, string>();
        foreach (var (a, b) in pairs) { map.Add(a, b); map.Add(b, a); }
        return map;
    }

    static readonly string[] PositivePhrases =
    [
        "a wonderful day", "such a lovely gift", "i really enjoyed it", "what a great idea", "the food was delicious",
        "a brilliant performance", "this made me so glad", "a kind and helpful neighbor", "the best trip ever", "a warm welcome",
    ];

    static readonly string[] NegativePhrases =
    [
        "a terrible mistake", "the service was awful", "i regret every minute", "what a boring lecture", "the room was filthy",
        "a painful experience", "this made me so angry", "a rude and careless driver", "the worst meal ever", "a cold reception",
    ];

    static readonly Family[] Families =
    [
        new("add",
            // Small operands: facts a larger base model can learn from the corpus and a one-layer model cannot.
            r => { int a = r.NextInt(1, 12), b = r.NextInt(1, 12); return Fill(r.Pick(AddTemplates), ("a", a.ToString()), ("b", b.ToString())); },
            s => ParseWith(s, Patterns(AddTemplates, ("a", Number), ("b", Number)), m =>
            {
                int a = int.Parse(m.Groups[1].Value), b = int.Parse(m.Groups[2].Value);
                return Arithmetic("add", a, b, a + b);
            })),
        new("subtract",
            r =>
            {
                int a, b;
                do { a = r.NextInt(6, 20); b = r.NextInt(1, a - 1); } while (a - b == b);
                return Fill(r.Pick(SubtractTemplates), ("a", a.ToString()), ("b", b.ToString()));
            },
            s =>
            {
                // "subtract {b} from {a}" names the operands in the other order.
                var first = ParseWith(s, Patterns(SubtractTemplates[..1], ("b", Number), ("a", Number)), m =>
                {
                    int b = int.Parse(m.Groups[1].Value), a = int.Parse(m.Groups[2].Value);
                    return Arithmetic("subtract", a, b, a - b);
                });
                return first ?? ParseWith(s, Patterns(SubtractTemplates[1..], ("a", Number), ("b", Number)), m =>
                {
                    int a = int.Parse(m.Groups[1].Value), b = int.Parse(m.Groups[2].Value);
                    return Arithmetic("subtract", a, b, a - b);
                });
            }),
        new("reverse",
            r => Fill(r.Pick(ReverseTemplates), ("w", r.Pick(ReversibleWords))),
            s => ParseWith(s, Patterns(ReverseTemplates, ("w", Word)), m =>
            {
                string word = m.Groups[1].Value, answer = new(word.Reverse().ToArray());
                string letters = new(word.Order().ToArray());
                return new Expected("reverse", answer,
                    output =>
                    {
                        var tokens = Tokens(output);
                        // Another arrangement of the same letters is a competing (wrong) reversal.
                        return tokens.Contains(answer) && !tokens.Any(t => t != word && t != answer && new string(t.Order().ToArray()) == letters);
                    },
                    output => IsSingleToken(output, IsLowerWord));
            })),
        new("sort",
            r =>
            {
                var numbers = r.Sample(Enumerable.Range(1, 30).ToArray(), r.NextInt(3, 4));
                return Fill(r.Pick(SortTemplates), ("l", string.Join(", ", numbers)));
            },
            s => ParseWith(s, Patterns(SortTemplates, ("l", @"(\d+(?:, \d+)+)")), m =>
            {
                var sorted = Numbers(m.Groups[1].Value).Order().ToList();
                return new Expected("sort", string.Join(", ", sorted),
                    output => Numbers(output).SequenceEqual(sorted),
                    output => Regex.IsMatch(output, @"^\d+(, \d+)*$"));
            })),
        new("list",
            r =>
            {
                var category = r.Pick(ListCategories);
                return Fill(r.Pick(ListTemplates), ("n", r.NextInt(2, 4).ToString()), ("c", category.Name));
            },
            s => ParseWith(s, Patterns(ListTemplates, ("n", Number), ("c", @"([a-z ]+)")), m =>
            {
                int n = int.Parse(m.Groups[1].Value);
                var category = ListCategories.FirstOrDefault(c => c.Name == m.Groups[2].Value);
                if (category is null) return null;
                return new Expected("list", string.Join(", ", category.Items.Take(n)),
                    output =>
                    {
                        var mentioned = Tokens(output).Where(AllListItems.Contains).ToList();
                        return mentioned.Count == n && mentioned.Distinct().Count() == n && mentioned.All(category.Items.Contains);
                    },
                    output => output.Split(", ").All(AllListItems.Contains));
            })),
        new("uppercase",
            r => Fill(r.Pick(UppercaseTemplates), ("w", r.Pick(ReversibleWords))),
            s => ParseWith(s, Patterns(UppercaseTemplates, ("w", Word)), m =>
            {
                string word = m.Groups[1].Value, answer = word.ToUpperInvariant();
                return new Expected("uppercase", answer,
                    output =>
                    {
                        var tokens = Tokens(output);
                        return tokens.Contains(answer) && !tokens.Any(t => t != word && t != answer && t.Equals(word, StringComparison.OrdinalIgnoreCase));
                    },
                    output => IsSingleToken(output, t => t.All(char.IsAsciiLetterUpper)));
            })),
        new("plural",
            r => Fill(r.Pick(PluralTemplates), ("w", r.Pick(PluralOf.Keys.ToArray()))),
            s => ParseWith(s, Patterns(PluralTemplates, ("w", Word)), m =>
            {
                if (!PluralOf.TryGetValue(m.Groups[1].Value, out var answer)) return null;
                var wrong = WrongPlurals(m.Groups[1].Value).ToHashSet();
                return new Expected("plural", answer,
                    output => Tokens(output) is var tokens && tokens.Contains(answer) && !tokens.Any(wrong.Contains),
                    output => IsSingleToken(output, IsLowerWord));
            })),
        new("antonym",
            r => Fill(r.Pick(AntonymTemplates), ("w", r.Pick(AntonymWords))),
            s => ParseWith(s, Patterns(AntonymTemplates, ("w", Word)), m =>
            {
                string word = m.Groups[1].Value;
                if (!Antonyms.TryGetValue(word, out var answer)) return null;
                return new Expected("antonym", answer,
                    output => Tokens(output) is var tokens && tokens.Contains(answer) && !tokens.Any(t => t != word && t != answer && Antonyms.ContainsKey(t)),
                    output => IsSingleToken(output, IsLowerWord));
            })),
        new("sentiment",
            r =>
            {
                var phrases = r.Chance(0.5) ? PositivePhrases : NegativePhrases;
                return Fill(r.Pick(SentimentTemplates), ("p", r.Pick(phrases)));
            },
            s => ParseWith(s, Patterns(SentimentTemplates, ("p", @"([a-z' ]+)")), m =>
            {
                string phrase = m.Groups[1].Value;
                string? answer = PositivePhrases.Contains(phrase) ? "positive" : NegativePhrases.Contains(phrase) ? "negative" : null;
                if (answer is null) return null;
                string other = answer == "positive" ? "negative" : "positive";
                return new Expected("sentiment", answer,
                    output => Tokens(output) is var tokens && tokens.Contains(answer) && !tokens.Contains(other),
                    output => output is "positive" or "negative");
            })),
    ];

}
