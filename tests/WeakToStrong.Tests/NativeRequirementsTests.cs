using System.Text;

namespace WeakToStrong.Tests;

public class NativeRequirementsTests
{
    [Fact]
    public void HighestGlibcxxIsReadFromTheLibrarysVersionStrings()
    {
        string path = Path.GetTempFileName();
        try
        {
            // What a GCC 10 libstdc++ holds among its bytes: version names, each NUL-terminated.
            File.WriteAllBytes(path, Encoding.ASCII.GetBytes("\x7f" + "ELF\0GLIBCXX_3.4\0GLIBCXX_3.4.9\0GLIBCXX_3.4.28\0CXXABI_1.3.12\0GLIBCXX_3.4.21\0"));
            Assert.Equal(new Version(3, 4, 28), NativeRequirements.HighestGlibcxx(path));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingNamesEachRequirementTheSystemLacks()
    {
        Assert.Empty(NativeRequirements.Missing(new Version(2, 36), new Version(3, 4, 30), "/usr/lib/libstdc++.so.6"));
        var missing = NativeRequirements.Missing(new Version(2, 31), new Version(3, 4, 28), "/usr/lib/libstdc++.so.6");
        Assert.Equal(["glibc ≥ 2.34 (this system has 2.31)",
            "libstdc++ with GLIBCXX_3.4.30 (GCC 12's or later; /usr/lib/libstdc++.so.6 has up to GLIBCXX_3.4.28)"], missing);
    }

    [Fact]
    public void ThisSystemMeetsTheRequirementsItLoadedTorchSharpWith()
    {
        using var _ = TorchSharp.torch.zeros(1);
        var glibc = NativeRequirements.GlibcVersion();
        string? libstdcxx = NativeRequirements.LibstdcxxPath();
        Assert.NotNull(glibc);
        Assert.NotNull(libstdcxx);
        Assert.Empty(NativeRequirements.Missing(glibc, NativeRequirements.HighestGlibcxx(libstdcxx!), libstdcxx));
    }

    [Fact]
    public void ALoadFailureIsRecognisedAndExplainedInOneLine()
    {
        var failure = new TypeInitializationException("TorchSharp.torch", new DllNotFoundException("Unable to load shared library 'LibTorchSharp'\nor one of its dependencies"));
        Assert.True(NativeRequirements.IsLoadFailure(failure));
        Assert.False(NativeRequirements.IsLoadFailure(new InvalidOperationException("something else")));
        // Another native library failing (the plots' SkiaSharp) is not TorchSharp's.
        Assert.False(NativeRequirements.IsLoadFailure(new DllNotFoundException("Unable to load shared library 'libSkiaSharp'")));
        var notRestored = new TypeInitializationException("TorchSharp.torch", new NotSupportedException(
            "The libtorch-cuda-12.8-linux-x64 package version 2.10.0 is not restored on this system.\nTrace from LoadNativeBackend:\nTorchSharp: LoadNativeBackend: Initialising native backend"));
        Assert.True(NativeRequirements.IsLoadFailure(notRestored));
        Assert.EndsWith("(The libtorch-cuda-12.8-linux-x64 package version 2.10.0 is not restored on this system.); glibc and libstdc++ meet its needs " +
            "(glibc ≥ 2.34, GLIBCXX_3.4.30); check that the build's TorchSharp package matches the device (README.md, \"GPU nodes\")", NativeRequirements.Explain(notRestored));
        string line = NativeRequirements.Explain(failure);
        Assert.DoesNotContain("\n", line);
        Assert.Contains("Unable to load shared library 'LibTorchSharp' or one of its dependencies", line);
    }
}
