using System.Text;
using System.Text.RegularExpressions;

namespace WeakToStrong.Tokenization;

/// <summary>Settings of <see cref="ByteLevelBpeTrainer.Train"/>.</summary>
public sealed record ByteLevelBpeTrainingOptions
{
    /// <summary>Target size, counting the 256 byte tokens and the special tokens.</summary>
    public int VocabSize { get; init; } = 2048;
    /// <summary>Merging stops when no adjacent pair occurs this often (counted over the corpus).</summary>
    public int MinFrequency { get; init; } = 2;
    /// <summary>End-of-text first (it becomes bos, eos and unk), then extra special tokens; all appended after the learned tokens.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [ByteLevelBpeVocabulary.EndOfText];
}

/// <summary>A trained vocabulary and how training segmented each distinct pre-token of the corpus.</summary>
public sealed record ByteLevelBpeTrainingResult(ByteLevelBpeVocabulary Vocabulary, IReadOnlyDictionary<string, IReadOnlyList<int>> WordSegmentations);

/// <summary>
/// Trains GPT-2-style byte-level BPE: the text is split around special tokens and by GPT-2's pre-tokenization regex, each
/// pre-token starts as its UTF-8 bytes (ids 0..255 in GPT-2's order), and the most frequent adjacent pair is merged
/// repeatedly (ties: the pair whose left, then right, spelling is ordinally smallest) until the vocabulary reaches the
/// target size or no pair occurs <see cref="ByteLevelBpeTrainingOptions.MinFrequency"/> times.
/// <para>Speed: pre-tokens are counted once; merges then work on the distinct pre-tokens, updating pair counts only for
/// the words that hold the merged pair, and find the next pair through a priority queue with stale entries skipped.</para>
/// </summary>
public static class ByteLevelBpeTrainer
{
    static readonly Regex SplitRegex = new(ByteLevelBpeBackend.Gpt2SplitPattern, RegexOptions.Compiled);

    public static ByteLevelBpeTrainingResult Train(IEnumerable<string> corpus, ByteLevelBpeTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        options ??= new ByteLevelBpeTrainingOptions();
        ByteLevelBpeVocabulary.CheckSpecialTokens(options.SpecialTokens, nameof(options.SpecialTokens));
        int minimum = 256 + options.SpecialTokens.Count;
        if (options.VocabSize < minimum)
            throw new ArgumentOutOfRangeException(nameof(options), options.VocabSize,
                $"VocabSize must be at least {minimum} (256 byte tokens + {options.SpecialTokens.Count} special tokens)");
        if (options.MinFrequency < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.MinFrequency, "MinFrequency must be at least 1");

        var wordCounts = CountPreTokens(corpus, options.SpecialTokens);
        var state = new MergeState(wordCounts);
        state.Run(options.VocabSize - options.SpecialTokens.Count, options.MinFrequency);
        var vocabulary = ByteLevelBpeVocabulary.Create(state.Tokens, state.Merges, options.SpecialTokens);
        return new ByteLevelBpeTrainingResult(vocabulary, state.Segmentations());
    }

