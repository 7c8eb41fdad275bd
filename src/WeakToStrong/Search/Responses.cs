using System.Text;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Search;

/// <summary>
/// Why a response ended. <see cref="Length"/> is reaching max_new_tokens: like the reference implementation (whose
/// stopping criteria include the length limit), scoring treats it as finished and appends the scorer's EOS.
/// </summary>
public enum FinishReason { Eos, StopString, Length }

/// <summary>One partial or finished response of the large model: a row of a search.</summary>
public sealed class Response
{
    readonly List<int> tokenIds;

    public Response() => tokenIds = [];

    Response(Response other)
    {
        tokenIds = [.. other.tokenIds];
        Finish = other.Finish;
        Text = other.Text;
    }

    /// <summary>Tokens sampled from the large model, including a terminating EOS.</summary>
    public IReadOnlyList<int> TokenIds => tokenIds;

    public FinishReason? Finish { get; private set; }
    public bool Finished => Finish is not null;

    /// <summary>
    /// The response text: complete characters only (a response that stops inside a multi-byte character
    /// holds those bytes back), special tokens dropped, cut before a stop string.
    /// </summary>
    public string Text { get; private set; } = "";

    /// <summary>The tokens without the terminating EOS, what a same-vocabulary scorer scores.</summary>
    public IReadOnlyList<int> ContentTokenIds => Finish == FinishReason.Eos ? tokenIds.Take(tokenIds.Count - 1).ToList() : tokenIds;

    public Response Clone() => new(this);

    /// <summary>A response known only by its text (`wts score`): no token ids, finished or not.</summary>
    public static Response FromText(string text, FinishReason? finish) => new() { Text = text, Finish = finish };

    /// <summary>The token limit was reached: the response counts as finished (scored with EOS), whatever its last token.</summary>
    public void FinishAtLength()
    {
        if (Finished) throw new InvalidOperationException("the response has already finished");
        Finish = FinishReason.Length;
    }

    /// <summary>Appends a sampled token and updates the text and finish state.</summary>
    public void Append(int token, HfTokenizer tokenizer, IReadOnlySet<int> eosTokenIds, IReadOnlyList<string> stopStrings)
    {
        if (Finished) throw new InvalidOperationException("a finished response is never extended");
        tokenIds.Add(token);
        if (eosTokenIds.Contains(token))
        {
            Finish = FinishReason.Eos;
            Text = CompleteText(tokenizer, ContentTokenIds);
            return;
        }
        Text = CompleteText(tokenizer, tokenIds);
        foreach (var stop in stopStrings)
        {
            int at = Text.IndexOf(stop, StringComparison.Ordinal);
            if (at < 0) continue;
            Text = Text[..at];
            Finish = FinishReason.StopString;
        }
    }

    /// <summary>
    /// Appends text the large model produced behind an API (no token ids): <paramref name="endsResponse"/> when the server
    /// stopped it (EOS or one of its stop strings; scored like EOS); a stop string in the text cuts it there too.
    /// </summary>
    public void AppendText(string text, bool endsResponse, IReadOnlyList<string> stopStrings)
    {
        if (Finished) throw new InvalidOperationException("a finished response is never extended");
        Text += text;
        foreach (var stop in stopStrings)
        {
            int at = Text.IndexOf(stop, StringComparison.Ordinal);
            if (at < 0) continue;
            Text = Text[..at];
            Finish = FinishReason.StopString;
        }
        if (endsResponse && Finish is null) Finish = FinishReason.Eos;
    }

    /// <summary>
    /// Decodes to text as HF's decode(skip_special_tokens=True) does (its clean-up of spaces included where the
    /// tokenizer asks for it, as Llama-3's does), but drops a trailing incomplete UTF-8 sequence instead of emitting U+FFFD.
    /// </summary>
    public static string CompleteText(HfTokenizer tokenizer, IEnumerable<int> ids)
    {
        byte[] bytes = tokenizer.DecodeToBytes(ids, skipSpecialTokens: true);
        return tokenizer.CleanUp(Encoding.UTF8.GetString(bytes, 0, bytes.Length - IncompleteTailLength(bytes)));
    }

    /// <summary>How many trailing bytes form the start of a multi-byte UTF-8 character that is not complete yet.</summary>
    public static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        // A lead byte within the last 3 bytes whose sequence runs past the end.
        for (int back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            byte b = bytes[^back];
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int needed = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            return needed > back ? back : 0;
        }
        return 0;
    }
}
