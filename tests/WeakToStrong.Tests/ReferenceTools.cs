using System.Diagnostics;

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
