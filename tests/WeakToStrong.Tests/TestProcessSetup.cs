using System.Runtime.CompilerServices;

namespace WeakToStrong.Tests;

static class TestProcessSetup
{
    /// <summary>The test process waits between libtorch ops as `wts` does (<see cref="NativeThreads"/>): before any test loads libtorch.</summary>
    [ModuleInitializer]
    internal static void ShortenOpenMpSpinning() => NativeThreads.ShortenOpenMpSpinning();
}
