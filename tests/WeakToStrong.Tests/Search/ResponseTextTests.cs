using System.Text;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Search;

public class ResponseTextTests
{
    static readonly HfTokenizer Gpt2 = HfTokenizer.Load(RepositoryPaths.Fixture("tokenizers", "gpt2"));

    [Theory]
    [InlineData("abc", 0)]
    [InlineData("café", 0)]
    [InlineData("😀", 0)]
    public void CompleteTextHasNoIncompleteTail(string text, int expected) =>
        Assert.Equal(expected, Response.IncompleteTailLength(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void EveryPrefixOfAMultiByteCharacterIsHeldBack()
    {
        byte[] emoji = Encoding.UTF8.GetBytes("😀"); // 4 bytes
        for (int cut = 1; cut < emoji.Length; cut++)
            Assert.Equal(cut, Response.IncompleteTailLength(emoji.AsSpan(0, cut)));
        Assert.Equal(2, Response.IncompleteTailLength([(byte)'a', 0xE6, 0x97])); // "日" cut after 2 of 3 bytes
        Assert.Equal(0, Response.IncompleteTailLength([0x80])); // a stray continuation byte is not a character start
    }

    [Fact]
    public void AResponseStoppingInsideACharacterShowsOnlyCompleteCharacters()
    {
        var ids = Gpt2.Encode(" naïve 😀!");
        string shown = "";
        var response = new Response();
        foreach (int id in ids)
        {
            response.Append(id, Gpt2, new HashSet<int>(), []);
            Assert.DoesNotContain('\uFFFD', response.Text);
            Assert.StartsWith(shown, response.Text, StringComparison.Ordinal); // text only grows
            shown = response.Text;
        }
        Assert.Equal(" naïve 😀!", response.Text);
    }

    [Fact]
    public void ResponseTextIsCleanedUpAsHfDecodesItWhereTheTokenizerAsks()
    {
        // Llama-3's tokenizer_config.json sets clean_up_tokenization_spaces, so HF's decode (what the reference
        // implementation scores and returns) turns " ." into "." and " n't" into "n't".
        var llama3 = HfTokenizer.Load(RepositoryPaths.Fixture("tokenizers", "meta-llama-3-8b-instruct"));
        var ids = llama3.Encode("I do n't know , really .");
        var response = new Response();
        foreach (int id in ids) response.Append(id, llama3, new HashSet<int>(), []);

        Assert.Equal(llama3.Decode(ids, skipSpecialTokens: true), response.Text);
        Assert.Equal("I don't know, really.", response.Text);
        Assert.Equal("a ,b .", Response.CompleteText(Gpt2, Gpt2.Encode("a ,b ."))); // GPT-2's files leave the spaces alone
    }
}
