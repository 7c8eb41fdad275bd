using System.Text;

namespace WeakToStrong.Tests.Cli;

/// <summary>
/// Issue 13's evidence table: bad inputs and faults across every command, each answered with its documented exit
/// code (2 bad input, 3 the machine), exactly one `wts: error:` line, no stack trace, and every file that was in the
/// row's folder unchanged. Rows are refused before any model is trained or searched, so each takes about a second.
/// </summary>
public sealed class BadInputTableTests : IDisposable
{
    const int BadInput = CliErrorAssertions.BadInput, Machine = CliErrorAssertions.Environment;

    readonly string scratch = Directory.CreateTempSubdirectory("wts-bad-input-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    /// <param name="Args">the command line; {dir} is the row's folder, {fx} tests/fixtures, {ro} a folder no file can be created in</param>
    /// <param name="Expected">text the error line must hold (the flag or file it names), with the same placeholders</param>
    /// <param name="AfterProgress">the fault is met mid-work (a full disk), so progress lines may precede the error line</param>
    public sealed record Row(string Name, int ExitCode, string[] Args, string Expected, Action<string>? Setup = null, bool AfterProgress = false);

    const string Tuned = "{fx}/scoring/gpt2-tuned", Untuned = "{fx}/scoring/gpt2-untuned";

    const string GoodConfig = """
        name: smoke
        task: sentiment
        dataset: {prompts: 2}
        models:
          bases: [{name: base-small, path: zoo:base-small}]
          tuned: zoo:small-tuned
          untuned: zoo:small-untuned
          gold: zoo:gold
        methods: [base]
        generation: {max_new_tokens: 4}
        """;

    static void Write(string dir, string name, string text) => File.WriteAllText(Path.Combine(dir, name), text);

    static void WriteBytes(string dir, string name, byte[] bytes) => File.WriteAllBytes(Path.Combine(dir, name), bytes);

    /// <summary>A user's file beside the outputs, whose checksum every row checks.</summary>
    static void UserFile(string dir) => Write(dir, "file", "the user's notes\n");

    static void CopyModel(string dir, string fixture, string name = "model")
    {
        string target = Path.Combine(dir, name);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(RepositoryPaths.Fixture(fixture))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
    }

    static byte[] InvalidUtf8Line(string before, string after) => [.. Encoding.UTF8.GetBytes(before), 0xC3, 0x28, .. Encoding.UTF8.GetBytes(after)];

    static string AliasBomb()
    {
        var lines = new List<string> { "a0: &a0 [x, x, x, x, x, x, x, x, x]" };
        for (int i = 1; i < 9; i++) lines.Add($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9))}]");
        lines.Add("? *a8\n: 1");
        return string.Join("\n", lines);
    }

    static readonly Row[] Table =
    [
        // Flags: System.CommandLine's parse errors and our own checks of values.
        new("unknown command", BadInput, ["frobnicate"], "'frobnicate'"),
        new("missing required flag", BadInput, ["search", "--prompt", "p"], "--large"),
        new("flag value not a number", BadInput, ["generate", "--model", Tuned, "--prompt", "hi", "--max-new-tokens", "x"], "--max-new-tokens"),
        new("unknown flag", BadInput, ["logprobs", "--model", Tuned, "--ids", "1", "--frobnicate"], "--frobnicate"),
        new("negative threads", BadInput, ["logprobs", "--model", Tuned, "--ids", "1,2", "--threads", "-1"], "--threads"),
        new("unknown device", BadInput, ["logprobs", "--model", Tuned, "--ids", "1,2", "--device", "tpu"], "tpu"),
        new("unknown dtype", BadInput, ["logprobs", "--model", Tuned, "--ids", "1,2", "--dtype", "float8"], "float8"),
        new("bad token ids", BadInput, ["logprobs", "--model", Tuned, "--ids", "1,x"], "--ids"),
        new("token id beyond vocabulary", BadInput, ["logprobs", "--model", Tuned, "--ids", "1,999999"], "vocab_size"),
        new("generate beyond the context", BadInput, ["generate", "--model", Tuned, "--prompt", "hi", "--max-new-tokens", "100000000"], "--max-new-tokens"),
        new("search n zero", BadInput, ["search", "--method", "bon", "--large", Tuned, "--tuned", Tuned, "--untuned", Untuned, "--prompt", "hi", "--n", "0"], "--n"),
        new("search unknown method", BadInput, ["search", "--method", "beam", "--large", Tuned, "--prompt", "hi"], "beam"),
        new("generate negative temperature", BadInput, ["generate", "--model", Tuned, "--prompt", "hi", "--temperature", "-1"], "--temperature must be ≥ 0"),
        new("generate top-p above one", BadInput, ["generate", "--model", Tuned, "--prompt", "hi", "--top-p", "2"], "--top-p must be in (0, 1]"),
        new("search negative top-k", BadInput, ["search", "--large", Tuned, "--tuned", Tuned, "--untuned", Untuned, "--prompt", "hi", "--top-k", "-1"], "--top-k must be ≥ 0"),
        new("serve model missing", BadInput, ["serve", "--model", "{dir}/absent", "--port", "0"], "{dir}/absent"),
        new("serve host not an address", BadInput, ["serve", "--model", Tuned, "--host", "example.invalid", "--port", "0"], "--host"),
        new("serve port out of range", BadInput, ["serve", "--model", Tuned, "--port", "70000"], "--port"),
        new("serve no batch rows", BadInput, ["serve", "--model", Tuned, "--port", "0", "--max-batch-rows", "0"], "--max-batch-rows"),
        new("template user and messages", BadInput, ["template", "--model", Tuned, "--user", "hi", "--messages", "{dir}/file"], "--messages", UserFile),
        new("bench neither model nor random", BadInput, ["bench", "forward"], "--model"),
        new("train rm needs pairs or labelled", BadInput, ["train", "rm", "--model", Tuned, "--out", "{dir}/rm"], "--pairs"),
        new("data count zero", BadInput, ["data", "generate", "--task", "sentiment", "--out", "{dir}/data", "--count", "0"], "--count", UserFile),
        new("data unknown task", BadInput, ["data", "generate", "--task", "poetry", "--out", "{dir}/data"], "poetry", UserFile),
        new("zoo unknown task", BadInput, ["zoo", "build", "--task", "poetry", "--dir", "{dir}/zoo"], "poetry", UserFile),
        new("zoo no threads", BadInput, ["zoo", "build", "--task", "sentiment", "--threads", "0", "--dir", "{dir}/zoo"], "--threads: expected at least 1, got 0"),
        new("run bad shard", BadInput, ["run", "{dir}/smoke.yaml", "--shard", "3/2", "--output", "{dir}/run"], "--shard", d => Write(d, "smoke.yaml", GoodConfig)),

        // Model directories.
        new("missing model", BadInput, ["logprobs", "--model", "{dir}/nothing-here", "--ids", "1,2"], "{dir}/nothing-here"),
        new("model is a file", BadInput, ["logprobs", "--model", "{dir}/file", "--ids", "1,2"], "{dir}/file", UserFile),
        new("model config not JSON", BadInput, ["logprobs", "--model", "{dir}/model", "--ids", "1,2"], "config.json",
            d => { CopyModel(d, "scoring/gpt2-tuned"); Write(d, "model/config.json", "{ not json"); }),
        new("model without weights", BadInput, ["logprobs", "--model", "{dir}/model", "--ids", "1,2"], "{dir}/model",
            d => { CopyModel(d, "scoring/gpt2-tuned"); File.Delete(Path.Combine(d, "model", "model.safetensors")); }),
        new("truncated weights", BadInput, ["logprobs", "--model", "{dir}/model", "--ids", "1,2"], "model.safetensors",
            d =>
            {
                CopyModel(d, "scoring/gpt2-tuned");
                string weights = Path.Combine(d, "model", "model.safetensors");
                using var stream = new FileStream(weights, FileMode.Open);
                stream.SetLength(stream.Length / 2);
            }),
        new("unsupported model type", BadInput, ["logprobs", "--model", "{dir}/model", "--ids", "1,2"], "model_type",
            d =>
            {
                CopyModel(d, "scoring/gpt2-tuned");
                string config = Path.Combine(d, "model", "config.json");
                File.WriteAllText(config, File.ReadAllText(config).Replace("\"gpt2\"", "\"bloom\""));
            }),
        new("template without tokenizer", BadInput, ["template", "--model", "{fx}/gpt2-tied", "--user", "hi"], "gpt2-tied"),
        new("reward on a model that is no classifier", BadInput, ["reward", "--model", Tuned, "--text", "a film"], "scoring/gpt2-tuned"),
        new("reward missing model", BadInput, ["reward", "--model", "{dir}/nothing-here", "--text", "a film"], "{dir}/nothing-here"),
        new("bench missing model", BadInput, ["bench", "forward", "--model", "{dir}/nothing-here"], "{dir}/nothing-here"),
        new("bench api zero clients", BadInput, ["bench", "api", "--model", Tuned, "--clients", "1,0"], "--clients"),
        new("bench peer script missing", BadInput, ["bench", "forward", "--random", "gpt2-small", "--peer", "{dir}/nothing.py"], "{dir}/nothing.py"),
        new("bench peer of another shape", BadInput, ["bench", "forward", "--random", "gpt2-medium", "--peer", "{dir}/peer.py"], "--peer", d => Write(d, "peer.py", "")),
        new("bench peer python missing", Machine, ["bench", "forward", "--random", "gpt2-small", "--peer", "{dir}/peer.py", "--peer-python", "{dir}/no-python"],
            "--peer-python", d => Write(d, "peer.py", "")),
        new("bench peer exits at start", Machine, ["bench", "forward", "--random", "gpt2-small", "--peer", "{dir}/peer.sh", "--peer-python", "/bin/sh"],
            "peer broke", d => Write(d, "peer.sh", "echo peer broke >&2\nexit 4\n")),
        new("search missing tuned model", BadInput, ["search", "--large", Tuned, "--tuned", "{dir}/nothing-here", "--untuned", Untuned, "--prompt", "hi"], "{dir}/nothing-here"),

        // Datasets and other input files.
        new("score input missing", BadInput, ["score", "--tuned", Tuned, "--untuned", Untuned, "--input", "{dir}/in.jsonl", "--output", "{dir}/out.jsonl"], "{dir}/in.jsonl"),
        new("score input not JSON", BadInput, ["score", "--tuned", Tuned, "--untuned", Untuned, "--input", "{dir}/in.jsonl", "--output", "{dir}/out.jsonl"], "in.jsonl:1",
            d => Write(d, "in.jsonl", "{\"prompt\": \"a\"\n")),
        new("score input invalid UTF-8", BadInput, ["score", "--tuned", Tuned, "--untuned", Untuned, "--input", "{dir}/in.jsonl", "--output", "{dir}/out.jsonl"], "in.jsonl:2",
            d => WriteBytes(d, "in.jsonl", [.. Encoding.UTF8.GetBytes("{\"prompt\": \"a\", \"response\": \"b\", \"finished\": true}\n"),
                .. InvalidUtf8Line("{\"prompt\": \"a", "\", \"response\": \"b\", \"finished\": true}\n")])),
        new("sft data missing", BadInput, ["train", "sft", "--model", Tuned, "--data", "{dir}/train.jsonl", "--out", "{dir}/m"], "{dir}/train.jsonl"),
        new("sft data without reference", BadInput, ["train", "sft", "--model", Tuned, "--data", "{dir}/train.jsonl", "--out", "{dir}/m"], "reference",
            d => Write(d, "train.jsonl", "{\"id\": \"p0\", \"prompt\": \"hello\"}\n")),
        new("dpo data invalid UTF-8", BadInput, ["train", "dpo", "--model", Tuned, "--data", "{dir}/pairs.jsonl", "--out", "{dir}/m"], "pairs.jsonl:1",
            d => WriteBytes(d, "pairs.jsonl", InvalidUtf8Line("{\"prompt\": \"a", "\", \"chosen\": \"b\", \"rejected\": \"c\"}\n"))),
        new("pretrain corpus not JSONL", BadInput, ["train", "pretrain", "--tokenizer", Tuned, "--corpus", "{dir}/corpus.jsonl", "--out", "{dir}/m"], "corpus.jsonl:1",
            d => Write(d, "corpus.jsonl", "just text\n")),
        new("template messages not JSON", BadInput, ["template", "--model", Tuned, "--messages", "{dir}/messages.json"], "messages.json",
            d => Write(d, "messages.json", "[{\"role\": ")),
        new("on-policy prompts missing", BadInput, ["data", "on-policy-pairs", "--policy", Tuned, "--prompts", "{dir}/prompts.jsonl", "--gold", "{fx}/distilbert-cls", "--out", "{dir}/pairs.jsonl"], "{dir}/prompts.jsonl"),

        // YAML: experiment configs and --config files of flags.
        new("validate missing config", BadInput, ["validate", "{dir}/nothing.yaml"], "{dir}/nothing.yaml"),
        new("validate broken YAML", BadInput, ["validate", "{dir}/bad.yaml"], "bad.yaml:3:1: YAML syntax error", d => Write(d, "bad.yaml", "name: demo\ntask: [sentiment\n")),
        new("validate tab in YAML", BadInput, ["validate", "{dir}/bad.yaml"], "bad.yaml:3:", d => Write(d, "bad.yaml", "name: demo\ntask: sentiment\n\tdataset: 3\n")),
        new("validate alias bomb", BadInput, ["validate", "{dir}/bad.yaml"], "aliases", d => Write(d, "bad.yaml", AliasBomb())),
        new("validate unknown key", BadInput, ["validate", "{dir}/bad.yaml"], "frobnicate", d => Write(d, "bad.yaml", GoodConfig + "\nfrobnicate: 1\n")),
        new("validate unknown method", BadInput, ["validate", "{dir}/bad.yaml"], "beam", d => Write(d, "bad.yaml", GoodConfig.Replace("methods: [base]", "methods: [beam]"))),
        new("run missing config", BadInput, ["run", "{dir}/nothing.yaml"], "{dir}/nothing.yaml"),
        new("validate eft on an API base", BadInput, ["validate", "{dir}/bad.yaml"], "eft needs the large model's next-token distribution", d => Write(d, "bad.yaml",
            GoodConfig.Replace("[{name: base-small, path: zoo:base-small}]", "[{name: served, api: {base_url: \"http://127.0.0.1:9/v1\", model: m}}]").Replace("methods: [base]", "methods: [{method: eft, beta: 1.0}]"))),
        new("validate API base URL", BadInput, ["validate", "{dir}/bad.yaml"], "base_url: expected an http:// or https:// URL", d => Write(d, "bad.yaml",
            GoodConfig.Replace("[{name: base-small, path: zoo:base-small}]", "[{name: served, api: {base_url: \"ftp://x\", model: m}}]"))),
        new("validate API key in the config", BadInput, ["validate", "{dir}/bad.yaml"], "api_key_env: expected the NAME of an environment variable", d => Write(d, "bad.yaml",
            GoodConfig.Replace("[{name: base-small, path: zoo:base-small}]", "[{name: served, api: {base_url: \"http://127.0.0.1:9/v1\", model: m, api_key_env: \"sk-abc-123\"}}]"))),
        new("search API without its model", BadInput, ["search", "--method", "base", "--large-api-base-url", "http://127.0.0.1:9/v1", "--prompt", "hi"], "--large-api-model"),
        new("search API base URL", BadInput, ["search", "--method", "base", "--large-api-base-url", "ftp://x", "--large-api-model", "m", "--prompt", "hi"], "--large-api-base-url"),
        new("search API key variable unset", Machine, ["search", "--method", "base", "--large-api-base-url", "http://127.0.0.1:9/v1", "--large-api-model", "m",
            "--large-api-key-env", "WTS_TEST_NO_SUCH_KEY", "--prompt", "hi"], "WTS_TEST_NO_SUCH_KEY"),
        new("search EFT on an API model", BadInput, ["search", "--method", "eft", "--large-api-base-url", "http://127.0.0.1:9/v1", "--large-api-model", "m",
            "--tuned", Tuned, "--untuned", Untuned, "--prompt", "hi"], "EFT"),
        new("flag config broken YAML", BadInput, ["train", "sft", "--config", "{dir}/flags.yaml"], "flags.yaml:2:1: YAML syntax error", d => Write(d, "flags.yaml", "steps: [1\n")),
        new("flag config unknown key", BadInput, ["train", "sft", "--config", "{dir}/flags.yaml"], "frobnicate", d => Write(d, "flags.yaml", "frobnicate: 1\n")),
        new("flag config missing", BadInput, ["train", "sft", "--config", "{dir}/flags.yaml"], "{dir}/flags.yaml"),

        // Run directories.
        new("merge missing run", BadInput, ["merge", "{dir}/run"], "{dir}/run"),
        new("merge unexpected shard name", BadInput, ["merge", "{dir}/run"], "generations.shard-x-of-2.jsonl",
            d => { Directory.CreateDirectory(Path.Combine(d, "run")); Write(d, "run/generations.shard-x-of-2.jsonl", ""); }),
        new("merge a file", BadInput, ["merge", "{dir}/file"], "{dir}/file", UserFile),
        new("evaluate missing run", BadInput, ["evaluate", "{dir}/run"], "{dir}/run"),
        new("evaluate a file", BadInput, ["evaluate", "{dir}/file"], "{dir}/file", UserFile),
        new("plot missing run", BadInput, ["plot", "{dir}/run"], "{dir}/run"),
        new("evaluate a folder that is no run", BadInput, ["evaluate", "{dir}"], "{dir}", UserFile),
        new("plot without summary", BadInput, ["plot", "{dir}"], "summary.csv", UserFile),
        new("report without summary", BadInput, ["report", "{dir}", "--out", "{dir}/README.md"], "summary.csv", UserFile),
        new("zoo check without a zoo", BadInput, ["zoo", "check", "--task", "sentiment", "--dir", "{dir}/zoo"], "wts zoo build", UserFile),

        // Output locations: a file where a folder is expected, a parent that is a file, a folder nothing can be written in.
        new("train out is a file", BadInput, ["train", "sft", "--model", Tuned, "--data", "{dir}/train.jsonl", "--out", "{dir}/file"], "--out", UserFile),
        new("train out parent is a file", BadInput, ["train", "sft", "--model", Tuned, "--data", "{dir}/train.jsonl", "--out", "{dir}/file/m"], "--out", UserFile),
        new("train out read-only", Machine, ["train", "sft", "--model", Tuned, "--data", "{dir}/train.jsonl", "--out", "{ro}/m"], "--out", UserFile),
        new("pretrain out read-only", Machine, ["train", "pretrain", "--tokenizer", Tuned, "--corpus", "{dir}/corpus.jsonl", "--out", "{ro}/m"], "--out", UserFile),
        new("data out is a file", BadInput, ["data", "generate", "--task", "sentiment", "--out", "{dir}/file"], "--out", UserFile),
        new("data out parent is a file", BadInput, ["data", "generate", "--task", "sentiment", "--out", "{dir}/file/data"], "--out", UserFile),
        new("data out read-only", Machine, ["data", "generate", "--task", "all", "--out", "{ro}/data"], "--out", UserFile),
        new("zoo dir is a file", BadInput, ["zoo", "build", "--task", "sentiment", "--quick", "--dir", "{dir}/file"], "--dir", UserFile),
        new("zoo dir read-only", Machine, ["zoo", "build", "--task", "sentiment", "--quick", "--dir", "{ro}/zoo"], "--dir", UserFile),
        new("run output is a file", BadInput, ["run", "{dir}/smoke.yaml", "--output", "{dir}/file"], "--output", d => { UserFile(d); Write(d, "smoke.yaml", GoodConfig); }),
        new("run output parent is a file", BadInput, ["run", "{dir}/smoke.yaml", "--output", "{dir}/file/run"], "--output", d => { UserFile(d); Write(d, "smoke.yaml", GoodConfig); }),
        new("run output read-only", Machine, ["run", "{dir}/smoke.yaml", "--output", "{ro}/run"], "--output", d => Write(d, "smoke.yaml", GoodConfig)),
        new("score output exists", BadInput, ["score", "--tuned", Tuned, "--untuned", Untuned, "--input", "{dir}/in.jsonl", "--output", "{dir}/file"], "--output", UserFile),
        new("score output is a folder", BadInput, ["score", "--tuned", Tuned, "--untuned", Untuned, "--input", "{dir}/in.jsonl", "--output", "{dir}"], "--output", UserFile),
        new("score output parent is a file", BadInput, ["score", "--tuned", Tuned, "--untuned", Untuned, "--input", "{dir}/in.jsonl", "--output", "{dir}/file/out.jsonl"], "--output", UserFile),
        new("score output read-only", Machine, ["score", "--tuned", Tuned, "--untuned", Untuned, "--input", "{dir}/in.jsonl", "--output", "{ro}/out.jsonl"], "--output", UserFile),
        new("on-policy out read-only", Machine, ["data", "on-policy-pairs", "--policy", Tuned, "--prompts", "{dir}/prompts.jsonl", "--gold", "{fx}/distilbert-cls", "--out", "{ro}/pairs.jsonl"], "--out", UserFile),
        new("report out read-only", Machine, ["report", "{dir}", "--out", "{ro}/README.md"], "--out", UserFile),
    ];

    public static TheoryData<string> Rows => new(Table.Select(r => r.Name));

    [Theory]
    [MemberData(nameof(Rows))]
    public void IsRefusedInOneLineLeavingFilesAsTheyWere(string name)
    {
        var row = Table.Single(r => r.Name == name);
        string dir = Path.Combine(scratch, "row");
        Directory.CreateDirectory(dir);
        row.Setup?.Invoke(dir);
        string readOnly = CliErrorAssertions.ReadOnlyFolder(scratch);
        string Fill(string text) => text.Replace("{dir}", dir).Replace("{fx}", RepositoryPaths.Fixture()).Replace("{ro}", readOnly);

        var run = CliErrorAssertions.AssertRefused(dir, row.ExitCode, null, row.AfterProgress, row.Args.Select(Fill).ToArray());

        Assert.Contains(Fill(row.Expected), run.Stderr);
    }

    [Fact]
    public void TableCoversEveryCommandWithAtLeastSixtyRows()
    {
        string[] commands = ["logprobs", "template", "generate", "reward", "search", "score", "zoo", "train", "bench", "serve", "data", "validate", "run", "merge", "evaluate", "plot", "report"];
        Assert.True(Table.Length >= 60, $"{Table.Length} rows");
        Assert.Equal(Table.Length, Table.Select(r => r.Name).Distinct().Count());
        foreach (string command in commands) Assert.Contains(Table, r => r.Args[0] == command);
    }

    [Fact]
    public void AFullDeviceOnStandardOutputIsAnEnvironmentFailure()
    {
        var run = Wts.RunWithStdoutTo("/dev/full", "logprobs", "--model", RepositoryPaths.Fixture("scoring", "gpt2-tuned"), "--ids", "1,2", "--json");

        CliErrorAssertions.AssertOneErrorLine(run, CliErrorAssertions.Environment);
        Assert.Contains("wts: error: cannot write standard output: No space left on device", run.Stderr);
    }

    [Fact]
    public void VerboseAddsTheStackTraceAfterTheOneLine()
    {
        string[] args = ["data", "generate", "--task", "sentiment", "--out", Path.Combine(scratch, "file", "data")];
        File.WriteAllText(Path.Combine(scratch, "file"), "");

        foreach (var run in new[] { Wts.Run([.. args, "--verbose"]), Wts.RunWith(new Dictionary<string, string> { ["WTS_VERBOSE"] = "1" }, args) })
        {
            Assert.Equal(CliErrorAssertions.BadInput, run.ExitCode);
            var lines = run.Stderr.TrimEnd('\n').Split('\n');
            Assert.StartsWith("wts: error: --out:", lines[0]);
            Assert.Contains("InvalidInputException", lines[1]);
            Assert.Contains(lines, l => l.StartsWith("   at ", StringComparison.Ordinal));
        }
    }
}