    /// <summary>Occurrences of each pre-token, in ordinal order; special tokens are cut out first, as the tokenizer matches them whole.</summary>
    static SortedDictionary<string, long> CountPreTokens(IEnumerable<string> corpus, IReadOnlyList<string> specialTokens)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        int index = 0;
        foreach (var document in corpus)
        {
            if (document is null) throw new ArgumentException($"corpus document {index} is null", nameof(corpus));
            foreach (var segment in SplitAroundSpecialTokens(document, specialTokens))
                for (var match = SplitRegex.Match(document, segment.Start, segment.Length); match.Success; match = match.NextMatch())
                {
                    string word = match.Value;
                    counts[word] = counts.GetValueOrDefault(word) + 1;
                }
            index++;
        }
        return new SortedDictionary<string, long>(counts, StringComparer.Ordinal);
    }

    /// <summary>The stretches of <paramref name="text"/> between special tokens (leftmost match first, the longest on a tie).</summary>
    internal static IEnumerable<(int Start, int Length)> SplitAroundSpecialTokens(string text, IReadOnlyList<string> specialTokens)
    {
        int position = 0;
        while (position < text.Length)
        {
            int found = -1, foundLength = 0;
            foreach (var special in specialTokens)
            {
                int at = text.IndexOf(special, position, StringComparison.Ordinal);
                if (at >= 0 && (found < 0 || at < found || at == found && special.Length > foundLength)) (found, foundLength) = (at, special.Length);
            }
            if (found < 0) break;
            if (found > position) yield return (position, found - position);
            position = found + foundLength;
        }
        if (position < text.Length) yield return (position, text.Length - position);
    }

    /// <summary>The distinct words as symbol-id sequences, the pair counts, and which words hold each pair.</summary>
    sealed class MergeState
    {
        public readonly List<string> Tokens = new(ByteLevelBpeVocabulary.ByteTokens);
        public readonly List<(string, string)> Merges = [];

        readonly Dictionary<string, int> _idOfToken = [];
        readonly string[] _words;
        readonly int[][] _symbols;
        readonly int[] _lengths;
        readonly long[] _counts;
        readonly Dictionary<long, long> _pairCounts = [];
        readonly Dictionary<long, List<int>> _pairWords = [];
        readonly PriorityQueue<long, (long Count, string Left, string Right)> _queue = new(new BestPairFirst());

        public MergeState(SortedDictionary<string, long> wordCounts)
        {
            for (int id = 0; id < Tokens.Count; id++) _idOfToken[Tokens[id]] = id;
            var idOfByte = new int[256];
            foreach (var (token, id) in _idOfToken) idOfByte[ByteOf(token)] = id;

            _words = [.. wordCounts.Keys];
            _counts = [.. wordCounts.Values];
            _symbols = new int[_words.Length][];
            _lengths = new int[_words.Length];
            for (int w = 0; w < _words.Length; w++)
            {
                _symbols[w] = Encoding.UTF8.GetBytes(_words[w]).Select(b => idOfByte[b]).ToArray();
                _lengths[w] = _symbols[w].Length;
                for (int i = 0; i + 1 < _lengths[w]; i++) AddPair(Key(_symbols[w][i], _symbols[w][i + 1]), w, _counts[w]);
            }
            foreach (var (pair, count) in _pairCounts) Enqueue(pair, count);
        }

        static byte ByteOf(string token)
        {
            var bytes = new List<byte>(1);
            ByteLevelAlphabet.TryAppendBytes(token, bytes);
            return bytes[0];
        }

        static long Key(int left, int right) => (long)left << 32 | (uint)right;

        void AddPair(long pair, int word, long count)
        {
            _pairCounts[pair] = _pairCounts.GetValueOrDefault(pair) + count;
            if (!_pairWords.TryGetValue(pair, out var words)) _pairWords[pair] = words = [];
            // A word adds its pairs one after another, so a repeat is caught here; repeats across merges are skipped when read.
            if (words.Count == 0 || words[^1] != word) words.Add(word);
        }

        void Enqueue(long pair, long count) =>
            _queue.Enqueue(pair, (count, Tokens[(int)(pair >> 32)], Tokens[(int)(uint)pair]));

        public void Run(int targetTokens, int minFrequency)
        {
            while (Tokens.Count < targetTokens && _queue.TryDequeue(out long pair, out var priority))
            {
                // Every change of a count queues the new count, so an entry that disagrees with the current count is stale.
                if (_pairCounts.GetValueOrDefault(pair) != priority.Count) continue;
                if (priority.Count < minFrequency) break;
                Merge(pair, priority.Left, priority.Right);
            }
        }

        void Merge(long pair, string left, string right)
        {
            int leftId = (int)(pair >> 32), rightId = (int)(uint)pair;
            string merged = left + right;
            if (!_idOfToken.TryGetValue(merged, out int mergedId))
            {
                mergedId = Tokens.Count;
                Tokens.Add(merged);
                _idOfToken[merged] = mergedId;
            }
            Merges.Add((left, right));

            var words = _pairWords[pair];
            _pairWords.Remove(pair);
            _pairCounts.Remove(pair);
            var changed = new HashSet<long>();
            foreach (int w in words)
            {
                int[] symbols = _symbols[w];
                int length = _lengths[w];
                if (!Holds(symbols, length, leftId, rightId)) continue; // listed when it held the pair, merged away since
                long count = _counts[w];
                for (int i = 0; i + 1 < length; i++)
                {
                    long old = Key(symbols[i], symbols[i + 1]);
                    if (old == pair) continue;
                    _pairCounts[old] -= count;
                    changed.Add(old);
                }
                int write = 0;
                for (int read = 0; read < length; read++)
                {
                    if (read + 1 < length && symbols[read] == leftId && symbols[read + 1] == rightId)
                    {
                        symbols[write++] = mergedId;
                        read++;
                    }
                    else symbols[write++] = symbols[read];
                }
                _lengths[w] = length = write;
                for (int i = 0; i + 1 < length; i++)
                {
                    long now = Key(symbols[i], symbols[i + 1]);
                    AddPair(now, w, count);
                    changed.Add(now);
                }
            }
            foreach (long other in changed)
            {
                long count = _pairCounts.GetValueOrDefault(other);
                if (count > 0) Enqueue(other, count);
                else
                {
                    _pairCounts.Remove(other);
                    _pairWords.Remove(other);
                }
            }
        }

        static bool Holds(int[] symbols, int length, int left, int right)
        {
            for (int i = 0; i + 1 < length; i++)
                if (symbols[i] == left && symbols[i + 1] == right) return true;
            return false;
        }

        public IReadOnlyDictionary<string, IReadOnlyList<int>> Segmentations()
        {
            var result = new Dictionary<string, IReadOnlyList<int>>(_words.Length, StringComparer.Ordinal);
            for (int w = 0; w < _words.Length; w++) result[_words[w]] = _symbols[w][.._lengths[w]];
            return result;
        }
    }

    /// <summary>Higher count first; on equal counts the ordinally smaller left spelling, then right spelling.</summary>
    sealed class BestPairFirst : IComparer<(long Count, string Left, string Right)>
    {
        public int Compare((long Count, string Left, string Right) x, (long Count, string Left, string Right) y)
        {
            int byCount = y.Count.CompareTo(x.Count);
            if (byCount != 0) return byCount;
            int byLeft = string.CompareOrdinal(x.Left, y.Left);
            return byLeft != 0 ? byLeft : string.CompareOrdinal(x.Right, y.Right);
        }
    }
}
