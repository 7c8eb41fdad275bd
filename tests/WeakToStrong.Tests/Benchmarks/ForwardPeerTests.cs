using WeakToStrong.Benchmarks;

namespace WeakToStrong.Tests.Benchmarks;

/// <summary>
/// The line protocol of `wts bench forward --peer`, against a stand-in peer written in sh (the real one needs
/// PyTorch and minutes): a header line, then one answer per request, in order, carrying the request's numbers back.
/// </summary>
public sealed class ForwardPeerTests : IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("wts-forward-peer-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
    }

    string Script(string text)
    {
        string path = Path.Combine(scratch, "peer.sh");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Each_request_gets_its_own_answer_and_the_thread_count_reaches_the_peer()
    {
        // Echoes batch, prompt and seed back as prefill, decode and CPU seconds, so a reordered or stale answer shows.
        string script = Script("""
            echo "stand-in peer, threads $OMP_NUM_THREADS"
            while read batch prompt steps seed; do echo "$batch.5 0.$prompt $seed"; done
            """);
        using var peer = ForwardPeer.Start("/bin/sh", script, threads: 3);
        Assert.Equal("stand-in peer, threads 3", peer.Description);
        Assert.Equal(new PeerRun(1.5, 0.64, 0), peer.Run(1, 64, 50, 0));
        Assert.Equal(new PeerRun(16.5, 0.8, 7), peer.Run(16, 8, 50, 7));
    }

    [Fact]
    public void An_answer_that_is_not_three_numbers_is_the_machines_fault_and_quoted()
    {
        string script = Script("""
            echo header
            while read line; do echo "Traceback (most recent call last)"; done
            """);
        using var peer = ForwardPeer.Start("/bin/sh", script, threads: 2);
        var error = Assert.Throws<EnvironmentFailureException>(() => peer.Run(1, 64, 50, 0));
        Assert.Contains("Traceback (most recent call last)", error.Message);
    }

    [Fact]
    public void A_peer_that_dies_mid_run_reports_its_last_error_line()
    {
        string script = Script("""
            echo header
            read line
            echo "RuntimeError: out of memory" >&2
            exit 5
            """);
        using var peer = ForwardPeer.Start("/bin/sh", script, threads: 2);
        var error = Assert.Throws<EnvironmentFailureException>(() => peer.Run(16, 64, 50, 0));
        Assert.Contains("exited with 5: RuntimeError: out of memory", error.Message);
    }
}
