using System.Runtime.ExceptionServices;

namespace WeakToStrong;

/// <summary>One piece of work that may wait for others: <paramref name="Work"/> (in any unit, the same for all) ranks the ready ones.</summary>
public sealed record Job(string Name, double Work, Action Run, IReadOnlyList<Job> After);

/// <summary>
/// Runs jobs on a few dedicated threads, each job after those it waits for, first the ready job with the most work ahead
/// (its own and the longest chain of jobs that wait for it: so a chain's head does not start last), and
/// every job's tensor operations on its own thread alone (libtorch's thread count is per thread, OpenMP's): tiny models
/// use two cores better as two models side by side than as one model's operations split in two (the full zoo: 1.7 times
/// the one-thread speed on two threads; two one-thread models side by side, 1.9 times), and a job's numbers are the same
/// however many run beside it. Written here because .NET's task library neither ranks ready tasks nor lets a task set
/// its thread's OpenMP state and give the thread back clean.
/// </summary>
public static class ParallelJobs
{
    /// <summary>Runs every job (on <paramref name="threads"/> threads); after a failure no job starts, and the first failure is rethrown once the running ones end.</summary>
    public static void Run(IReadOnlyList<Job> jobs, int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread");
        var pending = jobs.ToList();
        foreach (var job in jobs)
            foreach (var before in job.After)
                if (!jobs.Contains(before)) throw new ArgumentException($"{job.Name} waits for {before.Name}, which is not among the jobs");
        var ahead = new Dictionary<Job, double>();
        double Ahead(Job job)
        {
            if (ahead.TryGetValue(job, out double known)) return known;
            double after = jobs.Where(j => j.After.Contains(job)).Select(Ahead).DefaultIfEmpty(0).Max();
            return ahead[job] = job.Work + after;
        }
        var finished = new HashSet<Job>();
        var gate = new object(); // a Monitor (not a Lock): jobs wait on it for the ones before them
        ExceptionDispatchInfo? failure = null;
        int running = 0;

        Job? Next()
        {
            lock (gate)
            {
                while (true)
                {
                    if (failure is not null || pending.Count == 0) return null;
                    var ready = pending.Where(j => j.After.All(finished.Contains)).OrderByDescending(Ahead).FirstOrDefault();
                    if (ready is not null)
                    {
                        pending.Remove(ready);
                        running++;
                        return ready;
                    }
                    if (running == 0) throw new InvalidOperationException($"jobs wait for each other: {string.Join(", ", pending.Select(j => j.Name))}");
                    Monitor.Wait(gate);
                }
            }
        }

        void Work()
        {
            TorchSharp.torch.set_num_threads(1);
            try
            {
                while (Next() is Job job)
                {
                    try
                    {
                        job.Run();
                    }
                    catch (Exception e)
                    {
                        lock (gate) failure ??= ExceptionDispatchInfo.Capture(e);
                    }
                    lock (gate)
                    {
                        finished.Add(job);
                        running--;
                        Monitor.PulseAll(gate);
                    }
                }
            }
            catch (Exception e)
            {
                lock (gate)
                {
                    failure ??= ExceptionDispatchInfo.Capture(e);
                    Monitor.PulseAll(gate);
                }
            }
        }

        int callerThreads = TorchSharp.torch.get_num_threads();
        var workers = Enumerable.Range(0, Math.Min(threads, Math.Max(1, jobs.Count)))
            .Select(i => new Thread(Work, maxStackSize: 16 << 20) { Name = $"job worker {i}", IsBackground = true }).ToArray();
        foreach (var worker in workers) worker.Start();
        foreach (var worker in workers) worker.Join();
        // Setting a job thread's count also set libtorch's default for threads that start later; give the caller's back.
        TorchSharp.torch.set_num_threads(callerThreads);
        failure?.Throw();
    }
}
