using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace WeakToStrong;

/// <summary>
/// What TorchSharp 0.107's native library needs of the system it runs on, and which of it this system lacks, so a
/// failed load is one sentence instead of a stack trace. The versions are the highest non-weak version needs of
/// libLibTorchSharp.so (readelf -V): GLIBC_2.34 of libc.so.6, GLIBCXX_3.4.30 of libstdc++.so.6 (its GLIBCXX_3.4.32
/// need is marked weak by the build, see build/TorchSharpGlibcxxFix.targets).
/// </summary>
public static partial class NativeRequirements
{
    public static readonly Version Glibc = new(2, 34);
    public static readonly Version Glibcxx = new(3, 4, 30);

    [LibraryImport("libc", EntryPoint = "gnu_get_libc_version")]
    private static partial IntPtr GnuGetLibcVersion();

    /// <summary>This system's glibc version (gnu_get_libc_version); null where the C library is not glibc.</summary>
    public static Version? GlibcVersion()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return Version.TryParse(Marshal.PtrToStringAnsi(GnuGetLibcVersion()), out var version) ? version : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The libstdc++.so.6 the loader would find first: LD_LIBRARY_PATH, then the usual system directories.</summary>
    public static string? LibstdcxxPath()
    {
        var directories = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]);
        return directories.Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
    }

    [GeneratedRegex(@"GLIBCXX_(\d+)\.(\d+)(?:\.(\d+))?\0")]
    private static partial Regex GlibcxxVersionString();

    /// <summary>The highest GLIBCXX_ version a libstdc++ file defines, read from its version strings.</summary>
    public static Version? HighestGlibcxx(string libstdcxx)
    {
        // Latin-1 maps every byte to one char, so the regex sees the ELF's strings where they are.
        string bytes = Encoding.Latin1.GetString(File.ReadAllBytes(libstdcxx));
        return GlibcxxVersionString().Matches(bytes)
            .Select(m => new Version(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value), m.Groups[3].Success ? int.Parse(m.Groups[3].Value) : 0))
            .DefaultIfEmpty().Max();
    }

    /// <summary>One sentence per requirement this system misses (empty when it meets them or cannot tell).</summary>
    public static IReadOnlyList<string> Missing(Version? glibc, Version? glibcxx, string? libstdcxxPath)
    {
        var missing = new List<string>();
        if (glibc is not null && glibc < Glibc) missing.Add($"glibc ≥ {Glibc} (this system has {glibc})");
        if (libstdcxxPath is not null && glibcxx is not null && glibcxx < Glibcxx)
            missing.Add($"libstdc++ with GLIBCXX_{Glibcxx} (GCC 12's or later; {libstdcxxPath} has up to GLIBCXX_{glibcxx})");
        return missing;
    }

    /// <summary>Whether an exception is TorchSharp's native library failing to load.</summary>
    public static bool IsLoadFailure(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            // The loader's own failure names the library; TorchSharp's (a package not restored, no backend) names its LoadNativeBackend.
            if (inner is DllNotFoundException && inner.Message.Contains("torch", StringComparison.OrdinalIgnoreCase)) return true;
            if (inner is NotSupportedException && inner.Message.Contains("LoadNativeBackend", StringComparison.Ordinal)) return true;
        }
        return false;
    }

    /// <summary>The one line `wts` prints when TorchSharp cannot load: which requirement is missing, else the loader's own reason.</summary>
    public static string Explain(Exception e)
    {
        string? libstdcxx = LibstdcxxPath();
        var missing = Missing(GlibcVersion(), libstdcxx is null ? null : HighestGlibcxx(libstdcxx), libstdcxx);
        if (missing.Count > 0)
            return $"TorchSharp's native library cannot load here: it needs {string.Join(" and ", missing)}; see README.md, \"GPU nodes\"";
        var innermost = e;
        while (innermost.InnerException is not null) innermost = innermost.InnerException;
        // The first sentences say why; TorchSharp appends its loader trace, which would not fit one line.
        string reason = string.Join(" ", innermost.Message.Split("Trace from LoadNativeBackend")[0]
            .Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        return $"TorchSharp's native library failed to load ({reason}); glibc and libstdc++ meet its needs (glibc ≥ {Glibc}, GLIBCXX_{Glibcxx}); " +
            "check that the build's TorchSharp package matches the device (README.md, \"GPU nodes\")";
    }
}
