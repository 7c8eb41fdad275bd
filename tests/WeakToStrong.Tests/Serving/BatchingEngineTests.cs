using WeakToStrong.Search;
using WeakToStrong.Serving;
using WeakToStrong.Tests.Search;

namespace WeakToStrong.Tests.Serving;

public class BatchingEngineTests(TinyWorld world) : IClassFixture<TinyWorld>
{
    static readonly SamplingOptions Greedy = new(0, 0, 1.0), Warm = new(1.0, 0, 1.0), Nucleus = new(0.8, 20, 0.9);

    CompletionJob Job(string[] prompts, int n, int maxTokens, SamplingOptions sampling, long? seed, params string[] stop)
    {
        var tokenizer = world.Load("large").Tokenizer;
        return new([.. prompts.Select(p => tokenizer.Encode(p).ToArray())], n, maxTokens, sampling, seed, stop, Logprobs: 2);
    }

    /// <summary>Prompts of different lengths, several n, sampling settings and lengths: rows join and leave the batch at different steps.</summary>
    CompletionJob[] Jobs() =>
    [
        Job(["the cat"], 1, 9, Greedy, null),
        Job(["a tale of two cities, and then"], 3, 14, Warm, 11),
        Job(["he", "the theatre of the absurd"], 2, 5, Nucleus, 12),
        Job(["she sat"], 1, 20, Warm, 13),
        Job(["the the the"], 2, 3, Greedy, 14),
        Job(["a"], 4, 11, Nucleus, 15),
    ];

    [Fact]
    public async Task EachRequestGetsWhatItWouldAloneWhileSharingForwardPasses()
    {
        var model = world.Load("large");
        using var alone = new BatchingEngine(model.Model, model.Tokenizer, maxBatchRows: 16);
        var expected = new List<ServedCompletion>();
        foreach (var job in Jobs()) expected.Add(await alone.Submit(job));

        using var shared = new BatchingEngine(model.Model, model.Tokenizer, maxBatchRows: 16);
        var results = await Task.WhenAll(Jobs().Select(job => shared.Submit(job)));

        for (int j = 0; j < results.Length; j++)
            for (int c = 0; c < results[j].Choices.Count; c++)
            {
                var (want, got) = (expected[j].Choices[c], results[j].Choices[c]);
                Assert.Equal(want.TokenIds, got.TokenIds);
                Assert.Equal(want.Text, got.Text);
                Assert.Equal(want.FinishReason, got.FinishReason);
                Assert.Equal(want.Logprobs!.TokenLogprobs, got.Logprobs!.TokenLogprobs, (a, b) => Math.Abs(a - b) < 1e-4);
            }
        // Batching happened: fewer forward passes than one request at a time, several rows in each.
        Assert.True(shared.DecodeSteps < alone.DecodeSteps, $"{shared.DecodeSteps} decode steps together vs {alone.DecodeSteps} one at a time");
        Assert.True(shared.DecodedRows > 2 * shared.DecodeSteps, $"mean batch {(double)shared.DecodedRows / shared.DecodeSteps:F2} rows");
    }

    [Fact]
    public async Task ASmallBatchLimitQueuesRequestsWithoutChangingThem()
    {
        var model = world.Load("large");
        using var roomy = new BatchingEngine(model.Model, model.Tokenizer, maxBatchRows: 16);
        using var tight = new BatchingEngine(model.Model, model.Tokenizer, maxBatchRows: 4);
        var wide = await Task.WhenAll(Jobs().Select(job => roomy.Submit(job)));
        var narrow = await Task.WhenAll(Jobs().Select(job => tight.Submit(job)));
        Assert.Equal(wide.SelectMany(r => r.Choices.Select(c => c.Text)), narrow.SelectMany(r => r.Choices.Select(c => c.Text)));
    }

    [Fact]
    public async Task GreedyChoicesAreWtsGenerateOutput()
    {
        var model = world.Load("large");
        var ids = model.Tokenizer.Encode("the theatre").ToArray();
        var generated = Generation.Sample(model.Model, ids, 12, Greedy, model.EosTokenIds.ToList(), seed: 0);
        using var engine = new BatchingEngine(model.Model, model.Tokenizer, maxBatchRows: 8);
        var result = await engine.Submit(new CompletionJob([ids], 2, 12, Greedy, null, [], null));
        Assert.All(result.Choices, choice => Assert.Equal(generated, choice.TokenIds));
        Assert.Equal(ids.Length, result.PromptTokens);
        Assert.Equal(2 * generated.Count, result.CompletionTokens);
    }

    [Fact]
    public async Task AStopStringEndsAChoiceAndIsLeftOut()
    {
        var model = world.Load("large");
        using var engine = new BatchingEngine(model.Model, model.Tokenizer, maxBatchRows: 8);
        var free = (await engine.Submit(Job(["the cat"], 1, 12, Greedy, null))).Choices[0];
        Assert.Equal("length", free.FinishReason);
        string stop = free.Text.Substring(free.Text.Length / 2, 2);
        var stopped = (await engine.Submit(Job(["the cat"], 1, 12, Greedy, null, stop))).Choices[0];
        Assert.Equal("stop", stopped.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.True(stopped.TokenIds.Count < free.TokenIds.Count);
    }

    [Fact]
    public async Task AnAbandonedRequestLeavesTheBatchAtTheNextStep()
    {
        var model = world.Load("large");
        using var engine = new BatchingEngine(model.Model, model.Tokenizer, maxBatchRows: 8);
        using var abandon = new CancellationTokenSource();
        var long_ = engine.Submit(Job(["the cat"], 4, 200, Warm, 3) with { IgnoreEos = true }, abandon.Token);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (engine.DecodeSteps < 3 && DateTime.UtcNow < deadline) await Task.Delay(5);
        abandon.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => long_.WaitAsync(TimeSpan.FromSeconds(60)));
        long steps = engine.DecodeSteps;
        var next = await engine.Submit(Job(["a"], 1, 5, Greedy, null));
        Assert.Equal(5, next.Choices[0].TokenIds.Count);
        Assert.True(engine.DecodeSteps - steps <= 5, $"{engine.DecodeSteps - steps} steps for a 5-token request after the abandoned one");
        Assert.True(engine.DecodedRows - 4 * steps <= 5, "the abandoned rows still took part in later steps");
        Assert.True(steps < 200, $"{steps} steps: the abandoned request ran to its end");
    }

    [Fact]
    public void RowSeedsDependOnSeedAndChoiceOnly()
    {
        Assert.Equal(BatchingEngine.RowSeed(5, 2), BatchingEngine.RowSeed(5, 2));
        Assert.NotEqual(BatchingEngine.RowSeed(5, 2), BatchingEngine.RowSeed(5, 3));
        Assert.NotEqual(BatchingEngine.RowSeed(5, 2), BatchingEngine.RowSeed(6, 2));
    }
}
