namespace WeakToStrong.Models;

/// <summary>
/// The one map from a config's architecture and head to our model class (transformers' modeling_auto role). Models
/// come out with uninitialized parameters: a checkpoint load or InitializeWeights fills them.
/// </summary>
public static class ModelFactory
{
    public static CausalLanguageModel NewCausalLM(ModelConfig config, ModelOptions options) => (config.Head, config.Architecture) switch
    {
        (HeadKind.CausalLM, Architecture.Gpt2) => new GPT2LMHeadModel(config, options),
        (HeadKind.CausalLM, Architecture.Llama) => new LlamaForCausalLM(config, options),
        (HeadKind.CausalLM, _) => throw new InvalidInputException($"{config.Path}: {config.ModelType} has no causal language model here; expected gpt2, llama, mistral or qwen2"),
        _ => throw new InvalidInputException($"{config.Path}: expected a causal language model, but this is a {config.ModelType} sequence classifier"),
    };

    public static SequenceClassifier NewSequenceClassifier(ModelConfig config, ModelOptions options) => (config.Head, config.Architecture) switch
    {
        (HeadKind.SequenceClassification, Architecture.Gpt2) => new GPT2ForSequenceClassification(config, options),
        (HeadKind.SequenceClassification, Architecture.Llama) => new LlamaForSequenceClassification(config, options),
        (HeadKind.SequenceClassification, Architecture.DistilBert) => new DistilBertForSequenceClassification(config, options),
        _ => throw new InvalidInputException($"{config.Path}: expected a sequence classifier (architectures …ForSequenceClassification), but this is a {config.ModelType} causal language model"),
    };
}
