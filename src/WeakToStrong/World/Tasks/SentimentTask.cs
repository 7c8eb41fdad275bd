namespace WeakToStrong.World.Tasks;

/// <summary>
/// IMDB analog: movie reviews from a grammar. Capability = coherent, agreeing, consistently paired sentences
/// (corrupted reviews break exactly that); preference = positive sentiment.
/// A review is generated from a polarity and a random stream whose draws never depend on the polarity, so the
/// same stream with the opposite polarity gives the review's mirror image (same structure, opposite sentiment):
/// that is how preference pairs share a prompt prefix.
/// </summary>
public sealed class SentimentTask : ITaskGenerator
{
    public string Name => "sentiment";

    public const string PositiveLabel = "positive";
    public const string NegativeLabel = "negative";

    /// <summary>A generated review, its latent sentiment and the ids of the sentence templates it used.</summary>
    public sealed record Review(string Text, bool Positive, IReadOnlyList<string> Templates);

    /// <summary>Countable singular nouns take "a/an" where mass nouns ("acting", "dialogue") and plurals take none.</summary>
    sealed record Aspect(string Noun, bool Plural, string Kind)
    {
        public bool Countable => !Plural && CountableNouns.Contains(Noun);
    }

    static readonly HashSet<string> CountableNouns =
    [
        "cast", "lead actor", "supporting cast", "villain", "plot", "story", "script", "screenplay", "premise", "twist", "backstory",
        "soundtrack", "score", "first half", "middle section", "ending", "climax", "final act", "last scene", "tone", "atmosphere",
        "opening scene", "romance",
    ];
    sealed record Genre(string Singular, string Plural);
    sealed record Template(string Id, Func<Sentence, string> Write);

    public IEnumerable<string> PretrainingTexts(int count, ulong seed)
    {
        var stream = DeterministicRandom.For(seed, "sentiment/pretraining");
        int produced = 0;
        for (long i = 0; produced < count; i++)
        {
            // Alternating polarity keeps the corpus balanced.
            var review = GenerateReview(i % 2 == 0, new DeterministicRandom(stream.NextUInt64()));
            if (!TaskSplit.IsIn(review.Text, TaskSplit.Train)) continue;
            produced++;
            yield return review.Text;
        }
    }

    public IReadOnlyList<TaskPrompt> Prompts(string split, int count, ulong seed)
    {
        TaskSplit.Validate(split);
        var stream = DeterministicRandom.For(seed, "sentiment/prompts/" + split);
        return TaskSplit.CollectDistinct(count, () =>
        {
            var itemRng = new DeterministicRandom(stream.NextUInt64());
            var review = GenerateReview(itemRng.Chance(0.5), itemRng);
            var words = review.Text.Split(' ');
            int take = Math.Min(itemRng.NextInt(2, 8), words.Length - 1);
            string prefix = string.Join(' ', words.Take(take));
            // Held out twice over: the whole review and the prefix both belong to the split.
            if (!TaskSplit.IsIn(review.Text, split) || !TaskSplit.IsIn(prefix, split)) return null;
            var meta = new Dictionary<string, string>
            {
                ["label"] = review.Positive ? PositiveLabel : NegativeLabel,
                ["review"] = review.Text,
            };
            return new TaskPrompt($"sentiment-{split}-{StableHash.Hex(prefix)}", prefix, review.Text[prefix.Length..], meta);
        }, p => p.Prompt, $"sentiment {split} prompts");
    }

