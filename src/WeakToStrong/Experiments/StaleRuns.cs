namespace WeakToStrong.Experiments;

/// <summary>
/// `wts changed-models`: whether a finished or partial run was made by the models its config names here, so that a
/// script owning its results (run-all.sh) can move a run of other weights aside and generate it again instead of
/// resuming or re-tabulating it.
/// </summary>
public static class StaleRuns
{
    /// <summary>One line per model of <paramref name="run"/> (its manifest, or each shard's) whose content here differs from what it ran with.</summary>
    public static IReadOnlyList<string> ChangedModels(RunDirectory run, string zooRoot, Action<string>? log = null)
    {
        var manifests = File.Exists(run.Manifest) ? [run.Manifest]
            : Directory.Exists(run.Path) ? Directory.GetFiles(run.Path, "manifest.shard-*-of-*.json").Order(StringComparer.Ordinal).ToArray() : [];
        if (manifests.Length == 0) throw new InvalidInputException($"{run.Path}: no run manifest (manifest.json or manifest.shard-I-of-N.json)");
        var changed = new List<string>();
        foreach (string path in manifests)
        {
            var recorded = RunManifest.Read(path);
            var config = ExperimentConfigParser.Parse(recorded.ConfigText, run.Config);
            var runner = new ExperimentRunner(config, new RunOptions { Quick = recorded.Quick, Limit = recorded.Limit, ZooRoot = zooRoot });
            var here = recorded with { Models = runner.ResolveModels(log) };
            changed.AddRange(here.ChangedModels(recorded).Select(line => manifests.Length > 1 ? $"{Path.GetFileName(path)}: {line}" : line));
        }
        return changed;
    }
}
