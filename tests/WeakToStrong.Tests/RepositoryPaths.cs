namespace WeakToStrong.Tests;

/// <summary>Paths inside the repository, found from the test binary by walking up to WeakToStrong.sln.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Fixture(params string[] parts) => Path.Combine([Root, "tests", "fixtures", .. parts]);

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "WeakToStrong.sln"))) return dir.FullName;
        throw new InvalidOperationException($"WeakToStrong.sln not found above {AppContext.BaseDirectory}");
    }
}
