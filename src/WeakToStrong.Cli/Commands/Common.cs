using System.CommandLine;
using System.Text.Json;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;

namespace WeakToStrong.Cli.Commands;

/// <summary>Options shared by commands that run a model, and the one place errors become exit codes.</summary>
internal sealed class RuntimeOptions
{
    public readonly Option<string> Device = new("--device") { Description = "cpu, cuda, cuda:N, auto (every GPU) or a list such as cuda:0,cuda:1 (decoder layers split across them)", DefaultValueFactory = _ => "cpu" };
    public readonly Option<string?> DType = new("--dtype") { Description = "float32 (default), bfloat16 or float16" };
    public readonly Option<int> Threads;
    readonly bool leaveACoreForHttp;

    /// <param name="leaveACoreForHttp">
    /// a server's process: by default TorchSharp gets every core but one on the CPU, since its OpenMP threads stall whenever
    /// the HTTP stack preempts one of them mid-op (wts serve's tiny model on 2 cores: 16 concurrent clients gave 2,574
    /// tok/s with 2 threads, 5,163 with 1)
    /// </param>
    public RuntimeOptions(bool leaveACoreForHttp = false)
    {
        this.leaveACoreForHttp = leaveACoreForHttp;
        Threads = new("--threads")
        {
            Description = leaveACoreForHttp ? "CPU threads for TorchSharp (0 = every core but one, which the HTTP server keeps)" : "CPU threads for TorchSharp (0 = its default)",
            DefaultValueFactory = _ => 0,
        };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Device);
        command.Options.Add(DType);
        command.Options.Add(Threads);
    }

    /// <param name="configDeviceMap">an experiment config's device_map (auto): used unless --device is given</param>
    public ModelOptions Apply(ParseResult result, string? configDeviceMap = null)
    {
        int threads = result.GetValue(Threads);
        if (threads < 0) throw new InvalidInputException($"--threads must be ≥ 0, got {threads}");
        bool deviceGiven = result.GetResult(Device) is { Implicit: false };
        var options = ModelOptions.Parse(deviceGiven ? result.GetValue(Device)! : configDeviceMap ?? result.GetValue(Device)!, result.GetValue(DType));
        if (threads == 0 && leaveACoreForHttp && options.Device.type == TorchSharp.DeviceType.CPU) threads = Math.Max(1, Environment.ProcessorCount - 1);
        if (threads > 0) TorchSharp.torch.set_num_threads(threads);
        // Tensors on the CPU live in glibc's heap; on a GPU they live in the CUDA caching allocator, and the
        // host keeps its default malloc (no heap held at its peak for the whole run).
        if (options.Device.type == TorchSharp.DeviceType.CPU) NativeMemory.ReuseFreedMemory();
        return options;
    }
}

/// <summary>--temperature, --top-k and --top-p, with <see cref="SamplingOptions"/>'s own defaults (the reference implementation's).</summary>
internal sealed class SamplingFlags
{
    static readonly SamplingOptions Defaults = new();
    readonly Option<double> temperature = new("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => Defaults.Temperature };
    readonly Option<int> topK = new("--top-k") { Description = "0 = off", DefaultValueFactory = _ => Defaults.TopK };
    readonly Option<double> topP = new("--top-p") { Description = "nucleus mass in (0, 1]", DefaultValueFactory = _ => Defaults.TopP };

    public void AddTo(Command command)
    {
        command.Options.Add(temperature);
        command.Options.Add(topK);
        command.Options.Add(topP);
    }

    /// <summary>The options given, validated (an error names the flag).</summary>
    public SamplingOptions Read(ParseResult result)
    {
        var sampling = new SamplingOptions(result.GetValue(temperature), result.GetValue(topK), result.GetValue(topP));
        sampling.Validate(asFlags: true);
        return sampling;
    }
}

internal static class Cli
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Exit codes (README.md, "Errors and exit codes").</summary>
    public const int BadInput = 2, EnvironmentFailure = 3, Bug = 70;

    /// <summary>--verbose or WTS_VERBOSE=1: an error's stack trace follows its line.</summary>
    public static bool Verbose { get; set; } = Environment.GetEnvironmentVariable("WTS_VERBOSE") is { Length: > 0 } v && v != "0";

