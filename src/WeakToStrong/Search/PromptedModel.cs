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

/// <summary>
/// How a config or a flag asks for a model's prompt: a literal format with {raw_prompt}, or <c>chat</c>, the model's own
/// chat template rendered as the reference implementation renders it (a user turn holding the literal {raw_prompt},
/// after a system turn when <see cref="SystemPrompt"/> is set, with the generation prompt), then filled in.
/// </summary>
public sealed record PromptFormat(string? Literal, string? SystemPrompt = null)
{
    public const string ChatName = "chat";

    public static PromptFormat Raw { get; } = new(PromptTemplate.Placeholder);

    public bool IsChat => Literal is null;

    /// <summary><c>chat</c>, or a format that must contain {raw_prompt} (<paramref name="source"/> names the flag or key in errors).</summary>
    public static PromptFormat Parse(string text, string? systemPrompt, string source)
    {
        if (text == ChatName) return new(null, systemPrompt);
        if (systemPrompt is not null) throw new InvalidInputException($"{source}: a system prompt applies to the chat template only (template: {ChatName})");
        return new(new PromptTemplate(text, source).Format);
    }

    /// <summary>The template for the model whose files are in <paramref name="modelDirectory"/>.</summary>
    public PromptTemplate Resolve(string modelDirectory) => Literal is string format ? new PromptTemplate(format)
        : new PromptTemplate(ChatTemplate.Load(modelDirectory).PromptTemplateFor(SystemPrompt), $"{modelDirectory}: chat template");

    public override string ToString() => Literal ?? (SystemPrompt is null ? ChatName : $"{ChatName} (system: \"{SystemPrompt}\")");
}

/// <summary>A causal LM with its tokenizer and prompt template: one participant of a search.</summary>
public sealed record PromptedModel(string Name, CausalLanguageModel Model, HfTokenizer Tokenizer, PromptTemplate Template)
{
    public HfTokenizer Tokenizer { get; init; } = Fitted(Tokenizer, Model);

    static HfTokenizer Fitted(HfTokenizer tokenizer, CausalLanguageModel model)
    {
        tokenizer.RequireIdsWithin(model.Config);
        return tokenizer;
    }

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
