using WeakToStrong.Models;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Search;

/// <summary>
/// How one model sees a prompt: a format with a <c>{raw_prompt}</c> placeholder, because the large, tuned
/// and untuned models may each expect their own chat format.
/// </summary>
public sealed record PromptTemplate
{
    public const string Placeholder = "{raw_prompt}";

    public PromptTemplate(string format, string source = "prompt template")
    {
        if (!format.Contains(Placeholder, StringComparison.Ordinal))
            throw new InvalidInputException($"{source}: expected a format containing {Placeholder}, got \"{format}\"");
        Format = format;
    }

    public static PromptTemplate Raw { get; } = new(Placeholder);

    public string Format { get; }

    public string Apply(string rawPrompt) => Format.Replace(Placeholder, rawPrompt, StringComparison.Ordinal);
}

/// <summary>A causal LM with its tokenizer and prompt template: one participant of a search.</summary>
public sealed record PromptedModel(string Name, CausalLanguageModel Model, HfTokenizer Tokenizer, PromptTemplate Template)
{
    /// <summary>The prompt's token ids, encoded without special tokens (the reference implementation's default).</summary>
    public int[] EncodePrompt(string rawPrompt)
    {
        var ids = Tokenizer.Encode(Template.Apply(rawPrompt)).ToArray();
        if (ids.Length == 0)
            throw new InvalidInputException($"{Name}: the prompt \"{rawPrompt}\" encodes to no tokens under template \"{Template.Format}\"; " +
                "a model needs at least one prompt token to predict the first response token");
        return ids;
    }

    /// <summary>Token ids that end a response: the tokenizer's EOS tokens and config.json's eos_token_id.</summary>
    public IReadOnlySet<int> EosTokenIds { get; } = Tokenizer.EosTokenIds.Concat(Model.Config.EosTokenIds).ToHashSet();

    /// <summary>The EOS appended to a finished response when this model scores it.</summary>
    public int ScoringEosTokenId => Tokenizer.EosTokenId ?? Model.Config.EosTokenIds.Cast<int?>().FirstOrDefault()
        ?? throw new InvalidInputException($"{Name}: neither the tokenizer nor config.json defines an EOS token, which scoring a finished response needs");

    /// <summary>Refuses a search whose prompt and response would not fit the model's positions.</summary>
    public void CheckLength(int tokens)
    {
        if (tokens > Model.Config.MaxPositionEmbeddings)
            throw new InvalidInputException($"{Name}: prompt plus max_new_tokens is {tokens} tokens, beyond the {Model.Config.MaxPositionEmbeddings} positions of {Model.Config.Path}");
    }

    /// <summary>Logit columns that are real tokens: checkpoints often pad the embedding matrix past the tokenizer.</summary>
    public int UsableVocabSize => Math.Min(Model.Config.VocabSize, Tokenizer.VocabSize);
}

/// <summary>Whether two tokenizers assign every token string the same id (what EFT and id-level scoring need).</summary>
public static class Vocabularies
{
    /// <summary>Null when identical, else a sentence saying where they first differ.</summary>
    public static string? Difference(HfTokenizer a, HfTokenizer b)
    {
        if (ReferenceEquals(a, b)) return null;
        if (a.VocabSize != b.VocabSize) return $"vocabulary sizes differ ({a.VocabSize} vs {b.VocabSize})";
        foreach (var (token, id) in a.Vocabulary.OrderBy(p => p.Value))
        {
            int? other = b.TokenToId(token);
            if (other != id) return other is null ? $"token \"{token}\" (id {id}) is missing from the second" : $"token \"{token}\" is id {id} in one and {other} in the other";
        }
        return null;
    }

    public static bool AreIdentical(HfTokenizer a, HfTokenizer b) => Difference(a, b) is null;
}
