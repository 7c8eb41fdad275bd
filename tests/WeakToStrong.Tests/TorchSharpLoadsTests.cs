using System.Text;
using static TorchSharp.torch;

namespace WeakToStrong.Tests;

public class TorchSharpLoadsTests
{
    [Fact]
    public void NativeLibraryLoadsAndComputesAMatmul()
    {
        using var scope = NewDisposeScope();
        var a = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        var product = a.matmul(a.t());
        Assert.Equal(new float[] { 5, 14, 14, 50 }, product.data<float>().ToArray());
    }

    /// <summary>
    /// The build output's libLibTorchSharp.so has its GLIBCXX_3.4.32 need marked weak whatever the building machine's
    /// libstdc++ (so it loads on GCC 12 nodes), and its strong needs are the ones NativeRequirements states.
    /// </summary>
    [Fact]
    public void OutputLibraryNeedsWhatNativeRequirementsSays()
    {
        string library = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!OperatingSystem.IsLinux()) return;
        var needs = VersionNeeds(File.ReadAllBytes(library));
        Assert.Contains(("libstdc++.so.6", "GLIBCXX_3.4.32", true), needs);
        Version Highest(string file, string prefix) => needs.Where(n => n.File == file && !n.Weak && n.Name.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => Version.Parse(n.Name[prefix.Length..])).Max()!;
        Assert.Equal(NativeRequirements.Glibc, Highest("libc.so.6", "GLIBC_"));
        Assert.Equal(NativeRequirements.Glibcxx, Highest("libstdc++.so.6", "GLIBCXX_"));
    }

    /// <summary>The (file, version, weak) entries of an ELF64 little-endian shared library's SHT_GNU_verneed section.</summary>
    static List<(string File, string Name, bool Weak)> VersionNeeds(byte[] elf)
    {
        static string Text(byte[] data, int start) => Encoding.ASCII.GetString(data, start, Array.IndexOf(data, (byte)0, start) - start);
        var needs = new List<(string, string, bool)>();
        int sectionHeaders = (int)BitConverter.ToUInt64(elf, 0x28), size = BitConverter.ToUInt16(elf, 0x3A), count = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < count; s++)
        {
            int header = sectionHeaders + s * size;
            if (BitConverter.ToUInt32(elf, header + 4) != 0x6ffffffe) continue;
            int strings = (int)BitConverter.ToUInt64(elf, sectionHeaders + (int)BitConverter.ToUInt32(elf, header + 0x28) * size + 0x18);
            int need = (int)BitConverter.ToUInt64(elf, header + 0x18);
            for (int e = 0, entries = (int)BitConverter.ToUInt32(elf, header + 0x2C); e < entries; e++)
            {
                string file = Text(elf, strings + (int)BitConverter.ToUInt32(elf, need + 4));
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int a = 0; a < BitConverter.ToUInt16(elf, need + 2); a++)
                {
                    needs.Add((file, Text(elf, strings + (int)BitConverter.ToUInt32(elf, aux + 8)), (BitConverter.ToUInt16(elf, aux + 4) & 2) != 0));
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                need += (int)BitConverter.ToUInt32(elf, need + 12);
            }
        }
        return needs;
    }
}
