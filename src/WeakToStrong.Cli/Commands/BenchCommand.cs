using System.CommandLine;
using WeakToStrong.Benchmarks;
using WeakToStrong.Models;
using WeakToStrong.Search;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts bench …`: speed and memory benchmarks that print tables (never timed tests).</summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks.") { ForwardCommand(), SearchCommand(), MemoryCommand(), ApiCommand() };

    static readonly string[] BenchmarkPrompts =
    [
        "I went to see this movie last night and", "The acting in this film was", "This is one of those movies that",
        "I have to say that the director", "When I first heard about this film I", "The plot of the movie is",
        "My wife and I watched this and", "Honestly, the soundtrack alone",
    ];

    /// <summary>16 instruction-like prompts for the API search comparison (the issue's 16 prompts).</summary>
    static readonly string[] SearchComparisonPrompts =
    [
        .. BenchmarkPrompts,
        "Tell me about cats.", "Give me a tip for a rainy day.", "Describe a good film.", "What should I cook tonight?",
        "Write a sentence about the sea.", "Name a reason to read books.", "How do I keep a plant alive?", "Say something kind.",
    ];

    /// <summary>The small pair of a comparison, disposed together.</summary>
    sealed record DisposablePair(PromptedModel Tuned, PromptedModel Untuned) : IDisposable
    {
        public void Dispose() { Tuned.Model.Dispose(); Untuned.Model.Dispose(); }
    }

    static Command SearchCommand()
    {
        var large = new Option<string>("--large") { Description = "random-weight preset of the large model", DefaultValueFactory = _ => "gpt2-small" };
        var smallLayers = new Option<int>("--small-layers") { DefaultValueFactory = _ => 2 };
        var smallWidth = new Option<int>("--small-width") { DefaultValueFactory = _ => 256 };
        var tokenizer = new Option<string>("--tokenizer") { Description = "GPT-2 tokenizer directory shared by all three models", DefaultValueFactory = _ => "tests/fixtures/tokenizers/gpt2" };
        var prompts = new Option<int>("--prompts") { DefaultValueFactory = _ => 8 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 50 };
        var w = new Option<int>("--w") { DefaultValueFactory = _ => 4 };
        var k = new Option<int>("--k") { DefaultValueFactory = _ => 4 };
        var l = new Option<int>("--l") { DefaultValueFactory = _ => 5 };
        var runtime = new RuntimeOptions();
        var command = new Command("search", "CBS cost: incremental vs full-recomputation scoring, vs plain sampling, batched vs one prompt at a time.")
            { large, smallLayers, smallWidth, tokenizer, prompts, newTokens, w, k, l };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            int promptCount = result.GetValue(prompts);
            if (promptCount < 1 || promptCount > BenchmarkPrompts.Length) throw new InvalidInputException($"--prompts must be in 1..{BenchmarkPrompts.Length}");
            var options = runtime.Apply(result);
            var vocabulary = Cli.LoadTokenizer(result.GetValue(tokenizer)!);
            PromptedModel Random(string name, ModelConfig config, ulong seed)
            {
                var model = new GPT2LMHeadModel(config, options);
                model.InitializeWeights(new TorchSharp.torch.Generator(seed));
                return new PromptedModel(name, model, vocabulary, PromptTemplate.Raw);
            }
            var largeConfig = ModelConfig.Preset(result.GetValue(large)!);
            int layers = result.GetValue(smallLayers), width = result.GetValue(smallWidth);
            var smallConfig = ModelConfig.Gpt2(layers, width, Math.Max(1, width / 64), largeConfig.VocabSize);
            var beam = new BeamSearchOptions(result.GetValue(w), result.GetValue(k), result.GetValue(l));
            var generation = new GenerationOptions(result.GetValue(newTokens), new SamplingOptions(), null, 0);
            var searchPrompts = BenchmarkPrompts.Take(promptCount).Select((text, i) => new SearchPrompt(i, text)).ToArray();
            Console.WriteLine($"large: random {result.GetValue(large)}; small: random GPT-2 {layers}x{width}; vocab {largeConfig.VocabSize}; " +
                $"{searchPrompts.Length} prompts, T = {generation.MaxNewTokens}, W = {beam.BeamWidth}, K = {beam.SuccessorsPerState}, L = {beam.ChunkLength}; " +
                $"{options.DType}, {options.Device.type}, threads {TorchSharp.torch.get_num_threads()}");
            var rows = SearchBenchmark.Run(Random("large", largeConfig, 1), Random("tuned", smallConfig, 2), Random("untuned", smallConfig, 3),
                searchPrompts, beam, generation, name => Console.Error.WriteLine($"running: {name}"));

            Console.WriteLine($"{"run",-52}  {"wall s",8}  {"scorer s",8}  {"large tok",9}  {"small tok",9}  {"forwards",8}");
            foreach (var row in rows)
                Console.WriteLine($"{row.Name,-52}  {row.WallSeconds,8:F2}  {row.ScorerSeconds,8:F2}  {row.LargeTokens,9}  {row.SmallTokens,9}  {row.ForwardCalls,8}");
            var (incremental, full, sampling, single) = (rows[0], rows[1], rows[2], rows[3]);
            int same = incremental.Outputs.Zip(full.Outputs).Count(p => p.First.Best.TokenIds.SequenceEqual(p.Second.Best.TokenIds));
            Console.WriteLine($"(1) scorer time, full recomputation / incremental: {full.ScorerSeconds / incremental.ScorerSeconds:F2}x (goal ≥ 3x); " +
                $"same best responses: {same}/{rows[0].Outputs.Count}");
            Console.WriteLine($"(2) CBS wall / plain sampling of W·K sequences: {incremental.WallSeconds / sampling.WallSeconds:F2}x (goal ≤ 1.3x)");
            Console.WriteLine($"(3) throughput, {searchPrompts.Length} prompts batched / one at a time: {single.WallSeconds / incremental.WallSeconds:F2}x (goal ≥ 2x)");
            return 0;
        }));
        return command;
    }

    static Command ApiCommand()
    {
        var model = new Option<string?>("--model") { Description = "model directory or hub id (default: the instruction zoo's base-large, else a test fixture)" };
        var clients = new Option<string>("--clients") { Description = "concurrent client counts, each a run", DefaultValueFactory = _ => "1,4,16" };
        var requests = new Option<int>("--requests") { Description = "sequential requests per client", DefaultValueFactory = _ => 6 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "tokens per request (EOS ignored)", DefaultValueFactory = _ => 48 };
        var maxBatchRows = new Option<int>("--max-batch-rows") { DefaultValueFactory = _ => 64 };
        var tuned = new Option<string?>("--tuned") { Description = "small tuned model guiding the search comparison (default: the instruction zoo's small-tuned beside the default model)" };
        var untuned = new Option<string?>("--untuned") { Description = "its untuned reference (default: the zoo's small-untuned)" };
        var searchPrompts = new Option<int>("--search-prompts") { Description = "prompts of the CBS(4,4,5) comparison, black-box vs white-box (0: none)", DefaultValueFactory = _ => 16 };
        var runtime = new RuntimeOptions(leaveACoreForHttp: true);
        var command = new Command("api", "wts serve's token throughput with 1, 4 and 16 concurrent clients over loopback, the client-side cost of a request, and CBS through the API against CBS in process.")
            { model, clients, requests, maxTokens, maxBatchRows, tuned, untuned, searchPrompts };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            var counts = Cli.ParseIds(result.GetValue(clients)!, "--clients");
            if (counts.Contains(0)) throw new InvalidInputException("--clients: client counts must be positive");
            int perClient = result.GetValue(requests), tokens = result.GetValue(maxTokens);
            if (perClient < 1 || tokens < 1) throw new InvalidInputException("--requests and --max-tokens must be positive");
            int comparePrompts = result.GetValue(searchPrompts);
            if (comparePrompts < 0 || comparePrompts > SearchComparisonPrompts.Length) throw new InvalidInputException($"--search-prompts must be in 0..{SearchComparisonPrompts.Length}, got {comparePrompts}");
            int inProcessThreads = result.GetValue(runtime.Threads) is > 0 and int given ? given : TorchSharp.torch.get_num_threads();
            var options = runtime.Apply(result);
            int serverThreads = TorchSharp.torch.get_num_threads();
            var zoo = WeakToStrong.World.Zoo.Locate(WeakToStrong.World.Zoo.DefaultDirectory, "instruction", quick: false);
            bool zooBuilt = File.Exists(Path.Combine(zoo.Model("base-large"), "config.json"));
            string reference = result.GetValue(model) ?? (zooBuilt ? zoo.Model("base-large") : "tests/fixtures/scoring/gpt2-tuned");
            string tunedReference = result.GetValue(tuned) ?? (zooBuilt ? zoo.Model("small-tuned") : "tests/fixtures/scoring/gpt2-tuned");
            string untunedReference = result.GetValue(untuned) ?? (zooBuilt ? zoo.Model("small-untuned") : "tests/fixtures/scoring/gpt2-untuned");
            string directory = ModelLocator.Resolve(reference);
            var lm = PretrainedModels.LoadCausalLM(directory, options, Cli.Warn);
            using var engine = new WeakToStrong.Serving.BatchingEngine(lm, Cli.LoadTokenizerFor(directory, lm.Config), result.GetValue(maxBatchRows));
            if (engine.MaxPositions < tokens + 16) throw new InvalidInputException($"--max-tokens {tokens}: {reference} has only {engine.MaxPositions} positions for prompt and response");
            var served = new WeakToStrong.Serving.ServedModel("bench", engine, null);
            Console.WriteLine($"model: {reference} ({lm.Config.NumHiddenLayers} layers, {lm.Config.HiddenSize} wide); {perClient} sequential requests per client, " +
                $"{tokens} tokens each (temperature 1, EOS ignored); max {engine.MaxBatchRows} rows per batch; {options.DType}, {options.Device.type}, server threads {serverThreads}");
            var (rows, overhead) = ApiBenchmark.RunAsync(served, counts, perClient, tokens, BenchmarkPrompts, line => Console.Error.WriteLine($"running: {line}"))
                .GetAwaiter().GetResult();
            Console.WriteLine($"{"clients",7}  {"requests",8}  {"tokens",7}  {"wall s",7}  {"tok/s",8}  {"vs 1 client",11}  {"rows/step",9}");
            var single = rows.FirstOrDefault(r => r.Clients == 1);
            foreach (var row in rows)
                Console.WriteLine($"{row.Clients,7}  {row.Requests,8}  {row.CompletionTokens,7}  {row.WallSeconds,7:F2}  {row.TokensPerSecond,8:F1}  " +
                    $"{(single is null ? "" : $"{row.TokensPerSecond / single.TokensPerSecond:F2}x"),11}  {row.MeanBatchRows,9:F2}");
            if (single is not null && rows.FirstOrDefault(r => r.Clients == 16) is { } sixteen)
                Console.WriteLine($"16 clients / 1 client: {sixteen.TokensPerSecond / single.TokensPerSecond:F2}x token throughput (goal ≥ 4x)");
            Console.WriteLine($"client-side overhead per request: {overhead.OverheadMs:F2} ms (HTTP round trip {overhead.RoundTripMs:F2} ms − engine {overhead.EngineMs:F2} ms, " +
                $"mean of {overhead.Requests} max_tokens = 1 requests)");
            if (comparePrompts == 0) return 0;

            using var pair = new DisposablePair(Cli.LoadPrompted("tuned", tunedReference, PromptFormat.Raw, options),
                Cli.LoadPrompted("untuned", untunedReference, PromptFormat.Raw, options));
            var cbs = new MethodSpec(MethodKind.Cbs, W: 4, K: 4, L: 5);
            var generation = new GenerationOptions(MaxNewTokens: Math.Min(tokens, engine.MaxPositions - 16));
            var timings = ApiBenchmark.CompareSearchAsync(served, new PromptedModel("large", lm, engine.Tokenizer, PromptTemplate.Raw), pair.Tuned, pair.Untuned, cbs, generation,
                SearchComparisonPrompts.Take(comparePrompts).Select((text, i) => new SearchPrompt(i, text)).ToArray(), inProcessThreads, serverThreads, line => Console.Error.WriteLine($"running: {line}"))
                .GetAwaiter().GetResult();
            Console.WriteLine($"{cbs.Label}, {comparePrompts} prompts, {generation.MaxNewTokens} new tokens (small pair: {tunedReference} / {untunedReference}):");
            Console.WriteLine($"{"transport",-32}  {"wall s",7}  {"requests",8}  {"large tokens",12}  {"mean value",10}");
            foreach (var row in timings)
                Console.WriteLine($"{row.Transport,-32}  {row.WallSeconds,7:F2}  {row.Requests,8}  {row.LargeTokens,12}  {row.MeanValue,10:F3}");
            Console.WriteLine($"black-box / white-box wall time: {timings[1].WallSeconds / timings[0].WallSeconds:F2}x (goal ≤ 1.5x on loopback)");
            return 0;
        }));
        return command;
    }

    static Command MemoryCommand()
    {
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 8 };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => 1024 };
        var heads = new Option<int>("--heads") { Description = "query heads", DefaultValueFactory = _ => 16 };
        var kvHeads = new Option<int>("--kv-heads") { Description = "key/value heads (grouped-query attention when fewer than --heads)", DefaultValueFactory = _ => 4 };
        var headDim = new Option<int>("--head-dim") { DefaultValueFactory = _ => 64 };
        var intermediate = new Option<int>("--intermediate") { DefaultValueFactory = _ => 2816 };
        var vocab = new Option<int>("--vocab") { DefaultValueFactory = _ => 32000 };
        var rows = new Option<int>("--rows") { Description = "sequences decoded together", DefaultValueFactory = _ => 16 };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 16 };
        var tokens = new Option<int>("--tokens") { Description = "total length decoded to, prompt included", DefaultValueFactory = _ => 2048 };
        var runtime = new RuntimeOptions();
        var command = new Command("memory", "Peak memory of a random Llama-shaped model decoding a batch token by token, against weights + KV cache.")
            { layers, hidden, heads, kvHeads, headDim, intermediate, vocab, rows, promptTokens, tokens };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            int layerCount = result.GetValue(layers), width = result.GetValue(hidden), queryHeads = result.GetValue(heads),
                keyValueHeads = result.GetValue(kvHeads), dim = result.GetValue(headDim), mlp = result.GetValue(intermediate),
                vocabulary = result.GetValue(vocab), rowCount = result.GetValue(rows), prompt = result.GetValue(promptTokens),
                total = result.GetValue(tokens);
            foreach (var (name, value) in new[] { ("--layers", layerCount), ("--hidden", width), ("--heads", queryHeads), ("--kv-heads", keyValueHeads),
                ("--head-dim", dim), ("--intermediate", mlp), ("--vocab", vocabulary), ("--rows", rowCount), ("--prompt-tokens", prompt) })
                if (value <= 0) throw new InvalidInputException($"{name} must be positive, got {value}");
            if (queryHeads % keyValueHeads != 0) throw new InvalidInputException($"--kv-heads ({keyValueHeads}) must divide --heads ({queryHeads})");
            if (total <= prompt) throw new InvalidInputException($"--tokens ({total}) must exceed --prompt-tokens ({prompt})");
            var options = runtime.Apply(result);
            if (options.Device.type != TorchSharp.DeviceType.CPU)
                throw new InvalidInputException($"--device {options.Device}: the memory benchmark measures resident memory, so it runs on the CPU only");
            var config = ModelConfig.Llama(layerCount, width, queryHeads, keyValueHeads, mlp, vocabulary, total, headDim: dim);
            Console.WriteLine($"model: random Llama {layerCount} layers x {width} wide, {queryHeads} query / {keyValueHeads} KV heads of {dim}, " +
                $"intermediate {mlp}, vocab {vocabulary}; {rowCount} rows decoded to {total} tokens ({prompt} prompt); " +
                $"{options.DType}, {options.Device.type}, threads {TorchSharp.torch.get_num_threads()}");
            var run = MemoryBenchmark.Run(() =>
            {
                var model = new LlamaForCausalLM(config, options);
                model.InitializeWeights(new TorchSharp.torch.Generator(0, options.Device));
                return model;
            }, rowCount, prompt, total - prompt);
            static string MiB(long bytes) => $"{bytes / 1048576.0,10:F1}";
            Console.WriteLine($"{"weights MiB",11}  {"KV cache MiB",12}  {"sum MiB",10}  {"build peak MiB",14}  {"peak MiB",10}  {"peak / sum",10}  {"decode tok/s",12}");
            Console.WriteLine($"{MiB(run.WeightBytes),11}  {MiB(run.CacheBytes),12}  {MiB(run.NeededBytes),10}  {MiB(run.BuildPeakBytes),14}  {MiB(run.PeakBytes),10}  " +
                $"{run.PeakRatio,10:F2}  {run.DecodeTokensPerSecond,12:F1}");
            Console.WriteLine($"peak: {run.PeakSource}; goal peak / (weights + KV cache) ≤ 1.2");
            return 0;
        }));
        return command;
    }

    static Command ForwardCommand()
    {
        var model = new Option<string?>("--model") { Description = "model directory or hub id" };
        var random = new Option<string?>("--random") { Description = "random weights of a preset shape: gpt2-small, gpt2-medium, gpt2-large" };
        var batches = new Option<string>("--batch-sizes") { DefaultValueFactory = _ => "1,16" };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 64 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 50 };
        var repeats = new Option<int>("--repeats") { DefaultValueFactory = _ => 3 };
        var memorySteps = new Option<int>("--memory-steps") { Description = "also report RSS after 100 and after this many decode steps (0 = skip)", DefaultValueFactory = _ => 1000 };
        var peerScript = new Option<string?>("--peer") { Description = "PyTorch peer script (bench/forward_peer.py) whose runs alternate with ours; with --random gpt2-small" };
        var peerPython = new Option<string>("--peer-python") { Description = "Python that runs --peer (its BLAS follows LD_LIBRARY_PATH)", DefaultValueFactory = _ => "python3" };
        var runtime = new RuntimeOptions();
        var command = new Command("forward", "Prefill and cached-decode tokens/s at several batch sizes.")
            { model, random, batches, promptTokens, newTokens, repeats, memorySteps, peerScript, peerPython };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            string? reference = result.GetValue(model), preset = result.GetValue(random);
            if ((reference is null) == (preset is null)) throw new InvalidInputException("give exactly one of --model and --random");
            int prompt = result.GetValue(promptTokens), generated = result.GetValue(newTokens), runs = result.GetValue(repeats);
            if (prompt <= 0 || generated <= 0 || runs <= 0) throw new InvalidInputException("--prompt-tokens, --new-tokens and --repeats must be positive");
            string? peerPath = result.GetValue(peerScript);
            if (peerPath is not null && preset != "gpt2-small")
                throw new InvalidInputException("--peer: the PyTorch peer builds a random gpt2-small, so it needs --random gpt2-small");
            var batchSizes = Cli.ParseIds(result.GetValue(batches)!, "--batch-sizes");
            if (batchSizes.Contains(0)) throw new InvalidInputException("--batch-sizes: batch sizes must be positive");
            var options = runtime.Apply(result);
            using var peer = peerPath is null ? null : ForwardPeer.Start(result.GetValue(peerPython)!, peerPath, TorchSharp.torch.get_num_threads());
            CausalLanguageModel lm;
            if (reference is not null) lm = PretrainedModels.LoadCausalLM(reference, options, Cli.Warn);
            else
            {
                var config = ModelConfig.Preset(preset!);
                lm = ModelFactory.NewCausalLM(config, options);
                lm.InitializeWeights(new TorchSharp.torch.Generator(0));
            }
            var c = lm.Config;
            Console.WriteLine($"model: {reference ?? "random " + preset} ({c.NumHiddenLayers} layers, {c.HiddenSize} wide, vocab {c.VocabSize}), " +
                $"{options.DType}, {options.Device.type}, threads {TorchSharp.torch.get_num_threads()}");
            if (peer is not null)
            {
                Console.WriteLine($"peer: {peer.Description}; runs alternate with ours, medians of {runs} after a warm-up; ratio = peer / wts (above 1: wts faster)");
                Console.WriteLine($"{"batch",5}  {"prefill tok",11}  {"prefill ms",10}  {"peer ms",9}  {"ratio",6}  {"decode ms/step",14}  {"peer ms/step",12}  {"ratio",6}  {"cpu s/run",9}  {"peer cpu s",10}");
            }
            else Console.WriteLine($"{"batch",5}  {"prefill tok",11}  {"prefill ms",10}  {"prefill tok/s",13}  {"decode ms/step",14}  {"decode tok/s",12}  {"cpu s/run",9}");
            foreach (int batch in batchSizes)
            {
                var (row, peerRow) = ForwardBenchmark.Measure(lm, batch, prompt, generated, runs, peer);
                if (peerRow is null)
                    Console.WriteLine($"{batch,5}  {prompt,11}  {row.PrefillSeconds * 1000,10:F1}  {row.PrefillTokensPerSecond,13:F1}  {row.DecodeSecondsPerStep * 1000,14:F2}  {row.DecodeTokensPerSecond,12:F1}  {row.CpuSeconds,9:F2}");
                else
                    Console.WriteLine($"{batch,5}  {prompt,11}  {row.PrefillSeconds * 1000,10:F1}  {peerRow.PrefillSeconds * 1000,9:F1}  {peerRow.PrefillSeconds / row.PrefillSeconds,6:F2}  " +
                        $"{row.DecodeSecondsPerStep * 1000,14:F2}  {peerRow.DecodeSecondsPerStep * 1000,12:F2}  {peerRow.DecodeSecondsPerStep / row.DecodeSecondsPerStep,6:F2}  " +
                        $"{row.CpuSeconds,9:F2}  {peerRow.CpuSeconds,10:F2}");
            }
            int steps = result.GetValue(memorySteps);
            if (steps > 0)
            {
                var (first, last) = ForwardBenchmark.MemoryAfterSteps(lm, 100, steps);
                Console.WriteLine($"RSS after 100 decode steps: {first / 1048576.0:F1} MiB; after {steps}: {last / 1048576.0:F1} MiB ({(last - first) * 100.0 / first:+0.0;-0.0}%)");
            }
            return 0;
        }));
        return command;
    }
}
