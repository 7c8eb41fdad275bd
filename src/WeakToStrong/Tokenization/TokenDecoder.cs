using System.Text;
using System.Text.Json;

namespace WeakToStrong.Tokenization;

/// <summary>
/// HF tokenizers' decoder chain for SentencePiece-style BPE (tokenizer.json <c>decoder</c>): Replace, ByteFallback, Fuse,
/// Strip and Metaspace, each applied to the whole list of token strings in turn, as the Rust decoders do. Tokens are
/// carried as UTF-8 bytes so that the same chain gives both <see cref="DecodeText"/> (HF's decode: a run of &lt;0xNN&gt;
/// pieces that is not valid UTF-8 becomes one U+FFFD per piece) and <see cref="DecodeBytes"/> (the raw bytes, for
/// callers that must see a character cut in the middle). Microsoft.ML.Tokenizers has no configurable decoder chain.
/// </summary>
internal sealed class TokenDecoder
{
    readonly IReadOnlyList<Func<List<byte[]>, bool, List<byte[]>>> _steps;

    TokenDecoder(IReadOnlyList<Func<List<byte[]>, bool, List<byte[]>>> steps) => _steps = steps;

    public string DecodeText(IEnumerable<string> tokens) => Encoding.UTF8.GetString(Run(tokens, asText: true));

    public byte[] DecodeBytes(IEnumerable<string> tokens) => Run(tokens, asText: false);

    byte[] Run(IEnumerable<string> tokens, bool asText)
    {
        var pieces = tokens.Select(Encoding.UTF8.GetBytes).ToList();
        foreach (var step in _steps) pieces = step(pieces, asText);
        return [.. pieces.SelectMany(p => p)];
    }

    /// <summary>The decoder described by tokenizer.json's "decoder" (a single step or a "Sequence").</summary>
    public static TokenDecoder Read(JsonElement? decoder, string path)
    {
        var steps = new List<Func<List<byte[]>, bool, List<byte[]>>>();
        if (decoder is { } d) AddSteps(d, steps, path);
        return new TokenDecoder(steps);
    }

    static void AddSteps(JsonElement decoder, List<Func<List<byte[]>, bool, List<byte[]>>> steps, string path)
    {
        string? type = decoder.String("type", path);
        switch (type)
        {
            case "Sequence":
                foreach (var inner in (decoder.Property("decoders") ?? throw new InvalidInputException($"{path}: decoder Sequence has no \"decoders\"")).EnumerateArray())
                    AddSteps(inner, steps, path);
                break;
            case "Replace":
                string pattern = decoder.Property("pattern")?.String("String", path)
                    ?? throw new InvalidInputException($"{path}: decoder Replace needs a {{\"String\": ...}} pattern");
                byte[] from = Encoding.UTF8.GetBytes(pattern), to = Encoding.UTF8.GetBytes(decoder.String("content", path) ?? "");
                steps.Add((pieces, _) => pieces.Select(p => Replace(p, from, to)).ToList());
                break;
            case "ByteFallback":
                steps.Add(ByteFallback);
                break;
            case "Fuse":
                steps.Add((pieces, _) => [[.. pieces.SelectMany(p => p)]]);
                break;
            case "Strip":
                byte[] content = Encoding.UTF8.GetBytes(decoder.String("content", path) ?? " ");
                int start = decoder.Property("start")?.ToInt("decoder Strip start", path) ?? 0;
                int stop = decoder.Property("stop")?.ToInt("decoder Strip stop", path) ?? 0;
                steps.Add((pieces, _) => pieces.Select(p => Strip(p, content, start, stop)).ToList());
                break;
            case "Metaspace":
                byte[] replacement = Encoding.UTF8.GetBytes(decoder.String("replacement", path) ?? "▁");
                // Older files say add_prefix_space instead of prepend_scheme.
                bool dropsFirstBoundary = (decoder.String("prepend_scheme", path) ?? (decoder.Bool("add_prefix_space", path) == false ? "never" : "always")) != "never";
                steps.Add((pieces, _) => pieces.Select((p, i) => Replace(p, replacement, i == 0 && dropsFirstBoundary ? [] : " "u8.ToArray())).ToList());
                break;
            default:
                throw new InvalidInputException($"{path}: decoder \"{type}\" is not supported for SentencePiece-style BPE (expected Replace, ByteFallback, Fuse, Strip, Metaspace or a Sequence of them)");
        }
    }

    /// <summary>Runs of &lt;0xNN&gt; pieces become their bytes; as text, a run that is not valid UTF-8 becomes one U+FFFD per piece (HF's ByteFallback).</summary>
    static List<byte[]> ByteFallback(List<byte[]> pieces, bool asText)
    {
        var result = new List<byte[]>();
        var run = new List<byte>();
        void Flush()
        {
            if (run.Count == 0) return;
            if (!asText || IsValidUtf8(run)) result.Add([.. run]);
            else result.AddRange(Enumerable.Repeat(ReplacementCharacter, run.Count));
            run.Clear();
        }
        foreach (var piece in pieces)
        {
            if (BytePiece(piece) is { } value) run.Add(value);
            else { Flush(); result.Add(piece); }
        }
        Flush();
        return result;
    }

    static readonly byte[] ReplacementCharacter = Encoding.UTF8.GetBytes("\uFFFD");

    /// <summary>The byte of a "&lt;0xNN&gt;" piece, or null for any other piece.</summary>
    public static byte? BytePiece(ReadOnlySpan<byte> piece) =>
        piece.Length == 6 && piece[0] == '<' && piece[1] == '0' && piece[2] == 'x' && piece[5] == '>'
        && byte.TryParse(Encoding.ASCII.GetString(piece[3..5]), System.Globalization.NumberStyles.HexNumber, null, out byte value)
            ? value : null;

    static bool IsValidUtf8(List<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes.ToArray());

    static byte[] Replace(byte[] piece, byte[] from, byte[] to)
    {
        if (from.Length == 0 || piece.AsSpan().IndexOf(from) < 0) return piece;
        var result = new List<byte>(piece.Length);
        for (int i = 0; i < piece.Length;)
        {
            if (piece.AsSpan(i).StartsWith(from)) { result.AddRange(to); i += from.Length; }
            else result.Add(piece[i++]);
        }
        return [.. result];
    }

    static byte[] Strip(byte[] piece, byte[] content, int start, int stop)
    {
        int from = 0, to = piece.Length;
        for (int n = 0; n < start && piece.AsSpan(from, to - from).StartsWith(content); n++) from += content.Length;
        for (int n = 0; n < stop && piece.AsSpan(from, to - from).EndsWith(content); n++) to -= content.Length;
        return piece[from..to];
    }
}
