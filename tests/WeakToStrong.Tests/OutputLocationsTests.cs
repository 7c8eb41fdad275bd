namespace WeakToStrong.Tests;

public sealed class OutputLocationsTests : IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("wts-output-").FullName;

    public void Dispose() => Directory.Delete(scratch, recursive: true);

    [Fact]
    public void AFailedAtomicWriteLeavesNoTemporaryFile()
    {
        // The rename into place fails: the target is a folder that holds a file.
        string target = Path.Combine(scratch, "out.json");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "inside"), "x");

        Assert.ThrowsAny<IOException>(() => OutputLocations.WriteAtomically(target, "{}"));

        Assert.Equal([target], Directory.GetFileSystemEntries(scratch));
    }

    [Fact]
    public void AtomicWritesReplaceRegularFilesAndNeverADevice()
    {
        string file = Path.Combine(scratch, "out.json");
        File.WriteAllText(file, "old");
        OutputLocations.WriteAtomically(file, "new");
        Assert.Equal("new", File.ReadAllText(file));
        Assert.Throws<IOException>(() => OutputLocations.WriteAtomically(file, "newer", overwrite: false));
        Assert.Equal("new", File.ReadAllText(file));

        Assert.False(OutputLocations.IsSpecialFile(file));
        Assert.True(OutputLocations.IsSpecialFile("/dev/null"));
        OutputLocations.WriteAtomically("/dev/null", "discarded");
        Assert.True(OutputLocations.IsSpecialFile("/dev/null"));
        var full = Assert.Throws<IOException>(() => OutputLocations.WriteAtomically("/dev/full", "no room"));
        Assert.Contains("No space left on device", full.Message);
        Assert.True(OutputLocations.IsSpecialFile("/dev/full"));
        Assert.Empty(Directory.GetFiles("/dev", "*.tmp"));
    }

    [Fact]
    public void FoldersAreCheckedWithoutCreatingAnything()
    {
        string file = Path.Combine(scratch, "file");
        File.WriteAllText(file, "x");

        OutputLocations.CheckFolder(Path.Combine(scratch, "a", "b"), "--out");
        OutputLocations.CheckFile(Path.Combine(scratch, "a", "b.json"), "--out");
        Assert.Equal([file], Directory.GetFileSystemEntries(scratch));

        Assert.Equal($"--out: {file} is a file; expected a folder",
            Assert.Throws<InvalidInputException>(() => OutputLocations.CheckFolder(file, "--out")).Message);
        Assert.Equal($"--out: {file}/m cannot be created: {file} is a file, not a folder",
            Assert.Throws<InvalidInputException>(() => OutputLocations.CheckFolder(Path.Combine(file, "m"), "--out")).Message);
        Assert.Equal($"--output: {scratch} is a folder; expected a file",
            Assert.Throws<InvalidInputException>(() => OutputLocations.CheckFile(scratch, "--output")).Message);
        Assert.StartsWith("--out: cannot write /sys/m: no file can be created in /sys",
            Assert.Throws<EnvironmentFailureException>(() => OutputLocations.CheckFolder("/sys/m", "--out")).Message);
    }
}
