using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace WeakToStrong.Tests;

/// <summary>The zoo's scheduler: each job once, after the jobs it waits for, on one TorchSharp thread, the most work ahead first.</summary>
public class ParallelJobsTests
{
    [Fact]
    public void OnOneThreadTheReadyJobWithTheMostWorkAheadGoesFirst()
    {
        var order = new List<string>();
        var head = new Job("head", 1, () => order.Add("head"), []);
        var tail = new Job("tail", 10, () => order.Add("tail"), [head]);
        var single = new Job("single", 5, () => order.Add("single"), []);
        ParallelJobs.Run([single, head, tail], threads: 1);
        // head alone is 1, but 11 with the job that waits for it: so it starts before single (5), and tail (10) next.
        Assert.Equal(["head", "tail", "single"], order);
    }

    [Fact]
    public void JobsRunSideBySideOnOneTensorThreadEachAfterTheJobsTheyWaitFor()
    {
        int callerThreads = get_num_threads();
        var finished = new ConcurrentDictionary<string, bool>();
        var tensorThreads = new ConcurrentBag<int>();
        using var pair = new CountdownEvent(2); // "a" and "b" each wait for the other: only two threads at once let both through
        bool metSideBySide = true;
        Job Make(string name, params Job[] after) => new(name, 1, () =>
        {
            Assert.All(after, before => Assert.True(finished.ContainsKey(before.Name), $"{name} started before {before.Name} ended"));
            tensorThreads.Add(get_num_threads());
            if (name is "a" or "b")
            {
                pair.Signal();
                if (!pair.Wait(TimeSpan.FromSeconds(30))) metSideBySide = false;
            }
            finished[name] = true;
        }, after);
        var first = Make("first");
        Job[] jobs = [first, Make("a", first), Make("b", first), Make("c", first), Make("d")];
        ParallelJobs.Run(jobs, threads: 2);

        Assert.Equal(jobs.Select(j => j.Name).Order(), finished.Keys.Order());
        Assert.True(metSideBySide);
        Assert.All(tensorThreads, n => Assert.Equal(1, n));
        Assert.Equal(callerThreads, get_num_threads());
    }

    [Fact]
    public void AfterAFailureNoJobStartsAndTheFailureIsRethrownOnceTheRunningOnesEnd()
    {
        var started = new ConcurrentBag<string>();
        bool slowFinished = false;
        using var slowStarted = new ManualResetEventSlim();
        var failing = new Job("failing", 3, () =>
        {
            started.Add("failing");
            slowStarted.Wait(TimeSpan.FromSeconds(30));
            throw new InvalidDataException("bad batch");
        }, []);
        var slow = new Job("slow", 2, () =>
        {
            started.Add("slow");
            slowStarted.Set();
            Thread.Sleep(200);
            slowFinished = true;
        }, []);
        var waiting = new Job("waiting", 1, () => started.Add("waiting"), [failing]);
        var later = new Job("later", 0, () => started.Add("later"), []);

        var error = Assert.Throws<InvalidDataException>(() => ParallelJobs.Run([failing, slow, waiting, later], threads: 2));
        Assert.Equal("bad batch", error.Message);
        Assert.True(slowFinished);
        Assert.DoesNotContain("waiting", started);
        Assert.DoesNotContain("later", started);
    }

    [Fact]
    public void AJobWaitingForOneThatIsNotThereIsRefused()
    {
        var missing = new Job("missing", 1, () => { }, []);
        var error = Assert.Throws<ArgumentException>(() => ParallelJobs.Run([new Job("orphan", 1, () => { }, [missing])], threads: 2));
        Assert.Contains("orphan waits for missing", error.Message);
    }
}
