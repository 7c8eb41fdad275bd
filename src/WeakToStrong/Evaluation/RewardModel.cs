using WeakToStrong.Models;
using WeakToStrong.Tokenization;
using static TorchSharp.torch;

namespace WeakToStrong.Evaluation;

/// <summary>
/// A sequence classifier read as a scalar reward, as the paper's gold evaluators are:
/// one logit → that logit (a Bradley–Terry reward model); two or more → logit(POSITIVE) − logit(NEGATIVE)
/// (distilbert-imdb's log p(positive) − log p(negative)), falling back to logit 1 − logit 0 when the labels are unnamed.
/// </summary>
public sealed class RewardModel : IDisposable
{
    readonly SequenceClassifier classifier;
    readonly ModelOptions options;

    /// <param name="addSpecialTokens">Whether <see cref="Tokenize"/> frames the text with the tokenizer's special tokens
    /// (HF's add_special_tokens, the default); false for text rendered by a chat template, which carries its own, as
    /// transformers' apply_chat_template(tokenize=True) encodes it.</param>
    public RewardModel(SequenceClassifier classifier, HfTokenizer tokenizer, ModelOptions options, bool addSpecialTokens = true)
    {
        tokenizer.RequireIdsWithin(classifier.Config);
        this.classifier = classifier;
        this.options = options;
        Tokenizer = tokenizer;
        AddSpecialTokens = addSpecialTokens;
        (PositiveIndex, NegativeIndex) = RewardLogits(classifier.Config);
        classifier.eval();
    }

    public static RewardModel Load(string reference, ModelOptions options, Action<string>? warn = null, bool addSpecialTokens = true)
    {
        string directory = ModelLocator.Resolve(reference);
        var classifier = PretrainedModels.LoadSequenceClassifier(directory, options, warn);
        return new RewardModel(classifier, HfTokenizer.Load(directory), options, addSpecialTokens);
    }

    public HfTokenizer Tokenizer { get; }
    public ModelConfig Config => classifier.Config;
    public int PositiveIndex { get; }
    public int? NegativeIndex { get; }
    /// <summary>Whether the tokenizer's special tokens are added around each text (see the constructor).</summary>
    public bool AddSpecialTokens { get; }

    public string LabelName(int index) => Config.Id2Label.TryGetValue(index, out var name) ? name : $"LABEL_{index}";

    /// <summary>
    /// Token ids as the model saw them in training: BERT's [CLS] … [SEP], decoders' own special tokens; or, without
    /// <see cref="AddSpecialTokens"/>, the text's own ids alone. Cut to the model's positions either way.
    /// </summary>
    public int[] Tokenize(string text)
    {
        int[] ids = AddSpecialTokens ? Tokenizer.EncodeForClassification(text, Config.MaxPositionEmbeddings)
            : Tokenizer.Encode(text, addSpecialTokens: false).Take(Config.MaxPositionEmbeddings).ToArray();
        if (ids.Length == 0) throw new InvalidInputException($"{Config.Path}: the text to score encodes to no tokens");
        return ids;
    }

    /// <summary>Logits [num_labels] per text, in batches of right-padded sequences.</summary>
    public float[][] Logits(IReadOnlyList<string> texts, int batchSize = 16)
    {
        var results = new float[texts.Count][];
        int pad = Config.PadTokenId ?? Tokenizer.PadTokenId ?? 0;
        using var _ = no_grad();
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = texts.Skip(start).Take(batchSize).Select(Tokenize).ToArray();
            int length = batch.Max(ids => ids.Length);
            var inputIds = new long[batch.Length * length];
            var mask = new long[batch.Length * length];
            for (int row = 0; row < batch.Length; row++)
                for (int col = 0; col < length; col++)
                {
                    bool real = col < batch[row].Length;
                    inputIds[row * length + col] = real ? batch[row][col] : pad;
                    mask[row * length + col] = real ? 1 : 0;
                }
            var ids = tensor(inputIds, [batch.Length, length], device: options.Device);
            var attention = AttentionMasks.FromHost(mask, batch.Length, length, options.Device);
            var logits = classifier.Forward(ids, attention).to(ScalarType.Float32).cpu();
            int labels = (int)logits.shape[1];
            var flat = logits.data<float>().ToArray();
            for (int row = 0; row < batch.Length; row++)
                results[start + row] = flat.AsSpan(row * labels, labels).ToArray();
        }
        return results;
    }

    public double RewardOf(float[] logits) =>
        NegativeIndex is int negative ? (double)logits[PositiveIndex] - logits[negative] : logits[PositiveIndex];

    public double[] Score(IReadOnlyList<string> texts, int batchSize = 16) =>
        Logits(texts, batchSize).Select(RewardOf).ToArray();

    static (int Positive, int? Negative) RewardLogits(ModelConfig config)
    {
        if (config.NumLabels == 1) return (0, null);
        int? Find(string label) => config.Id2Label.Where(p => string.Equals(p.Value, label, StringComparison.OrdinalIgnoreCase))
            .Select(p => (int?)p.Key).FirstOrDefault();
        return (Find("POSITIVE") ?? 1, Find("NEGATIVE") ?? 0);
    }

    public void Dispose() => classifier.Dispose();
}
