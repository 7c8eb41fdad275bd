namespace WeakToStrong.Tests.Tokenization;

/// <summary>A scratch model directory for one test: fixture files copied in, others written, deleted on dispose.</summary>
internal sealed class TemporaryModelDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("w2s-tokenizer-").FullName;

    public TemporaryModelDirectory CopyFrom(string fixtureDirectory, params string[] fileNames)
    {
        foreach (string name in fileNames) File.Copy(System.IO.Path.Combine(fixtureDirectory, name), System.IO.Path.Combine(Path, name));
        return this;
    }

    public TemporaryModelDirectory Write(string fileName, string text)
    {
        File.WriteAllText(System.IO.Path.Combine(Path, fileName), text);
        return this;
    }

    public TemporaryModelDirectory Write(string fileName, byte[] bytes)
    {
        File.WriteAllBytes(System.IO.Path.Combine(Path, fileName), bytes);
        return this;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
