using WeakToStrong.Tokenization;

namespace WeakToStrong.Tests.Tokenization;

/// <summary>BERT WordPiece on the tiny DistilBERT fixture vocabulary; expected ids worked out by hand from vocab.txt line numbers.</summary>
public class WordPieceTokenizerTests
{
    const int Pad = 0, Unknown = 1, Cls = 2, Sep = 3;
    const int The = 62, Movie = 63, Was = 65, Good = 67, Exclamation = 7;
    static readonly string FixtureDirectory = RepositoryPaths.Fixture("distilbert-cls");
    static readonly HfTokenizer Tokenizer = HfTokenizer.Load(FixtureDirectory);

    [Fact]
    public void Loads_the_vocabulary_and_special_tokens()
    {
        Assert.Equal(TokenizerKind.WordPiece, Tokenizer.Kind);
        Assert.Equal(100, Tokenizer.VocabSize);
        Assert.Equal(Pad, Tokenizer.PadTokenId);
        Assert.Equal("##ing", Tokenizer.IdToToken(84));
        Assert.True(Tokenizer.IsSpecial(Cls) && Tokenizer.IsSpecial(Sep) && Tokenizer.IsSpecial(Unknown));
        Assert.False(Tokenizer.IsSpecial(The));
    }

    [Fact]
    public void Lowercases_and_frames_with_cls_and_sep()
    {
        Assert.Equal([The, Movie, Was, Good, Exclamation], Tokenizer.Encode("The Movie WAS good!"));
        Assert.Equal([Cls, The, Movie, Was, Good, Exclamation, Sep], Tokenizer.Encode("The Movie WAS good!", addSpecialTokens: true));
    }

    [Fact]
    public void Splits_words_into_longest_matching_pieces()
    {
        // sur + ##pr + ##is + ##ing
        Assert.Equal([80, 86, 87, 84], Tokenizer.Encode("Surprising"));
    }

    [Fact]
    public void Strips_accents_when_lowercasing()
    {
        // "Café" -> "cafe" -> c ##a ##f ##e
        Assert.Equal([12, 36, 41, 40], Tokenizer.Encode("Café"));
    }

    [Fact]
    public void Keeps_accents_when_not_lowercasing()
    {
        using var directory = new TemporaryModelDirectory().CopyFrom(FixtureDirectory, "vocab.txt")
            .Write("tokenizer_config.json", """{"do_lower_case": false}""");
        var cased = HfTokenizer.Load(directory.Path);
        Assert.Equal([Unknown], cased.Encode("Café")); // no "C" and no "é" in the vocabulary
        Assert.Equal([Unknown, Movie], cased.Encode("The movie"));
    }

    [Fact]
    public void A_word_with_an_unknown_piece_becomes_one_unknown_token()
    {
        Assert.Equal([Good, Unknown, 64], Tokenizer.Encode("good x5 film"));
        // Symbols are words for HF's BasicTokenizer (not punctuation), so they become [UNK] rather than vanish.
        Assert.Equal([Unknown], Tokenizer.Encode("😀"));
        Assert.Equal([Good, Unknown, 64], Tokenizer.Encode("good € film"));
        Assert.Equal([Unknown, Exclamation], Tokenizer.Encode("good€!"));
        Assert.Equal([Good, 6, Good, Exclamation], Tokenizer.Encode("good,good!"));
    }

    [Fact]
    public void Cjk_characters_are_words_of_their_own_and_special_tokens_in_text_stay_whole()
    {
        Assert.Equal([Unknown, Unknown, Good], Tokenizer.Encode("中文good"));
        Assert.Equal([Good, Sep, 64], Tokenizer.Encode("good [SEP] film"));
    }

    [Fact]
    public void Classification_input_is_truncated_inside_the_frame()
    {
        Assert.Equal([Cls, The, Movie, Sep], Tokenizer.EncodeForClassification("the movie was good", maxLength: 4));
        Assert.Equal([Cls, The, Movie, Was, Good, Sep], Tokenizer.EncodeForClassification("the movie was good", maxLength: 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.EncodeForClassification("the movie", maxLength: 2));
    }

    [Fact]
    public void Decode_joins_pieces_and_can_skip_special_tokens()
    {
        int[] ids = [Cls, The, 80, 86, 87, 84, 64, Sep];
        Assert.Equal("the surprising film", Tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("[CLS] the surprising film [SEP]", Tokenizer.Decode(ids));
        Assert.Equal("the surprising film"u8.ToArray(), Tokenizer.DecodeToBytes(ids, skipSpecialTokens: true));
    }
}
