using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace WeakToStrong.Tokenization;

/// <summary>
/// What GPT-2's tokenizer files hold: tokens by id (the 256 byte tokens in GPT-2's order, one token per merge, then the
/// special tokens), the merges in priority order, and which tokens are special. Made by <see cref="ByteLevelBpeTrainer"/>
/// or from a list of merges; <see cref="Save"/> writes a directory that <see cref="HfTokenizer.Load"/> reads.
/// </summary>
public sealed class ByteLevelBpeVocabulary
{
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Token spellings by id, in the byte-level alphabet (a space is "Ġ"); special tokens as written.</summary>
    public IReadOnlyList<string> Tokens { get; }
    public IReadOnlyList<(string Left, string Right)> Merges { get; }
    /// <summary>The end-of-text token first (bos, eos and unk, as GPT-2), then any extra special tokens.</summary>
    public IReadOnlyList<string> SpecialTokens { get; }

    readonly Dictionary<string, int> _idOfToken;

    ByteLevelBpeVocabulary(List<string> tokens, List<(string, string)> merges, List<string> specialTokens)
    {
        Tokens = tokens;
        Merges = merges;
        SpecialTokens = specialTokens;
        _idOfToken = [];
        for (int id = 0; id < tokens.Count; id++) _idOfToken.Add(tokens[id], id);
    }

    public int Count => Tokens.Count;

    public int? IdOf(string token) => _idOfToken.TryGetValue(token, out int id) ? id : null;

    public int EndOfTextId => _idOfToken[SpecialTokens[0]];

    /// <summary>The token spellings of the 256 bytes, indexed by id (GPT-2's order).</summary>
    public static IReadOnlyList<string> ByteTokens { get; } =
        ByteLevelAlphabet.BytesInVocabularyOrder().Select(b => ByteLevelAlphabet.CharOf(b).ToString()).ToArray();

    /// <summary>
    /// The vocabulary that <paramref name="merges"/> (pairs of existing token spellings, in priority order) build on the 256
    /// byte tokens, with <paramref name="specialTokens"/> (default: just &lt;|endoftext|&gt;) appended. A merge whose result is
    /// already a token adds no new token, as in HF's trainer.
    /// </summary>
    public static ByteLevelBpeVocabulary FromMerges(IEnumerable<(string Left, string Right)> merges, IReadOnlyList<string>? specialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(merges);
        var tokens = new List<string>(ByteTokens);
        var known = new HashSet<string>(tokens);
        var mergeList = new List<(string, string)>();
        foreach (var (left, right) in merges)
        {
            if (left is null || right is null || !known.Contains(left) || !known.Contains(right))
                throw new ArgumentException($"merge \"{left} {right}\" (number {mergeList.Count + 1}) uses a token that no earlier merge made", nameof(merges));
            mergeList.Add((left, right));
            if (known.Add(left + right)) tokens.Add(left + right);
        }
        return Create(tokens, mergeList, specialTokens ?? [EndOfText]);
    }

    internal static ByteLevelBpeVocabulary Create(List<string> tokens, List<(string, string)> merges, IReadOnlyList<string> specialTokens)
    {
        CheckSpecialTokens(specialTokens, nameof(specialTokens));
        var all = new HashSet<string>(tokens);
        foreach (var special in specialTokens)
            if (!all.Add(special))
                throw new ArgumentException($"special token \"{special}\" is spelled like a vocabulary token; choose text that BPE cannot produce, e.g. \"<|{special}|>\"", nameof(specialTokens));
        return new ByteLevelBpeVocabulary([.. tokens, .. specialTokens], merges, [.. specialTokens]);
    }

    internal static void CheckSpecialTokens(IReadOnlyList<string> specialTokens, string parameter)
    {
        ArgumentNullException.ThrowIfNull(specialTokens, parameter);
        if (specialTokens.Count == 0) throw new ArgumentException("at least the end-of-text special token is needed", parameter);
        foreach (var special in specialTokens)
            if (string.IsNullOrEmpty(special)) throw new ArgumentException("special tokens must be non-empty text", parameter);
        if (specialTokens.Distinct(StringComparer.Ordinal).Count() != specialTokens.Count)
            throw new ArgumentException($"special tokens must be distinct: {string.Join(", ", specialTokens)}", parameter);
    }

    /// <summary>
    /// Writes vocab.json (tokens in id order), merges.txt ("#version: 0.2" header), tokenizer_config.json (bos, eos and unk =
    /// the end-of-text token, no prefix space, <paramref name="modelMaxLength"/>) and special_tokens_map.json into
    /// <paramref name="directory"/>. The bytes depend only on the vocabulary.
    /// </summary>
    public void Save(string directory, int modelMaxLength = 1024)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new ArgumentException("tokenizer output directory is empty", nameof(directory));
        if (modelMaxLength <= 0) throw new ArgumentOutOfRangeException(nameof(modelMaxLength), modelMaxLength, "must be positive");
        Directory.CreateDirectory(directory);
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        File.WriteAllText(Path.Combine(directory, ByteLevelBpeBackend.VocabJsonFile), VocabJson(), utf8);
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in Merges) merges.Append(left).Append(' ').Append(right).Append('\n');
        File.WriteAllText(Path.Combine(directory, ByteLevelBpeBackend.MergesFile), merges.ToString(), utf8);

        string endOfText = SpecialTokens[0];
        var extras = SpecialTokens.Skip(1).ToArray();
        var roles = new Dictionary<string, object?> { ["bos_token"] = endOfText, ["eos_token"] = endOfText, ["unk_token"] = endOfText };
        if (extras.Length > 0) roles["additional_special_tokens"] = extras;
        HfJsonWriter.Write(Path.Combine(directory, TokenizerSettings.SpecialTokensMapFile), roles);

        var config = new Dictionary<string, object?>(roles)
        {
            ["add_prefix_space"] = false,
            ["clean_up_tokenization_spaces"] = false,
            ["errors"] = "replace",
            ["model_max_length"] = modelMaxLength,
            ["tokenizer_class"] = "GPT2Tokenizer",
            // As transformers writes it: each special token atomic, matched in the raw text.
            ["added_tokens_decoder"] = SpecialTokens.ToDictionary(
                t => _idOfToken[t].ToString(System.Globalization.CultureInfo.InvariantCulture),
                t => (object?)new Dictionary<string, object?>
                {
                    ["content"] = t, ["lstrip"] = false, ["normalized"] = true, ["rstrip"] = false, ["single_word"] = false, ["special"] = true,
                }),
        };
        HfJsonWriter.Write(Path.Combine(directory, TokenizerSettings.ConfigFile), config);
    }

    string VocabJson()
    {
        using var buffer = new MemoryStream();
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var writer = new Utf8JsonWriter(buffer, options))
        {
            writer.WriteStartObject();
            for (int id = 0; id < Tokens.Count; id++) writer.WriteNumber(Tokens[id], id);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
