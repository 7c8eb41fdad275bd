using System.Diagnostics;
using System.Globalization;

namespace WeakToStrong.Benchmarks;

/// <summary>One measurement of the peer: prefill seconds, decode seconds per step, and the CPU seconds the run used.</summary>
public sealed record PeerRun(double PrefillSeconds, double DecodeSecondsPerStep, double CpuSeconds);

/// <summary>
/// The PyTorch eager peer of `wts bench forward --peer` (bench/forward_peer.py --serve), kept running so that its
/// runs alternate with ours in the same session: on a shared machine, load that comes and goes then weighs on both.
/// The peer inherits this process's environment (LD_LIBRARY_PATH picks its BLAS) with OMP_NUM_THREADS set to our thread count.
/// </summary>
public sealed class ForwardPeer : IDisposable
{
    readonly Process process;
    readonly string command;
    string lastError = "";

    ForwardPeer(Process process, string command)
    {
        (this.process, this.command) = (process, command);
        // Drained as it comes, so a chatty peer never blocks on a full pipe; the last line explains an early exit.
        process.ErrorDataReceived += (_, e) => { if (!string.IsNullOrWhiteSpace(e.Data)) lastError = e.Data.Trim(); };
        process.BeginErrorReadLine();
        Description = ReadLine();
    }

    /// <summary>The peer's first line: its PyTorch version, threads and the BLAS it loaded.</summary>
    public string Description { get; }

    public static ForwardPeer Start(string python, string script, int threads)
    {
        if (!File.Exists(script)) throw new InvalidInputException($"--peer: no file {script}");
        string command = $"{python} {script} --serve";
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add("--serve");
        start.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        // PyTorch as its users run it: the spin count wts chose for itself stays out of the peer's environment (a user's own stays in).
        if (NativeThreads.SetByWts) start.Environment.Remove("GOMP_SPINCOUNT");
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new EnvironmentFailureException($"--peer-python: cannot start {python}: {e.Message}", e); }
        try { return new ForwardPeer(process, command); }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    public PeerRun Run(int batchSize, int promptTokens, int newTokens, int seed)
    {
        process.StandardInput.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{batchSize} {promptTokens} {newTokens} {seed}"));
        process.StandardInput.Flush();
        string line = ReadLine();
        var fields = line.Split(' ');
        if (fields.Length != 3 || !fields.All(f => double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            throw new EnvironmentFailureException($"--peer: {command} answered \"{line}\", expected three numbers");
        var values = fields.Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return new PeerRun(values[0], values[1], values[2]);
    }

    string ReadLine()
    {
        string? line = process.StandardOutput.ReadLine();
        if (line is not null) return line;
        process.WaitForExit();
        throw new EnvironmentFailureException($"--peer: {command} exited with {process.ExitCode}: {lastError}");
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.StandardInput.Close(); // the peer's stdin loop ends
                if (!process.WaitForExit(10_000)) process.Kill();
            }
        }
        catch (InvalidOperationException) { }
        process.Dispose();
    }
}