    /// <summary>Runs a command body; whatever it throws becomes one line on stderr and an exit code (<see cref="Report"/>).</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            return Report(e, Console.Error);
        }
    }

    /// <summary>
    /// The one place an exception becomes what the user sees: `wts: error: …` and exit 2 for bad input, 3 for the
    /// machine (an unwritable path, a full disk, no memory), 70 for a bug in wts, which says how to get its trace.
    /// </summary>
    public static int Report(Exception exception, TextWriter error)
    {
        var e = exception;
        while (e is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException && e.InnerException is not null)
            e = e.InnerException!;
        (string message, int code) = e switch
        {
            // A system too old for TorchSharp's native library: say which requirement it misses.
            _ when NativeRequirements.IsLoadFailure(exception) => (NativeRequirements.Explain(exception), EnvironmentFailure),
            InvalidInputException => (e.Message, BadInput),
            EnvironmentFailureException => (e.Message, EnvironmentFailure),
            UnauthorizedAccessException => ($"permission denied: {e.Message}", EnvironmentFailure),
            // .NET names no path when the console's stream fails (stdout redirected to a full disk, /dev/full).
            IOException when e.TargetSite?.DeclaringType?.FullName == "System.ConsolePal" => ($"cannot write standard output: {e.Message}", EnvironmentFailure),
            IOException => ($"I/O failure: {e.Message}", EnvironmentFailure),
            OutOfMemoryException => ($"out of memory: {e.Message}", EnvironmentFailure),
            System.Runtime.InteropServices.ExternalException when e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
                => ($"out of memory: {FirstLine(e.Message)}", EnvironmentFailure),
            _ => ($"this is a bug in wts: {e.GetType().FullName}: {FirstLine(e.Message)} " +
                  "(run again with --verbose or WTS_VERBOSE=1 for the stack trace, and report it)", Bug),
        };
        error.WriteLine($"wts: error: {string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))}");
        if (Verbose) error.WriteLine(exception);
        return code;
    }

    static string FirstLine(string text) => text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";

    public static void Warn(string message) => Console.Error.WriteLine($"wts: warning: {message}");

    public static HfTokenizer LoadTokenizer(string reference) => HfTokenizer.Load(ModelLocator.Resolve(reference));

    /// <summary>The tokenizer of <paramref name="reference"/>, refused when it can produce ids beyond <paramref name="config"/>'s vocabulary.</summary>
    public static HfTokenizer LoadTokenizerFor(string reference, ModelConfig config)
    {
        var tokenizer = LoadTokenizer(reference);
        tokenizer.RequireIdsWithin(config);
        return tokenizer;
    }

    /// <summary>A model of a search or of scoring, with its prompt format resolved against its own files.</summary>
    public static PromptedModel LoadPrompted(string name, string reference, PromptFormat format, ModelOptions options)
    {
        string directory = ModelLocator.Resolve(reference);
        var model = PretrainedModels.LoadCausalLM(directory, options, Warn);
        if (model.DeviceMap.IsSplit) Console.Error.WriteLine($"{name}: {model.DeviceMap}");
        return new(name, model, HfTokenizer.Load(directory), format.Resolve(directory));
    }

    /// <summary>A template flag's value (a format with {raw_prompt}, or chat) with the --system-prompt that goes with it.</summary>
    public static PromptFormat PromptFormatOf(string template, string? systemPrompt, string flag) =>
        PromptFormat.Parse(template, template == PromptFormat.ChatName ? systemPrompt : null, flag);

    public static int[] ParseIds(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out ids[i]) || ids[i] < 0)
                throw new InvalidInputException($"{option}: expected comma-separated non-negative token ids, got \"{parts[i]}\"");
        if (ids.Length == 0) throw new InvalidInputException($"{option}: expected at least one token id");
        return ids;
    }

    public static void CheckIds(IReadOnlyList<int> ids, ModelConfig config, string option)
    {
        foreach (int id in ids)
            if (id >= config.VocabSize)
                throw new InvalidInputException($"{option}: token id {id} is outside the vocabulary of {config.Path} (vocab_size {config.VocabSize})");
    }
}
