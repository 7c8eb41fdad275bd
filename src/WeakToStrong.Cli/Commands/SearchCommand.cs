using System.CommandLine;
using System.Text.Json;
using WeakToStrong.Evaluation;
using WeakToStrong.Models;
using WeakToStrong.Search;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts search`: one prompt through weak-to-strong search or a baseline.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var method = new Option<string>("--method") { Description = string.Join(", ", MethodSpec.Names.Keys), DefaultValueFactory = _ => "cbs" };
        method.AcceptOnlyFromAmong([.. MethodSpec.Names.Keys]);
        var largeRef = new Option<string?>("--large") { Description = "the frozen large model (directory or hub id)" };
        var apiBaseUrl = new Option<string?>("--large-api-base-url") { Description = "instead of --large: an OpenAI-compatible server's base URL, e.g. http://127.0.0.1:8000/v1 (base, bon, cbs)" };
        var apiModel = new Option<string?>("--large-api-model") { Description = "the model's name on that server" };
        var apiKeyEnv = new Option<string?>("--large-api-key-env") { Description = "the environment variable holding its API key (none for a local server)" };
        var apiTopK = new Option<bool>("--large-api-top-k") { Description = "send --top-k to the server (vLLM, TGI and wts serve accept it; OpenAI refuses it)" };
        var tunedRef = new Option<string?>("--tuned") { Description = "the small tuned model π*" };
        var untunedRef = new Option<string?>("--untuned") { Description = "the small untuned reference π_ref" };
        var guideOption = new Option<string>("--guide")
        {
            Description = "what scores cbs/bon states: implicit-value (the small pair), likelihood (the large model's own: beam search without guidance) or reward-model:REF",
            DefaultValueFactory = _ => "implicit-value",
        };
        var finished = new Option<string>("--finished") { Description = "compete-all (the reference: a finished state's K copies all rank) or one-slot", DefaultValueFactory = _ => "compete-all" };
        finished.AcceptOnlyFromAmong("compete-all", "one-slot");
        var sampledIds = new Option<bool>("--score-sampled-ids") { Description = "where the small models share the large model's vocabulary, score the sampled ids instead of re-tokenized text (the reference)" };
        var prompt = new Option<string>("--prompt") { Required = true };
        var w = new Option<int>("--w") { Description = "beam width W", DefaultValueFactory = _ => 4 };
        var k = new Option<int>("--k") { Description = "successors per state K", DefaultValueFactory = _ => 4 };
        var l = new Option<string>("--l") { Description = "chunk length L, or inf", DefaultValueFactory = _ => "5" };
        var n = new Option<int>("--n") { Description = "samples for bon", DefaultValueFactory = _ => 16 };
        var beta = new Option<double>("--beta") { Description = "EFT strength β", DefaultValueFactory = _ => 1.0 };
        var maxNewTokens = new Option<int>("--max-new-tokens") { DefaultValueFactory = _ => 50 };
        var sampling = new SamplingFlags();
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var templateLarge = new Option<string>("--template-large") { Description = "a format with {raw_prompt}, or chat (the model's chat template)", DefaultValueFactory = _ => PromptTemplate.Placeholder };
        var templateSmall = new Option<string>("--template-small") { Description = "a format with {raw_prompt}, or chat", DefaultValueFactory = _ => PromptTemplate.Placeholder };
        var systemPrompt = new Option<string?>("--system-prompt") { Description = "with chat templates: a system turn (\"\" for an empty one, as the paper's AlpacaEval runs)" };
        var stop = new Option<string[]>("--stop") { Description = "stop string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var all = new Option<bool>("--all") { Description = "also print every returned beam with its score" };
        var json = new Option<bool>("--json");
        var runtime = new RuntimeOptions();
        var command = new Command("search", "Align the large model's response by searching with small models (or run a baseline).")
        {
            method, largeRef, apiBaseUrl, apiModel, apiKeyEnv, apiTopK, tunedRef, untunedRef, guideOption, finished, sampledIds, prompt, w, k, l, n, beta, maxNewTokens,
            seed, templateLarge, templateSmall, systemPrompt, stop, all, json,
        };
        sampling.AddTo(command);
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            string chosen = result.GetValue(method)!;
            var generation = new GenerationOptions(result.GetValue(maxNewTokens), sampling.Read(result), result.GetValue(stop) ?? [], result.GetValue(seed));
            generation.Validate();
            var options = runtime.Apply(result);

            var spec = new MethodSpec(MethodSpec.Names[chosen], result.GetValue(w), result.GetValue(k), ParseChunkLength(result.GetValue(l)!), result.GetValue(n),
                result.GetValue(beta), Guide.Parse(result.GetValue(guideOption)!, "--guide"),
                result.GetValue(finished) == "one-slot" ? FinishedStates.OneSlot : FinishedStates.CompeteAll, Retokenize: !result.GetValue(sampledIds));
            if (spec.Kind == MethodKind.BestOfN && spec.N is not (>= 1 and <= BeamSearchOptions.MaxRowsPerPrompt))
                throw new InvalidInputException($"--n: expected 1 to {BeamSearchOptions.MaxRowsPerPrompt} samples, got {spec.N}");
            if (spec.Kind == MethodKind.Cbs) spec.Beam.Validate();

            PromptedModel Load(string name, string reference, string template) => Cli.LoadPrompted(name, reference,
                Cli.PromptFormatOf(template, result.GetValue(systemPrompt), $"--template-{(name == "large" ? "large" : "small")}"), options);
            string Need(Option<string?> option) => result.GetValue(option)
                ?? throw new InvalidInputException($"--method {chosen}{(spec.IsSearch ? $" with --guide {spec.Guide.Name}" : "")} needs {option.Name}");

            PromptedModel? large = null;
            string? baseUrl = result.GetValue(apiBaseUrl);
            if (baseUrl is not null && (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
                throw new InvalidInputException($"--large-api-base-url: expected an http:// or https:// URL such as http://127.0.0.1:8000/v1, got \"{baseUrl}\"");
            using var client = baseUrl is not null
                ? new Models.Api.CompletionsClient(new Models.Api.ApiModelOptions(baseUrl, result.GetValue(apiModel) ?? throw new InvalidInputException("--large-api-base-url needs --large-api-model"))
                { ApiKeyEnv = result.GetValue(apiKeyEnv), SendTopK = result.GetValue(apiTopK) }, cache: null, source: "--large-api-base-url")
                : null;
            if (client is not null && result.GetValue(largeRef) is not null) throw new InvalidInputException("give --large or --large-api-base-url, not both");
            if (client is null && (spec.UsesBaseModel || result.GetValue(largeRef) is not null))
                large = Load("large", result.GetValue(largeRef) ?? throw new InvalidInputException("give --large (a model here) or --large-api-base-url and --large-api-model (a model behind a server)"), result.GetValue(templateLarge)!);
            var largeApi = client is null ? null
                : new ApiChunkSampler(client, new PromptTemplate(Cli.PromptFormatOf(result.GetValue(templateLarge)!, result.GetValue(systemPrompt), "--template-large").Literal
                    ?? throw new InvalidInputException("--template-large: a model behind an API has no local chat template to render; write its prompt format with {raw_prompt}"), "--template-large"));
            PromptedModel? tuned = null, untuned = null;
            if (result.GetValue(tunedRef) is not null || result.GetValue(untunedRef) is not null || spec.NeedsSmallPair)
            {
                tuned = Load("tuned", Need(tunedRef), result.GetValue(templateSmall)!);
                untuned = Load("untuned", Need(untunedRef), result.GetValue(templateSmall)!);
            }
            using var rewardGuide = spec is { IsSearch: true, Guide.RewardModel: string rm } ? RewardModel.Load(rm, options, Cli.Warn) : null;
            var models = new MethodModels(large, tuned, untuned, rewardGuide, largeApi);

            var searchPrompt = new SearchPrompt(0, result.GetValue(prompt)!);
            var output = Methods.Run(spec, models, generation, [searchPrompt])[0];
            // The implicit value of the answer whatever chose it, so methods can be compared on one scale.
            double? value = Methods.ImplicitValueOf(spec, models, output, generation.StopStrings);

            if (result.GetValue(json))
            {
                var best = output.Best;
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    method = chosen,
                    prompt = searchPrompt.Text,
                    text = best.Text,
                    token_ids = best.TokenIds,
                    finish = best.Finish?.ToString(),
                    implicit_value = value,
                    score = double.IsNaN(best.Score) ? (double?)null : best.Score,
                    guide = spec.IsSearch ? spec.Guide.Name : null,
                    compute = new
                    {
                        large_tokens_sampled = output.Compute.LargeTokensSampled,
                        small_tokens_scored = output.Compute.SmallTokensScored,
                        forward_calls = output.Compute.ForwardCalls,
                        wall_seconds = output.Compute.WallSeconds,
                    },
                    beams = result.GetValue(all) ? output.Hypotheses.Select(h => new { text = h.Text, token_ids = h.TokenIds, score = h.Score }) : null,
                }, Cli.Json));
                return 0;
            }
            Console.WriteLine(searchPrompt.Text + output.Best.Text);
            Console.Error.WriteLine($"method {chosen}; implicit value {(value is double v ? v.ToString("F4") : "n/a")}; " +
                $"{output.Compute.LargeTokensSampled} large tokens sampled, {output.Compute.SmallTokensScored} small tokens scored, " +
                $"{output.Compute.ForwardCalls} forward calls, {output.Compute.WallSeconds:F2} s");
            if (result.GetValue(all))
                foreach (var h in output.Hypotheses) Console.WriteLine($"{h.Score,10:F4}  {h.Text.Replace("\n", "\\n")}");
            return 0;
        }));
        return command;
    }

    static int? ParseChunkLength(string text) =>
        text is "inf" or "∞" ? null
        : int.TryParse(text, out int value) && value > 0 ? value
        : throw new InvalidInputException($"--l: expected a positive chunk length or inf, got \"{text}\"");
}
