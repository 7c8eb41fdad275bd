namespace WeakToStrong.Experiments;

/// <summary>
/// `wts merge`: combines the logs of shards 0..n−1 of one run into generations.jsonl and manifest.json, after
/// checking they ran the same config on the same models and that every (cell, prompt) is there exactly once.
/// </summary>
public static partial class ShardMerge
{
    public static int Merge(RunDirectory run, Action<string>? log = null)
    {
        var logs = run.ShardLogs();
        if (logs.Count == 0) throw new InvalidInputException($"{run.Path}: no shard logs (generations.shard-I-of-N.jsonl) to merge");
        foreach (string path in logs) ShardCountOf(path); // every name checked before anything is read
        int count = ShardCountOf(logs[0]);
        // Merge writes the run's own files, and no shard may still be writing its log.
        var locks = new List<WriterLock>();
        try
        {
            locks.Add(run.Lock(0, 1));
            for (int i = 0; i < count; i++) locks.Add(run.Lock(i, count));
            return Merge(run, logs, count, log);
        }
        finally
        {
            foreach (var held in locks) held.Dispose();
        }
    }

    static int Merge(RunDirectory run, IReadOnlyList<string> logs, int count, Action<string>? log)
    {
        var manifests = new RunManifest[count];
        var records = new List<GenerationRecord>();
        for (int i = 0; i < count; i++)
        {
            string manifestPath = run.ShardManifest(i, count), logPath = run.ShardGenerations(i, count);
            if (!File.Exists(manifestPath) || !File.Exists(logPath))
                throw new InvalidInputException($"{run.Path}: shard {i} of {count} is missing ({Path.GetFileName(logPath)}); run `wts run CONFIG --shard {i}/{count} --output {run.Path}`");
            manifests[i] = RunManifest.Read(manifestPath);
            if (i > 0 && manifests[i].Conflict(manifests[0]) is string conflict)
                throw new InvalidInputException($"{manifestPath}: shard {i} does not belong with shard 0: {conflict}");
            records.AddRange(GenerationLog.Read(logPath));
        }
        foreach (string other in logs.Where(l => ShardCountOf(l) != count))
            throw new InvalidInputException($"{other}: a shard of a {ShardCountOf(other)}-way split beside a {count}-way one; keep one split per directory");

        if (File.Exists(run.Manifest) && manifests[0].Conflict(RunManifest.Read(run.Manifest)) is string mixed)
            throw new InvalidInputException($"{run.Manifest}: the run already merged here is not the shards' run: {mixed}; merge a directory that holds one run");
        var config = ExperimentConfigParser.Parse(manifests[0].ConfigText, run.Config);
        var runner = new ExperimentRunner(config, new RunOptions { Quick = manifests[0].Quick, Limit = manifests[0].Limit });
        int prompts = runner.Prompts().Count;
        var cells = runner.Cells;
        var present = records.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Count());
        foreach (var cell in cells)
            for (int p = 0; p < prompts; p++)
            {
                int seen = present.GetValueOrDefault((cell.Key, p));
                if (seen != 1)
                    throw new InvalidInputException($"{run.ShardGenerations(p % count, count)}: cell {cell.Key}, prompt {p}: " +
                        (seen == 0 ? $"missing; finish shard {p % count} with `wts run CONFIG --shard {p % count}/{count} --resume`" : $"present {seen} times"));
            }
        var order = cells.Select((c, i) => (c.Key, i)).ToDictionary(x => x.Key, x => x.i);
        var merged = records.OrderBy(r => order[r.Cell]).ThenBy(r => r.PromptIndex).Select(GenerationLog.Serialize);
        RunDirectory.WriteAtomically(run.Generations, string.Concat(merged.Select(line => line + "\n")));
        RunDirectory.WriteAtomically(run.Manifest, (manifests[0] with { ShardIndex = 0, ShardCount = 1, CreatedUtc = DateTime.UtcNow.ToString("O"),
            Setup = manifests.Select(m => m.Setup).Aggregate((a, b) => a is null ? b : b is null ? a : a + b) }).ToJson());
        log?.Invoke($"merged {count} shards: {records.Count} generations ({cells.Count} cells × {prompts} prompts) into {run.Generations}");
        return records.Count;
    }

    static int ShardCountOf(string path)
    {
        var match = ShardLogName().Match(Path.GetFileName(path));
        if (!match.Success || !int.TryParse(match.Groups[2].Value, out int count) || count < 1
            || !int.TryParse(match.Groups[1].Value, out int index) || index >= count)
            throw new InvalidInputException($"{path}: not a shard log of this harness (expected generations.shard-I-of-N.jsonl with 0 ≤ I < N); move it out of the run directory");
        return count;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^generations\.shard-(\d+)-of-(\d+)\.jsonl$")]
    private static partial System.Text.RegularExpressions.Regex ShardLogName();
}
