using System.Runtime.InteropServices;

namespace WeakToStrong;

/// <summary>
/// How long libtorch's OpenMP threads (GNU libgomp) spin between ops before they sleep. libgomp's default spins about
/// 300,000 times, which on a 2-core machine shared with other work cost a training step 2x its time (measured: 8.3
/// zoo steps/s against 15.7 sleeping at once, with two busy processes beside it); sleeping at once
/// (OMP_WAIT_POLICY=PASSIVE) costs the tiny models' short ops a wake-up each, on an idle machine 25% of a training step
/// and 40% of a search. 10,000 spins bridge the gap between one op and the next and are cheap to waste (measured: 38.8
/// steps/s idle against 29.1 passive and 36.2 default; 14.1 busy). README.md, "Threads", has the table.
/// </summary>
public static partial class NativeThreads
{
    public const string SpinCount = "10000";

    /// <summary>Whether <see cref="ShortenOpenMpSpinning"/> set GOMP_SPINCOUNT in this process.</summary>
    public static bool SetByWts { get; private set; }

    /// <summary>
    /// Sets GOMP_SPINCOUNT to <see cref="SpinCount"/> unless the user set it or OMP_WAIT_POLICY (an empty value counts as
    /// unset). libgomp reads it once, when libtorch loads, so this must run before the first tensor op.
    /// </summary>
    public static void ShortenOpenMpSpinning()
    {
        if (!OperatingSystem.IsLinux() || NativeValue("GOMP_SPINCOUNT") is { Length: > 0 } || NativeValue("OMP_WAIT_POLICY") is { Length: > 0 }) return;
        try
        {
            // .NET keeps its own copy of the environment; the native one that libgomp reads needs libc's setenv.
            if (setenv("GOMP_SPINCOUNT", SpinCount, 1) != 0) return;
            Environment.SetEnvironmentVariable("GOMP_SPINCOUNT", SpinCount); // children started from here inherit it
            SetByWts = true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // not glibc: its OpenMP, if any, keeps its defaults
        }
    }

    /// <summary>The waiting policy in force, for `wts doctor`: what the native environment says and who set it.</summary>
    public static string Describe()
    {
        if (NativeValue("OMP_WAIT_POLICY") is { Length: > 0 } policy) return $"OMP_WAIT_POLICY={policy} (from the environment)";
        if (NativeValue("GOMP_SPINCOUNT") is { Length: > 0 } count) return $"GOMP_SPINCOUNT={count} ({(SetByWts ? "wts's default" : "from the environment")})";
        return "libgomp's default spinning";
    }

    /// <summary>A variable of the native environment (libc's getenv), which is what libgomp sees.</summary>
    static string? NativeValue(string name)
    {
        if (!OperatingSystem.IsLinux()) return Environment.GetEnvironmentVariable(name);
        try
        {
            return Marshal.PtrToStringUTF8(getenv(name));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return Environment.GetEnvironmentVariable(name);
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getenv(string name);
}