    /// <summary>Prompt = a shared prefix; chosen = the positive review's continuation, rejected = its negative mirror's.</summary>
    public IReadOnlyList<PreferencePair> PreferencePairs(int count, ulong seed)
    {
        var stream = DeterministicRandom.For(seed, "sentiment/pairs");
        return TaskSplit.CollectDistinct(count, () =>
        {
            ulong itemSeed = stream.NextUInt64();
            var positive = GenerateReview(true, new DeterministicRandom(itemSeed));
            var negative = GenerateReview(false, new DeterministicRandom(itemSeed));
            if (!TaskSplit.IsIn(positive.Text, TaskSplit.Train) || !TaskSplit.IsIn(negative.Text, TaskSplit.Train)) return null;
            var pw = positive.Text.Split(' ');
            var nw = negative.Text.Split(' ');
            int common = 0;
            while (common < pw.Length - 1 && common < nw.Length - 1 && pw[common] == nw[common]) common++;
            int take = Math.Min(new DeterministicRandom(itemSeed ^ 0x5bd1e995UL).NextInt(2, 8), common);
            if (take < 2) return null;
            string prefix = string.Join(' ', pw.Take(take));
            if (!TaskSplit.IsIn(prefix, TaskSplit.Train)) return null;
            return new PreferencePair(prefix, positive.Text[prefix.Length..], negative.Text[prefix.Length..]);
        }, p => p.Prompt + "\u0001" + p.Chosen, "sentiment preference pairs");
    }

    /// <summary>
    /// Data for the gold classifier: balanced clean reviews plus about 40% corrupted ones, labelled negative
    /// whatever their source sentiment (mostly positive sources), so the gold reward needs coherence as well as positivity.
    /// </summary>
    public IReadOnlyList<ClassifierExample> ClassifierExamples(int count, ulong seed)
    {
        var stream = DeterministicRandom.For(seed, "sentiment/classifier");
        var result = new List<ClassifierExample>(count);
        int cleanPositive = 0, cleanNegative = 0;
        while (result.Count < count)
        {
            var rng = new DeterministicRandom(stream.NextUInt64());
            bool corrupt = rng.Chance(0.4);
            bool positive = corrupt ? rng.Chance(0.75) : cleanPositive <= cleanNegative;
            var review = GenerateReview(positive, rng);
            if (!TaskSplit.IsIn(review.Text, TaskSplit.Train)) continue;
            if (!corrupt && positive) cleanPositive++;
            else if (!corrupt) cleanNegative++;
            result.Add(corrupt
                ? new ClassifierExample(rng.Chance(0.5) ? Babble(review, rng) : Corrupt(review.Text, rng), NegativeLabel, true)
                : new ClassifierExample(rng.Chance(0.3) ? Truncate(review.Text, rng) : review.Text, positive ? PositiveLabel : NegativeLabel, false));
        }
        return result;
    }

    /// <summary>A review cut at a word boundary past its middle, as a generation cut by max_new_tokens is: still the same opinion.</summary>
    static string Truncate(string review, DeterministicRandom rng)
    {
        var words = review.Split(' ');
        return string.Join(' ', words.Take(rng.NextInt(words.Length / 2 + 1, words.Length)));
    }

    // ---- Review grammar ----

    /// <summary>3–6 sentences: an optional opening, body sentences about distinct aspects (some mixed asides), an optional verdict.</summary>
    public static Review GenerateReview(bool positive, DeterministicRandom rng)
    {
        var sentence = new Sentence(rng, positive, rng.Pick(Genres));
        int total = rng.NextInt(3, 6);
        bool opening = rng.Chance(0.6);
        bool verdict = rng.Chance(0.85);
        int body = total - (opening ? 1 : 0) - (verdict ? 1 : 0);
        var parts = new List<string>();
        var ids = new List<string>();
        var usedBody = new HashSet<int>();
        if (opening) Add(OpeningTemplates[rng.NextInt(OpeningTemplates.Length)], positive);
        for (int i = 0; i < body; i++)
        {
            int index = rng.NextInt(BodyTemplates.Length);
            while (!usedBody.Add(index)) index = (index + 1) % BodyTemplates.Length;
            // A mixed review: now and then one sentence goes against the overall sentiment.
            bool aside = rng.Chance(0.15);
            Add(BodyTemplates[index], aside ? !positive : positive);
        }
        if (verdict) Add(VerdictTemplates[rng.NextInt(VerdictTemplates.Length)], positive);
        return new Review(string.Join(' ', parts), positive, ids);

        void Add(Template template, bool polarity)
        {
            sentence.Positive = polarity;
            parts.Add(template.Write(sentence));
            ids.Add(template.Id);
        }
    }

    // Expression-bodied: the template tables are declared further down, and static initializers run in text order.
    public static IReadOnlyList<string> TemplateIds =>
        OpeningTemplates.Concat(BodyTemplates).Concat(VerdictTemplates).Select(t => t.Id).ToArray();

