using WeakToStrong.Serving;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Serving;

/// <summary>
/// <see cref="StopStringScan"/> decodes only a window of the latest tokens: it must stop at exactly the token where the
/// whole decoded text first holds a stop string, on real tokenizers whose decoding of a window differs from the whole
/// text's at the window's start (GPT-2's byte-level BPE, Llama 3's with clean-up spaces, Mistral's SentencePiece with
/// its stripped leading space and byte pieces).
/// </summary>
public class StopStringScanTests
{
    public static TheoryData<string> Tokenizers => ["gpt2", "meta-llama-3-8b-instruct", "mistral-7b-legacy"];

    static readonly string[] Texts =
    [
        "The film wasn't bad . I 'm sure you 've seen it , haven't you ? Yes ! It 's the one they 're showing .\nNext line.",
        "Café au lait — naïve façade; 日本語のテキスト 🙂 and an emoji 🎬 in the middle of ordinary words, then more words.",
        "def f(x):\n    return x * 2  # double it\n\n\nprint(f(21))\n### Response:\nDone.",
    ];

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void StopsAtTheTokenWhereTheWholeTextFirstHoldsAStopString(string name)
    {
        var tokenizer = HfTokenizer.Load(RepositoryPaths.Fixture("tokenizers", name));
        var random = new Random(7);
        var sequences = Texts.Select(t => tokenizer.Encode(t).ToArray()).ToList();
        // Random ids as well: they split multi-byte characters and put special tokens anywhere.
        for (int i = 0; i < 6; i++) sequences.Add(Enumerable.Range(0, 60).Select(_ => random.Next(tokenizer.VocabSize)).ToArray());
        int found = 0;
        foreach (var tokens in sequences)
        {
            string whole = tokenizer.Decode(tokens, skipSpecialTokens: true);
            List<string[]> stopSets = [["."], [" n't", "\n\n"], ["🎬"], ["never appears in any of these texts"]];
            for (int i = 0; i < 12 && whole.Length > 2; i++)
            {
                int length = random.Next(1, Math.Min(14, whole.Length));
                stopSets.Add([whole.Substring(random.Next(whole.Length - length + 1), length)]);
            }
            foreach (var stops in stopSets)
            {
                int? expected = null, actual = null;
                var scan = new StopStringScan(tokenizer, stops);
                for (int n = 1; n <= tokens.Length; n++)
                {
                    var prefix = tokens[..n];
                    expected ??= StopStringScan.Index(tokenizer.Decode(prefix, skipSpecialTokens: true), stops) is not null ? n : null;
                    if (actual is null && scan.Stopped(prefix)) actual = n;
                    if (expected is not null && actual is not null) break;
                }
                Assert.True(expected == actual, $"{name}: stops [{string.Join(", ", stops)}] in \"{whole}\": the whole text first holds one at token {expected}, the scan said {actual}");
                if (expected is not null) found++;
                // Each check decodes a window; the whole text only to confirm what the window found.
                Assert.True(scan.Confirmations <= 1, $"{name}: {scan.Confirmations} whole-text decodes for stops [{string.Join(", ", stops)}]");
            }
        }
        Assert.True(found >= 3 * Texts.Length, $"{name}: only {found} stop sets were ever hit");
    }

    [Fact]
    public void ALongOutputIsCheckedOnAWindowNotItsWholeText()
    {
        var tokenizer = HfTokenizer.Load(RepositoryPaths.Fixture("tokenizers", "gpt2"));
        var tokens = tokenizer.Encode(string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200))).ToArray();
        var scan = new StopStringScan(tokenizer, ["###"]);
        for (int n = 1; n <= tokens.Length; n++) Assert.False(scan.Stopped(tokens[..n]));
        Assert.Equal(0, scan.Confirmations);
        // Two windows of at least 8 tokens per check; decoding the whole text each time would be tokens²/2 (about 1.8 million here).
        Assert.InRange(scan.TokensDecoded, 2 * tokens.Length, 40L * tokens.Length);
    }
}
