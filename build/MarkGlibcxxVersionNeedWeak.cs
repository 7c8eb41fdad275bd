using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// Sets VER_FLG_WEAK on the GLIBCXX_3.4.32 version need of libstdc++.so.6 in an ELF64 shared library, whatever the
// building machine's libstdc++: the output may run elsewhere. See TorchSharpGlibcxxFix.targets.
public class MarkGlibcxxVersionNeedWeak : Task
{
    const string NeededVersion = "GLIBCXX_3.4.32";
    const string NeededFile = "libstdc++.so.6";
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlagWeak = 0x2;

    [Required] public ITaskItem[] Libraries { get; set; }

    public override bool Execute()
    {
        foreach (var item in Libraries)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                if (Patch(path))
                    Log.LogMessage(MessageImportance.High,
                        $"wts: marked {NeededVersion} weak in {path} (so it loads where libstdc++ lacks it)");
            }
            catch (Exception e)
            {
                Log.LogError($"wts: could not patch {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Returns true when the file was changed; false when already weak or not needed.</summary>
    static bool Patch(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a little-endian ELF64 file");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int verneedOffset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int strtabIndex = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int entries = (int)BitConverter.ToUInt32(elf, sh + 0x2C);
            int strtabHeader = checked((int)shoff + strtabIndex * shentsize);
            int strtab = checked((int)BitConverter.ToUInt64(elf, strtabHeader + 0x18));

            int vn = verneedOffset;
            for (int e = 0; e < entries; e++)
            {
                int auxCount = BitConverter.ToUInt16(elf, vn + 2);
                string file = CString(elf, strtab + (int)BitConverter.ToUInt32(elf, vn + 4));
                int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = CString(elf, strtab + (int)BitConverter.ToUInt32(elf, aux + 8));
                    if (file == NeededFile && name == NeededVersion)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlagWeak) != 0) return false;
                        WriteFlag(path, aux + 4, (ushort)(flags | VerFlagWeak));
                        return true;
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                vn += (int)BitConverter.ToUInt32(elf, vn + 12);
            }
        }
        return false;
    }

    static void WriteFlag(string path, int offset, ushort value)
    {
        DateTime stamp = File.GetLastWriteTimeUtc(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Position = offset;
            stream.Write(BitConverter.GetBytes(value), 0, 2);
        }
        File.SetLastWriteTimeUtc(path, stamp);
    }

    static string CString(byte[] data, int start)
    {
        int end = start;
        while (data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, start, end - start);
    }
}
