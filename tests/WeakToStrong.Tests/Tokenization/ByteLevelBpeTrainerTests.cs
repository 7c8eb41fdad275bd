using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>ByteLevelBpeTrainer: trained files load in HfTokenizer and encode exactly as the learned merges say.</summary>
public sealed class ByteLevelBpeTrainerTests : IDisposable
{
    readonly string _work = Directory.CreateTempSubdirectory("wts-bpe-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    static readonly string[] Words =
    [
        "the", "cat", "sat", "on", "mat", "and", "a", "dog", "ran", "to", "house", "über", "naïve", "café", "日本語", "🙂", "42",
        "don't", "it's", "weak", "strong", "search", "model",
    ];

    /// <summary>A deterministic corpus of Zipf-ish word salad with punctuation, newlines, tabs, emoji and an end-of-text marker.</summary>
    static List<string> Corpus(int documents = 300, int seed = 3)
    {
        var random = new Random(seed);
        var corpus = new List<string>();
        for (int d = 0; d < documents; d++)
        {
            var text = new StringBuilder();
            int length = random.Next(5, 40);
            for (int i = 0; i < length; i++)
            {
                // Squaring the uniform draw makes early words far more frequent.
                double u = random.NextDouble();
                text.Append(Words[(int)(u * u * Words.Length)]);
                text.Append(random.Next(12) switch { 0 => ".\n", 1 => ", ", 2 => "\t", 3 => "  ", 4 => "!\n\n", _ => " " });
            }
            if (d % 7 == 0) text.Append("<|endoftext|>");
            corpus.Add(text.ToString());
        }
        return corpus;
    }

    static readonly ByteLevelBpeTrainingOptions Options = new() { VocabSize = 320, MinFrequency = 2 };

    // Large enough that training runs until no pair occurs twice: every merge the corpus allows is exercised.
    static readonly ByteLevelBpeTrainingOptions Exhaustive = Options with { VocabSize = 2048 };

    string TrainAndSave(List<string> corpus, ByteLevelBpeTrainingOptions options, string name, out ByteLevelBpeTrainingResult result)
    {
        result = ByteLevelBpeTrainer.Train(corpus, options);
        string directory = Path.Combine(_work, name);
        result.Vocabulary.Save(directory);
        return directory;
    }

    [Fact]
    public void EncodeThenDecodeGivesTheTextBack()
    {
        var tokenizer = HfTokenizer.Load(TrainAndSave(Corpus(), Options, "bpe", out _));
        string[] texts =
        [
            "the cat sat on the mat", "über naïve café\n\n\ttabs  and  spaces ", "emoji 🙂🙂 and 🎉 unseen ones", "日本語のテキスト",
            "line one\r\nline two\n", "never seen: qzxj 123456 ¿¡", "<|endoftext|>the end<|endoftext|>", "", " ", "a",
        ];
        foreach (var text in texts)
        {
            var ids = tokenizer.Encode(text);
            Assert.Equal(text, tokenizer.Decode(ids));
        }
        int endOfText = tokenizer.TokenToId("<|endoftext|>")!.Value;
        Assert.Equal([endOfText], tokenizer.Encode("<|endoftext|>"));
        Assert.Equal(endOfText, tokenizer.BosTokenId);
        Assert.Equal(endOfText, tokenizer.EosTokenId);
        Assert.Equal(endOfText, tokenizer.UnkTokenId);
    }

    [Fact]
    public void SameCorpusAndSettingsGiveByteIdenticalFiles()
    {
        string first = TrainAndSave(Corpus(), Options, "first", out _);
        string second = TrainAndSave(Corpus(), Options, "second", out _);
        var files = Directory.GetFiles(first).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"], files);
        foreach (var name in files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, name!)), File.ReadAllBytes(Path.Combine(second, name!)));
    }

    [Fact]
    public void FrequentWordsBecomeSingleTokens()
    {
        var tokenizer = HfTokenizer.Load(TrainAndSave(Corpus(), Options, "bpe", out var result));
        foreach (var word in new[] { " the", " cat", " sat", " on" })
            Assert.Single(tokenizer.Encode(word));
        Assert.Equal(Options.VocabSize, result.Vocabulary.Count);
        Assert.Equal(Options.VocabSize, tokenizer.VocabSize);
        Assert.Equal(result.Vocabulary.Count - 1, tokenizer.TokenToId("<|endoftext|>"));
    }

    [Fact]
    public void ByteTokensHaveGpt2sIds()
    {
        using var gpt2 = JsonDocument.Parse(File.ReadAllText(RepositoryPaths.Fixture("tokenizers", "gpt2", "vocab.json")));
        var gpt2Ids = gpt2.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var bytes = ByteLevelBpeVocabulary.ByteTokens;
        Assert.Equal(256, bytes.Count);
        for (int id = 0; id < 256; id++) Assert.Equal(id, gpt2Ids[bytes[id]]);
    }

    [Fact]
    public void HfTokenizerEncodesTheCorpusAsTrainingSegmentedIt()
    {
        var corpus = Corpus();
        var tokenizer = HfTokenizer.Load(TrainAndSave(corpus, Exhaustive, "bpe", out var result));
        Assert.True(result.Vocabulary.Count < Exhaustive.VocabSize);
        var split = new Regex(ByteLevelBpeBackend.Gpt2SplitPattern);
        int endOfText = result.Vocabulary.EndOfTextId;
        foreach (var document in corpus)
        {
            var expected = new List<int>();
            var pieces = document.Split("<|endoftext|>");
            for (int p = 0; p < pieces.Length; p++)
            {
                if (p > 0) expected.Add(endOfText);
                foreach (Match word in split.Matches(pieces[p])) expected.AddRange(result.WordSegmentations[word.Value]);
            }
            Assert.Equal(expected, tokenizer.Encode(document));
        }
    }

    [Fact]
    public void HfTokenizerEncodesUnseenTextAsGreedyMergingDoes()
    {
        var tokenizer = HfTokenizer.Load(TrainAndSave(Corpus(), Exhaustive, "bpe", out var result));
        var vocabulary = result.Vocabulary;
        var rank = vocabulary.Merges.Select((m, i) => (m, i)).GroupBy(x => x.m).ToDictionary(g => g.Key, g => g.First().i);
        var split = new Regex(ByteLevelBpeBackend.Gpt2SplitPattern);

        // An independent BPE: apply the lowest-ranked adjacent pair (leftmost on a tie) until none applies.
        List<int> Greedy(string word)
        {
            var symbols = Encoding.UTF8.GetBytes(word).Select(ByteToken).ToList();
            while (true)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (rank.TryGetValue((symbols[i], symbols[i + 1]), out int r) && r < bestRank) (best, bestRank) = (i, r);
                if (best < 0) return symbols.Select(s => vocabulary.IdOf(s)!.Value).ToList();
                symbols[best] += symbols[best + 1];
                symbols.RemoveAt(best + 1);
            }
        }

        foreach (var text in new[] { "the house of the strong dog ran to a café", "weakly searching models, don't they?", "cattle matter 4242 🙂!" })
        {
            var expected = split.Matches(text).SelectMany(m => Greedy(m.Value)).ToList();
            Assert.Equal(expected, tokenizer.Encode(text));
        }
    }

    static string ByteToken(byte b) => ByteLevelBpeVocabulary.ByteTokens[Array.IndexOf(ByteLevelAlphabet.BytesInVocabularyOrder(), b)];

    [Fact]
    public void TiesGoToTheOrdinallySmallestPairAndMinFrequencyStops()
    {
        // Every pair occurs once: "a b" < "c d" < "Ġ c" ordinally.
        var once = ByteLevelBpeTrainer.Train(["ab cd"], new() { VocabSize = 300, MinFrequency = 1 });
        Assert.Equal(("a", "b"), once.Vocabulary.Merges[0]);
        Assert.Equal(("c", "d"), once.Vocabulary.Merges[1]);

        var none = ByteLevelBpeTrainer.Train(["ab cd ab"], new() { VocabSize = 300, MinFrequency = 3 });
        Assert.Empty(none.Vocabulary.Merges);
        Assert.Equal(257, none.Vocabulary.Count);

        var twice = ByteLevelBpeTrainer.Train(["ab cd ab"], new() { VocabSize = 300, MinFrequency = 2 });
        Assert.Equal([("a", "b")], twice.Vocabulary.Merges);
    }

    [Fact]
    public void ExtraSpecialTokensAreAppendedAndAtomic()
    {
        var options = Options with { SpecialTokens = ["<|endoftext|>", "<|pad|>"] };
        var tokenizer = HfTokenizer.Load(TrainAndSave(Corpus(), options, "bpe", out var result));
        int pad = tokenizer.TokenToId("<|pad|>")!.Value;
        Assert.Equal(options.VocabSize - 1, pad);
        Assert.Equal(options.VocabSize - 2, tokenizer.TokenToId("<|endoftext|>"));
        Assert.Contains(pad, tokenizer.Encode("the<|pad|>cat"));
        Assert.True(tokenizer.IsSpecial(pad));
        Assert.Equal("thecat", tokenizer.Decode(tokenizer.Encode("the<|pad|>cat"), skipSpecialTokens: true));
        Assert.Equal(result.Vocabulary.Count, tokenizer.VocabSize);
    }

    [Fact]
    public void MergesBuildTheVocabularyInOrder()
    {
        var vocabulary = ByteLevelBpeVocabulary.FromMerges([("Ġ", "t"), ("h", "e"), ("Ġt", "he")]);
        Assert.Equal(["Ġt", "he", "Ġthe", "<|endoftext|>"], vocabulary.Tokens.Skip(256));
        vocabulary.Save(Path.Combine(_work, "hand"));
        var tokenizer = HfTokenizer.Load(Path.Combine(_work, "hand"));
        Assert.Equal([258], tokenizer.Encode(" the"));
        Assert.Throws<ArgumentException>(() => ByteLevelBpeVocabulary.FromMerges([("Ġt", "he")]));
    }

    [Fact]
    public void BadArgumentsAreRefusedClearly()
    {
        var corpus = Corpus(10);
        Assert.Contains("VocabSize must be at least 257", Assert.Throws<ArgumentOutOfRangeException>(
            () => ByteLevelBpeTrainer.Train(corpus, new() { VocabSize = 256 })).Message);
        Assert.Contains("MinFrequency", Assert.Throws<ArgumentOutOfRangeException>(
            () => ByteLevelBpeTrainer.Train(corpus, new() { MinFrequency = 0 })).Message);
        Assert.Contains("distinct", Assert.Throws<ArgumentException>(
            () => ByteLevelBpeTrainer.Train(corpus, new() { SpecialTokens = ["<|endoftext|>", "<|endoftext|>"] })).Message);
        Assert.Contains("non-empty", Assert.Throws<ArgumentException>(
            () => ByteLevelBpeTrainer.Train(corpus, new() { SpecialTokens = ["<|endoftext|>", ""] })).Message);
        Assert.Contains("end-of-text", Assert.Throws<ArgumentException>(
            () => ByteLevelBpeTrainer.Train(corpus, new() { SpecialTokens = [] })).Message);
        Assert.Contains("spelled like a vocabulary token", Assert.Throws<ArgumentException>(
            () => ByteLevelBpeTrainer.Train(corpus, new() { SpecialTokens = ["a"] })).Message);
        Assert.Contains("document 1 is null", Assert.Throws<ArgumentException>(
            () => ByteLevelBpeTrainer.Train(["fine", null!])).Message);
        Assert.Throws<ArgumentNullException>(() => ByteLevelBpeTrainer.Train(null!));
    }
}
