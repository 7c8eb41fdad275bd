using System.CommandLine;
using WeakToStrong.Models;
using WeakToStrong.Serving;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Cli.Commands;

/// <summary>`wts serve`: one causal LM behind an OpenAI-compatible API, concurrent requests batched together.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "model directory or Hugging Face hub id (offline cache); clients name it as given here", Required = true };
        var name = new Option<string?>("--served-model-name") { Description = "the model id clients send (default: --model as given)" };
        var host = new Option<string>("--host") { Description = "address to bind (loopback by default; 0.0.0.0 for every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port, printed at start)", DefaultValueFactory = _ => 8000 };
        var maxBatchRows = new Option<int>("--max-batch-rows") { Description = "most choices decoded together across requests", DefaultValueFactory = _ => 64 };
        var maxRequestBytes = new Option<long>("--max-request-bytes") { Description = "largest request body accepted", DefaultValueFactory = _ => ServeOptions.DefaultMaxRequestBytes };
        var runtime = new RuntimeOptions(leaveACoreForHttp: true);
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, /health).")
            { model, name, host, port, maxBatchRows, maxRequestBytes };
        runtime.AddTo(command);
        command.SetAction(result => Cli.Run(() =>
        {
            var options = new ServeOptions(result.GetValue(host)!, result.GetValue(port), result.GetValue(maxRequestBytes));
            var modelOptions = runtime.Apply(result);
            string reference = result.GetValue(model)!;
            string directory = ModelLocator.Resolve(reference);
            var lm = PretrainedModels.LoadCausalLM(directory, modelOptions, Cli.Warn);
            using var engine = new BatchingEngine(lm, Cli.LoadTokenizerFor(directory, lm.Config), result.GetValue(maxBatchRows));
            var served = new ServedModel(result.GetValue(name) ?? reference, engine, ChatTemplate.Exists(directory) ? ChatTemplate.Load(directory) : null);
            var server = OpenAiServer.StartAsync(served, options, Console.Error).GetAwaiter().GetResult();
            Console.Error.WriteLine($"wts serve: {served.Id} listening on {server.Address} (max {engine.MaxBatchRows} rows per batch, " +
                $"context {engine.MaxPositions} tokens, chat template: {(served.ChatTemplate is null ? "none" : served.ChatTemplate.Source)}, " +
                $"{TorchSharp.torch.get_num_threads()} TorchSharp threads); Ctrl+C stops");
            server.WaitForShutdownAsync().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
        }));
        return command;
    }
}