    /// <summary>Word salad from a review: words shuffled across sentences, function words dropped, sentences scrambled, agreement broken, fragments spliced, or words garbled.</summary>
    public static string Corrupt(string review, DeterministicRandom rng)
    {
        var sentences = review.Split(['.', '!', '?'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => s.Replace(",", "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList()).Where(s => s.Count > 0).ToList();
        for (int attempt = 0; attempt < 8; attempt++)
        {
            var broken = rng.NextInt(6) switch
            {
                0 => ShuffleAcrossSentences(sentences, rng),
                1 => DropFunctionWords(sentences, rng),
                2 => sentences.Select(s => { var c = s.ToList(); rng.Shuffle(c); return c; }).ToList(),
                3 => BreakAgreement(sentences, rng),
                4 => SpliceFragments(sentences, rng),
                _ => Garble(sentences, rng),
            };
            string text = string.Join(' ', broken.Where(s => s.Count > 0).Select(s => string.Join(' ', s) + "."));
            if (text != review && text.Length > 0) return text;
        }
        return string.Join(' ', review.Split(' ').Reverse());
    }

    /// <summary>
    /// Babble from a word n-gram model of the grammar's reviews, starting like <paramref name="review"/> and as
    /// long: each word follows the previous one or two plausibly, the whole says nothing. This is how an
    /// undertrained small language model writes, so the gold classifier learns that such text is no review.
    /// </summary>
    public static string Babble(Review review, DeterministicRandom rng)
    {
        var (trigrams, bigrams) = NGrams.Value;
        var source = review.Text.Split(' ');
        var words = new List<string>(source.Take(2));
        while (words.Count < source.Length)
        {
            // A bigram step now and then: weak models lose track of even the last two words.
            var next = words.Count >= 2 && rng.Chance(0.7) && trigrams.TryGetValue((words[^2], words[^1]), out var t) ? t
                : bigrams.TryGetValue(words[^1], out var b) ? b : null;
            words.Add(next is null ? rng.Pick(source) : rng.Pick(next));
        }
        string text = string.Join(' ', words);
        return text == review.Text ? Corrupt(review.Text, rng) : text;
    }

    static readonly Lazy<(Dictionary<(string, string), List<string>> Trigrams, Dictionary<string, List<string>> Bigrams)> NGrams = new(() =>
    {
        var trigrams = new Dictionary<(string, string), List<string>>();
        var bigrams = new Dictionary<string, List<string>>();
        for (int i = 0; i < 3000; i++)
        {
            var words = GenerateReview(i % 4 != 0, new DeterministicRandom(0xBABB1EUL + (ulong)i)).Text.Split(' ');
            for (int j = 1; j < words.Length; j++)
            {
                (bigrams.TryGetValue(words[j - 1], out var b) ? b : bigrams[words[j - 1]] = []).Add(words[j]);
                if (j >= 2) (trigrams.TryGetValue((words[j - 2], words[j - 1]), out var t) ? t : trigrams[(words[j - 2], words[j - 1])] = []).Add(words[j]);
            }
        }
        return (trigrams, bigrams);
    });

    /// <summary>
    /// What a weak language model writes: short runs of words that read well locally, chained with no regard
    /// for the sentence they came from, sentences ending anywhere.
    /// </summary>
    static List<List<string>> SpliceFragments(List<List<string>> sentences, DeterministicRandom rng)
    {
        var words = sentences.SelectMany(s => s).ToList();
        var result = new List<List<string>> { new() };
        int total = words.Count;
        while (result.Sum(s => s.Count) < total)
        {
            int start = rng.NextInt(words.Count), length = rng.NextInt(2, 4);
            result[^1].AddRange(words.Skip(start).Take(length));
            if (rng.Chance(0.25)) result.Add([]);
        }
        return result;
    }

    /// <summary>Character-level slips of a weak model: merged words, stuttered letters, repeated words.</summary>
    static List<List<string>> Garble(List<List<string>> sentences, DeterministicRandom rng)
    {
        var result = new List<List<string>>();
        foreach (var sentence in sentences)
        {
            var garbled = new List<string>();
            for (int i = 0; i < sentence.Count; i++)
            {
                string word = sentence[i];
                int slip = rng.NextInt(8);
                if (slip == 0 && i + 1 < sentence.Count) { garbled.Add(word + sentence[++i]); continue; }
                if (slip == 1) { garbled.Add(word + new string(word[^1], rng.NextInt(2, 4))); continue; }
                if (slip == 2) garbled.Add(word);
                garbled.Add(word);
            }
            result.Add(garbled);
        }
        return result;
    }

    static List<List<string>> ShuffleAcrossSentences(List<List<string>> sentences, DeterministicRandom rng)
    {
        var all = sentences.SelectMany(s => s).ToList();
        rng.Shuffle(all);
        var result = new List<List<string>>();
        int at = 0;
        foreach (var s in sentences)
        {
            result.Add(all.GetRange(at, s.Count));
            at += s.Count;
        }
        return result;
    }

    static readonly HashSet<string> FunctionWords =
        ["the", "a", "an", "was", "were", "is", "are", "and", "but", "of", "to", "i", "it", "this", "with", "how", "as", "that", "me", "my", "than", "have", "had", "not", "never"];

    static List<List<string>> DropFunctionWords(List<List<string>> sentences, DeterministicRandom rng)
    {
        var result = sentences.Select(s => s.Where(w => !FunctionWords.Contains(w) || rng.Chance(0.2)).ToList()).ToList();
        // Also swap neighbours so what is left does not read as telegraphic but valid English.
        foreach (var s in result)
            for (int i = 0; i + 1 < s.Count; i += 2)
                if (rng.Chance(0.5)) (s[i], s[i + 1]) = (s[i + 1], s[i]);
        return result;
    }

    static readonly Dictionary<string, string> AgreementSwaps = new()
    {
        ["was"] = "were", ["were"] = "was", ["is"] = "are", ["are"] = "is", ["a"] = "an", ["an"] = "a",
        ["has"] = "have", ["have"] = "has", ["gives"] = "give", ["felt"] = "feel", ["kept"] = "keep",
    };

    static List<List<string>> BreakAgreement(List<List<string>> sentences, DeterministicRandom rng)
    {
        var result = sentences.Select(s => s.Select(w => AgreementSwaps.TryGetValue(w, out var swapped) ? swapped : w).ToList()).ToList();
        // Repeat a word and move the sentence-final word to the front: broken even where no agreement word occurs.
        foreach (var s in result)
        {
            int i = rng.NextInt(s.Count);
            s.Insert(i, s[i]);
            string last = s[^1];
            s.RemoveAt(s.Count - 1);
            s.Insert(0, last);
        }
        return result;
    }

    // ---- Lexicon ----

    static readonly Genre[] Genres =
    [
        new("thriller", "thrillers"), new("comedy", "comedies"), new("drama", "dramas"), new("horror film", "horror films"),
        new("western", "westerns"), new("musical", "musicals"), new("romance", "romances"), new("sci-fi film", "sci-fi films"),
        new("documentary", "documentaries"), new("animated film", "animated films"), new("war film", "war films"),
        new("mystery", "mysteries"), new("crime drama", "crime dramas"), new("fantasy epic", "fantasy epics"),
        new("heist movie", "heist movies"), new("period piece", "period pieces"), new("spy film", "spy films"),
        new("sequel", "sequels"), new("remake", "remakes"), new("biopic", "biopics"), new("disaster movie", "disaster movies"),
        new("courtroom drama", "courtroom dramas"), new("road movie", "road movies"), new("family film", "family films"),
    ];

    static readonly Aspect[] Aspects =
    [
        new("acting", false, "performance"), new("cast", false, "performance"), new("performances", true, "performance"),
        new("lead actor", false, "performance"), new("supporting cast", false, "performance"), new("villain", false, "performance"),
        new("plot", false, "story"), new("story", false, "story"), new("script", false, "story"), new("screenplay", false, "story"),
        new("premise", false, "story"), new("twist", false, "story"), new("backstory", false, "story"), new("writing", false, "story"),
        new("soundtrack", false, "sound"), new("score", false, "sound"), new("music", false, "sound"), new("sound design", false, "sound"),
        new("visuals", true, "look"), new("cinematography", false, "look"), new("camera work", false, "look"), new("lighting", false, "look"),
        new("special effects", true, "look"), new("costumes", true, "look"), new("set design", false, "look"), new("action scenes", true, "look"),
        new("pacing", false, "pace"), new("editing", false, "pace"), new("first half", false, "pace"), new("middle section", false, "pace"),
        new("dialogue", false, "words"), new("jokes", true, "words"), new("humor", false, "words"), new("banter", false, "words"),
        new("ending", false, "finale"), new("climax", false, "finale"), new("final act", false, "finale"), new("last scene", false, "finale"),
        new("direction", false, "general"), new("characters", true, "general"), new("tone", false, "general"), new("atmosphere", false, "general"),
        new("romance", false, "general"), new("opening scene", false, "general"), new("world building", false, "general"),
    ];

    static readonly string[] GenericPositive =
    [
        "great", "wonderful", "excellent", "superb", "brilliant", "fantastic", "terrific", "outstanding", "impressive", "remarkable",
        "delightful", "memorable", "fresh", "solid", "lovely", "charming", "engaging", "strong", "inspired", "marvelous",
    ];

    static readonly string[] GenericNegative =
    [
        "terrible", "awful", "dreadful", "weak", "poor", "bland", "dull", "boring", "forgettable", "sloppy",
        "lazy", "tedious", "messy", "lifeless", "flat", "disappointing", "mediocre", "clumsy", "shallow", "hollow",
    ];

    static readonly Dictionary<string, (string[] Positive, string[] Negative)> KindAdjectives = new()
    {
        ["performance"] = (["convincing", "nuanced", "natural", "committed", "magnetic", "heartfelt"], ["wooden", "stiff", "unconvincing", "hammy", "robotic", "awkward"]),
        ["story"] = (["gripping", "clever", "original", "intricate", "compelling", "surprising"], ["predictable", "convoluted", "thin", "muddled", "contrived", "derivative"]),
        ["sound"] = (["haunting", "catchy", "soaring", "rich", "stirring", "atmospheric"], ["grating", "repetitive", "shrill", "generic", "overbearing", "tinny"]),
        ["look"] = (["stunning", "gorgeous", "vivid", "striking", "lush", "breathtaking"], ["murky", "drab", "cheap", "ugly", "blurry", "garish"]),
        ["pace"] = (["brisk", "tight", "lively", "steady", "snappy", "taut"], ["sluggish", "plodding", "uneven", "dragging", "glacial", "choppy"]),
        ["words"] = (["witty", "sharp", "funny", "smart", "crisp", "quotable"], ["clunky", "cringeworthy", "stilted", "corny", "stale", "forced"]),
        ["finale"] = (["satisfying", "moving", "powerful", "bold", "earned", "perfect"], ["rushed", "abrupt", "baffling", "anticlimactic", "confusing", "unearned"]),
        ["general"] = ([], []),
    };

    static readonly Dictionary<(string Kind, bool Positive), string[]> AdjectivesByKind = KindAdjectives
        .SelectMany(kv => new[]
        {
            KeyValuePair.Create((kv.Key, true), kv.Value.Positive.Concat(GenericPositive).ToArray()),
            KeyValuePair.Create((kv.Key, false), kv.Value.Negative.Concat(GenericNegative).ToArray()),
        }).ToDictionary();

    // Adjectives that read naturally after a negator: "not bad", "never boring" (positive); "hardly impressive" (negative).
    static readonly string[] NegatableNegative = ["bad", "boring", "dull", "predictable", "forgettable", "clumsy", "tedious", "bland", "awful", "sloppy", "confusing", "slow"];
    static readonly string[] NegatablePositive = ["impressive", "memorable", "convincing", "funny", "original", "exciting", "moving", "clever", "engaging", "good", "interesting", "special"];
    static readonly string[] Negators = ["not", "never", "hardly", "far from", "by no means", "not exactly", "anything but", "not once"];
    static readonly string[] Intensifiers = ["", "", "", "really ", "truly ", "incredibly ", "remarkably ", "genuinely ", "absolutely ", "extremely ", "very ", "deeply ", "thoroughly ", "so ", "quite "];
    static readonly string[] Hedges = ["somewhat", "fairly", "mostly", "a bit", "rather", "at times", "in places", "perhaps", "arguably"];
    static readonly string[] Companions = ["sister", "brother", "friends", "roommate", "dad", "mom", "partner", "kids", "coworkers", "grandmother", "neighbor", "book club"];
    static readonly string[] Occasions = ["weekend", "night", "friday", "sunday", "month", "summer", "winter", "week", "tuesday", "holiday"];
    static readonly string[] Actors =
    [
        "ana reyes", "tom hale", "lena park", "omar vance", "june castillo", "felix moreau", "rosa lind", "victor okafor", "mila novak",
        "dev sharma", "clara holt", "sam whitford", "iris tanaka", "leo marsh", "nadia kerr", "hugo bell", "greta stone", "owen pryce",
        "maria solis", "ben achebe", "tessa quinn", "kai nakamura", "elena voss", "jonah reed",
    ];
    static readonly string[] Roles =
    [
        "detective", "villain", "young mother", "reluctant hero", "captain", "mentor", "lonely farmer", "con artist", "ghost",
        "small town sheriff", "grieving widow", "rookie pilot", "mad scientist", "street musician", "retired boxer", "queen",
    ];

    /// <summary>Writes one sentence: holds the review's stream, the current polarity and which aspects are taken.</summary>
    sealed class Sentence(DeterministicRandom rng, bool positive, Genre genre)
    {
        public readonly DeterministicRandom Rng = rng;
        public bool Positive = positive;
        public readonly Genre Genre = genre;
        readonly HashSet<int> _usedAspects = [];

        /// <summary>An aspect not yet discussed in this review (consistency: one judgement per aspect).</summary>
        public Aspect NewAspect()
        {
            int index = Rng.NextInt(Aspects.Length);
            while (!_usedAspects.Add(index)) index = (index + 1) % Aspects.Length;
            return Aspects[index];
        }

        public Aspect NewAspectOfKind(string kind)
        {
            var candidates = Enumerable.Range(0, Aspects.Length).Where(i => Aspects[i].Kind == kind).ToArray();
            int pick = Rng.NextInt(candidates.Length);
            for (int tries = 0; tries < candidates.Length; tries++, pick = (pick + 1) % candidates.Length)
                if (_usedAspects.Add(candidates[pick])) return Aspects[candidates[pick]];
            return NewAspect();
        }

        public string Adjective(Aspect aspect, bool polarity) => Rng.Pick(AdjectivesByKind[(aspect.Kind, polarity)]);
        public string Adjective(Aspect aspect) => Adjective(aspect, Positive);

        /// <summary>A second adjective different from the first, in one draw so polarity never changes the draw count.</summary>
        public string OtherAdjective(Aspect aspect, string first)
        {
            var list = AdjectivesByKind[(aspect.Kind, Positive)];
            int i = Rng.NextInt(list.Length);
            return list[i] == first ? list[(i + 1) % list.Length] : list[i];
        }

        public string Negated() => Rng.Pick(Negators) + " " + Rng.Pick(Positive ? NegatableNegative : NegatablePositive);
        public string Opposite() => Rng.Pick(Positive ? NegatableNegative : NegatablePositive);
        public string Intensifier() => Rng.Pick(Intensifiers);
        public string Hedge() => Rng.Pick(Hedges);
        public string Choose(string ifPositive, string ifNegative) => Positive ? ifPositive : ifNegative;
        public string Choose(string[] ifPositive, string[] ifNegative) => Rng.Pick(Positive ? ifPositive : ifNegative);
        public static string Was(Aspect a) => a.Plural ? "were" : "was";
        public static string Is(Aspect a) => a.Plural ? "are" : "is";
        public static string WithArticle(string adjective) => Words.Article(adjective) + " " + adjective;
    }

    static readonly Template[] OpeningTemplates =
    [
        new("open-watched", s => $"i watched this {s.Genre.Singular} last {s.Rng.Pick(Occasions)} with my {s.Rng.Pick(Companions)}."),
        new("open-expectations", s => $"i went into this {s.Genre.Singular} with {s.Choose(["low", "modest", "no"], ["high", "big", "huge"])} expectations."),
        new("open-one-of", s => $"this is one of the {s.Choose("best", "worst")} {s.Genre.Plural} i have seen in years."),
        new("open-finally", s => $"i finally got around to seeing this {s.Genre.Singular}."),
        new("open-talked-into", s => $"my {s.Rng.Pick(Companions)} talked me into seeing this {s.Genre.Singular}."),
        new("open-heard", s => $"i had heard {s.Choose("good", "bad")} things about this {s.Genre.Singular}, and they were right."),
        new("open-fan", s => $"as a fan of the director, i was {s.Choose(["thrilled", "delighted", "impressed"], ["let down", "annoyed", "bored"])} by this one."),
    ];

    static readonly Template[] BodyTemplates =
    [
        new("plain", s => { var a = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Intensifier()}{s.Adjective(a)}."; }),
        new("two-adjectives", s => { var a = s.NewAspect(); var x = s.Adjective(a); return $"the {a.Noun} {Sentence.Was(a)} {x} and {s.OtherAdjective(a, x)}."; }),
        new("found", s => { var a = s.NewAspect(); return $"i found the {a.Noun} {s.Intensifier()}{s.Adjective(a)}."; }),
        new("exclamation", s => { var a = s.NewAspect(); var x = s.Adjective(a); return a.Countable ? $"what {Sentence.WithArticle(x)} {a.Noun}!" : $"what {x} {a.Noun}!"; }),
        new("hedged", s => { var a = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Hedge()} {s.Adjective(a)}."; }),
        new("negation", s => { var a = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Negated()}."; }),
        new("negation-at-all", s => { var a = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} not {s.Opposite()} at all."; }),
        new("contrast-but", s => { var a = s.NewAspect(); var b = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Adjective(a, !s.Positive)}, but the {b.Noun} {Sentence.Was(b)} {s.Intensifier()}{s.Adjective(b)}."; }),
        new("contrast-although", s => { var a = s.NewAspect(); var b = s.NewAspect(); return $"although the {a.Noun} {Sentence.Was(a)} {s.Adjective(a, !s.Positive)}, the {b.Noun} {Sentence.Was(b)} {s.Adjective(b)}."; }),
        new("contrast-yet", s => { var a = s.NewAspect(); var b = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Adjective(a, !s.Positive)}, yet the {b.Noun} {s.Choose("more than made up for it", "dragged the whole thing down")}."; }),
        new("alone", s => { var a = s.NewAspect(); return $"the {a.Noun} alone {Sentence.Is(a)} {s.Choose(["worth the price of admission", "worth the ticket", "reason enough to watch"], ["enough to put anyone to sleep", "reason enough to stay home", "a chore to sit through"])}."; }),
        new("actor-performance", s => { var a = s.NewAspectOfKind("performance"); var x = s.Adjective(a); return $"{s.Rng.Pick(Actors)} gives {Sentence.WithArticle(x)} performance as the {s.Rng.Pick(Roles)}."; }),
        new("loved-how", s => { var a = s.NewAspect(); return $"i {s.Choose(["loved", "adored", "admired"], ["hated", "disliked", "resented"])} how {s.Adjective(a)} the {a.Noun} {Sentence.Was(a)}."; }),
        new("even", s => { var a = s.NewAspect(); return $"even the {a.Noun} {Sentence.Was(a)} {s.Adjective(a)}."; }),
        new("too", s => { var a = s.NewAspect(); var b = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Adjective(a)}, and the {b.Noun} {Sentence.Was(b)} {s.Adjective(b)} too."; }),
        new("not-only", s => { var a = s.NewAspect(); var b = s.NewAspect(); return $"not only {Sentence.Was(a)} the {a.Noun} {s.Adjective(a)}, but the {b.Noun} {Sentence.Was(b)} {s.Adjective(b)} as well."; }),
        new("nothing-about", s => { var a = s.NewAspect(); return $"there was nothing {s.Opposite()} about the {a.Noun}."; }),
        new("never-felt", s => { var a = s.NewAspect(); return $"the {a.Noun} never felt {s.Opposite()}."; }),
        new("could-not-be", s => { var a = s.NewAspect(); return $"the {a.Noun} could not have been {s.Choose("better", "worse")}."; }),
        new("than-expected", s => { var a = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} far more {s.Adjective(a)} than i expected."; }),
        new("highlight", s => { var a = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Choose(["a real highlight", "the best part", "a pleasant surprise"], ["a major letdown", "the worst part", "a real problem"])}."; }),
        new("kept-me", s => { var a = s.NewAspect(); return $"the {a.Noun} kept me {s.Choose(["on the edge of my seat", "hooked", "smiling"], ["checking my watch", "yawning", "reaching for my phone"])}."; }),
        new("chemistry", s => { var pair = s.Rng.Sample(Actors, 2); return $"{pair[0]} and {pair[1]} have {s.Choose(["electric", "wonderful", "undeniable", "real"], ["no", "awkward", "forced", "zero"])} chemistry on screen."; }),
        new("handled", s => { var a = s.NewAspect(); return $"the director handled the {a.Noun} with {s.Choose(["great care", "real skill", "a light touch"], ["no care at all", "a heavy hand", "little skill"])}."; }),
        new("rarely-seen", s => { var a = s.NewAspect(); var x = s.Adjective(a); return a.Countable ? $"i have rarely seen {Words.Article(a.Noun)} {a.Noun} this {x}." : $"i have rarely seen {a.Noun} this {x}."; }),
        new("frankly", s => { var a = s.NewAspect(); return $"{s.Rng.Pick(["honestly", "frankly", "to be fair", "in my opinion"])}, the {a.Noun} {Sentence.Was(a)} {s.Adjective(a)}."; }),
        new("start-to-finish", s => { var a = s.NewAspect(); return $"the {a.Noun} felt {s.Intensifier()}{s.Adjective(a)} from start to finish."; }),
        new("deserves", s => { var a = s.NewAspect(); return $"whoever worked on the {a.Noun} {s.Choose(["deserves an award", "deserves a raise", "should be proud"], ["should find another job", "owes me an apology", "should be embarrassed"])}."; }),
        new("to-say-the-least", s => { var a = s.NewAspect(); return $"the {a.Noun} {Sentence.Was(a)} {s.Adjective(a)}, to say the least."; }),
        new("compared", s => { var a = s.NewAspect(); return $"compared to the {s.Rng.Pick(["book", "original", "first film", "trailer"])}, the {a.Noun} {Sentence.Was(a)} {s.Choose("far better", "much worse")}."; }),
    ];

    static readonly Template[] VerdictTemplates =
    [
        new("verdict-recommend", s => $"overall, i would {s.Choose("recommend", "not recommend")} it."),
        new("verdict-rating", s => $"i give it {(s.Positive ? s.Rng.NextInt(7, 10) : s.Rng.NextInt(1, 4))} out of ten."),
        new("verdict-again", s => s.Choose(["i would happily watch it again.", "i cannot wait to see it again.", "i will be buying it on release."], ["i want those two hours of my life back.", "i will never watch it again.", "i nearly walked out."])),
        new("verdict-favor", s => $"do yourself a favor and {s.Choose("see it", "skip it")}."),
        new("verdict-genre-is", s => $"this {s.Genre.Singular} is {s.Choose(["a masterpiece", "a triumph", "a gem"], ["a mess", "a disaster", "a slog"])}."),
        new("verdict-all-in-all", s => { var x = s.Choose(GenericPositive, GenericNegative); return $"all in all, {Sentence.WithArticle(x)} {s.Genre.Singular}."; }),
        new("verdict-left", s => $"i left the theater {s.Choose(["smiling", "inspired", "grinning"], ["disappointed", "annoyed", "confused"])}."),
        new("verdict-of-the-year", s => $"easily the {s.Choose("best", "worst")} film of the year."),
        new("verdict-short", s => s.Choose(["highly recommended.", "a must see.", "go see it."], ["not recommended.", "avoid at all costs.", "a waste of time."])),
    ];
}
