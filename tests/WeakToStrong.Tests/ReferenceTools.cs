using System.Diagnostics;
using System.Text.Json;

namespace WeakToStrong.Tests;

/// <summary>
/// A fact that needs an npm package of tests/reference/package.json (`npm ci` in tests/reference) and node; it is
/// skipped, saying why, when either is missing.
/// </summary>
public sealed class NodeReferenceFactAttribute : FactAttribute
{
    public NodeReferenceFactAttribute(string package)
    {
        // xunit 2 has no skip from inside a test, so the check runs when the test is discovered.
        if (NodeReference.Unavailable(package) is { } why) Skip = $"{package} reference unavailable: {why}";
    }
}

/// <summary>Runs the Node scripts under tests/reference with the packages its package-lock.json pins.</summary>
internal static class NodeReference
{
    static readonly Lazy<string?> NodeMissing = new(() =>
    {
        try
        {
            var (code, _, error) = Run("--version");
            return code == 0 ? null : $"node --version failed: {error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"node is not on PATH ({e.Message})";
        }
    });

    public static string? Unavailable(string package)
    {
        string modules = Path.Combine(RepositoryPaths.Root, "tests", "reference", "node_modules", package);
        return Directory.Exists(modules) ? NodeMissing.Value : $"{modules} is missing (run npm ci in tests/reference)";
    }

    /// <summary>node with these arguments, from the repository root.</summary>
    public static (int Code, string Stdout, string Stderr) Run(params string[] arguments) => ReferenceProcess.Execute("node", arguments);

    public static void Check((int Code, string Stdout, string Stderr) run)
    {
        if (run.Code != 0) throw new InvalidOperationException($"node failed ({run.Code}): {run.Stderr}{run.Stdout}");
    }
}

internal static class ReferenceProcess
{
    /// <summary>Runs a reference tool from the repository root; a missing program throws Win32Exception.</summary>
    public static (int Code, string Stdout, string Stderr) Execute(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryPaths.Root };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }
}

/// <summary>A fact that is skipped, saying why, when the Python reference cannot run here.</summary>
public sealed class PythonReferenceFactAttribute : FactAttribute
{
    public PythonReferenceFactAttribute()
    {
        // xunit 2 has no skip from inside a test, so the check runs when the test is discovered.
        if (!PythonReference.Available) Skip = $"Python reference reader unavailable: {PythonReference.Unavailable}";
    }
}

/// <summary>Runs tests/reference/hf_reference.py's safetensors reader with Debian's python3-torch, when present.</summary>
internal static class PythonReference
{
    const string Python = "/usr/bin/python3";

    static readonly Lazy<string?> WhyUnavailable = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} not found";
        var (code, _, error) = Run("-c", "import torch, numpy");
        return code == 0 ? null : $"{Python} cannot import torch and numpy (install Debian's python3-torch): {error.Trim()}";
    });

    public static bool Available => WhyUnavailable.Value is null;

    public static string Unavailable => WhyUnavailable.Value ?? "";

    public sealed record Decoded(string DType, long[] Shape, double[] Values);

    public static Dictionary<string, Decoded> ReadSafetensors(string path)
    {
        const string script = """
            import json, sys
            sys.path.insert(0, sys.argv[1])
            import hf_reference as ref
            tensors, _ = ref.read_safetensors(sys.argv[2])
            st = {"torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16", "torch.int64": "I64"}
            print(json.dumps({n: [st[str(t.dtype)], list(t.shape), t.double().flatten().tolist()] for n, t in tensors.items()}))
            """;
        var (code, output, error) = Run("-c", script, Path.Combine(RepositoryPaths.Root, "tests", "reference"), path);
        Assert.True(code == 0, $"python reader failed: {error}");
        using var doc = JsonDocument.Parse(output);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => new Decoded(
            p.Value[0].GetString()!,
            p.Value[1].EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            p.Value[2].EnumerateArray().Select(e => e.GetDouble()).ToArray()));
    }

    internal static (int Code, string Output, string Error) Run(params string[] arguments) => ReferenceProcess.Execute(Python, arguments);
}
