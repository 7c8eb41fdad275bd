using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>Bad tokenizer directories are refused with an <see cref="InvalidInputException"/> that names the file and the problem.</summary>
public class TokenizerErrorTests
{
    static readonly string Gpt2Directory = RepositoryPaths.Fixture("tokenizers", "gpt2");

    static InvalidInputException LoadFails(string directory) => Assert.Throws<InvalidInputException>(() => HfTokenizer.Load(directory));

    [Fact]
    public void A_directory_without_tokenizer_files_lists_the_files_looked_for()
    {
        using var directory = new TemporaryModelDirectory().Write("config.json", "{}");
        string message = LoadFails(directory.Path).Message;
        foreach (string file in new[] { "tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt" }) Assert.Contains(file, message);
        Assert.Contains(directory.Path, message);
    }

    [Fact]
    public void A_missing_directory_is_named()
    {
        string missing = Path.Combine(Path.GetTempPath(), "w2s-no-such-model-" + Guid.NewGuid());
        Assert.Contains(missing, LoadFails(missing).Message);
    }

    [Theory]
    [InlineData("tokenizer.json")]
    [InlineData("tokenizer_config.json")]
    [InlineData("generation_config.json")]
    public void Malformed_json_names_the_file(string fileName)
    {
        using var directory = new TemporaryModelDirectory().CopyFrom(Gpt2Directory, "vocab.json", "merges.txt").Write(fileName, """{"model": {"type": "BPE",""");
        string message = LoadFails(directory.Path).Message;
        Assert.Contains(fileName, message);
        Assert.Contains("malformed JSON", message);
    }

    [Fact]
    public void A_special_token_missing_from_the_vocabulary_is_named_with_its_file()
    {
        using var directory = new TemporaryModelDirectory().CopyFrom(Gpt2Directory, "vocab.json", "merges.txt")
            .Write("tokenizer_config.json", """{"eos_token": {"content": "<|im_end|>"}}""");
        string message = LoadFails(directory.Path).Message;
        Assert.Contains("tokenizer_config.json", message);
        Assert.Contains("eos_token", message);
        Assert.Contains("<|im_end|>", message);
    }

    [Fact]
    public void A_wordpiece_special_token_missing_from_vocab_txt_is_named()
    {
        using var directory = new TemporaryModelDirectory().CopyFrom(RepositoryPaths.Fixture("distilbert-cls"), "vocab.txt")
            .Write("special_tokens_map.json", """{"unk_token": "[NOPE]"}""");
        string message = LoadFails(directory.Path).Message;
        Assert.Contains("[NOPE]", message);
        Assert.Contains("special_tokens_map.json", message);
    }

    [Fact]
    public void A_generation_eos_id_outside_the_vocabulary_is_named()
    {
        using var directory = new TemporaryModelDirectory().CopyFrom(Gpt2Directory, "vocab.json", "merges.txt", "tokenizer_config.json")
            .Write("generation_config.json", """{"eos_token_id": [50256, 999999]}""");
        string message = LoadFails(directory.Path).Message;
        Assert.Contains("generation_config.json", message);
        Assert.Contains("999999", message);
    }

    [Fact]
    public void An_unsupported_tokenizer_json_alone_says_what_it_is()
    {
        using var directory = new TemporaryModelDirectory().Write("tokenizer.json", """{"model": {"type": "Unigram", "vocab": []}, "pre_tokenizer": {"type": "Metaspace"}}""");
        string message = LoadFails(directory.Path).Message;
        Assert.Contains("tokenizer.json", message);
        Assert.Contains("Unigram", message);
    }

    [Fact]
    public void Malformed_merges_entries_are_named()
    {
        using var directory = new TemporaryModelDirectory()
            .Write("tokenizer.json", """{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}}""");
        string message = LoadFails(directory.Path).Message;
        Assert.Contains("tokenizer.json", message);
        Assert.Contains("merges", message);
    }

    [Fact]
    public void A_corrupt_sentencepiece_model_is_named()
    {
        using var directory = new TemporaryModelDirectory().Write("tokenizer.model", "this is not a protobuf"u8.ToArray());
        Assert.Contains("tokenizer.model", LoadFails(directory.Path).Message);
    }
}
