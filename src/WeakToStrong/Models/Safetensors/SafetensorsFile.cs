using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace WeakToStrong.Models.Safetensors;

/// <summary>
/// One open safetensors file. <see cref="Open"/> reads and validates only the header; tensor data is
/// read on demand by <see cref="ReadTensor"/>, straight from the file into the new tensor's own memory
/// (no copy of the whole checkpoint is ever held). The file stays open until disposed.
/// </summary>
/// <remarks>
/// Layout: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON, then the data
/// region. The JSON is an object whose optional "__metadata__" member maps strings to strings and
/// whose other members are tensors: {"dtype": ..., "shape": [...], "data_offsets": [begin, end]},
/// offsets relative to the start of the data region, data little-endian and row-major.
/// Validation: N in 1..<see cref="MaxHeaderBytes"/> and within the file; the JSON is an object;
/// every tensor has a supported dtype, a shape of non-negative integers and two offsets with
/// begin &lt;= end &lt;= data region length; end - begin equals the element count times the dtype
/// size; no two tensors share a byte. Unused bytes between or after tensors are allowed.
/// </remarks>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>Largest accepted JSON header, in bytes (the limit the reference implementation uses).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Size of the little-endian u64 header-length prefix.</summary>
    public const int PrefixBytes = 8;

    // Tensors are read in chunks of at most this many bytes, because a Span is limited to int.MaxValue.
    private const long ReadChunkBytes = 1L << 30;

    private readonly SafeFileHandle _handle;
    private readonly byte[] _rawHeader;
    private bool _disposed;

    private SafetensorsFile(
        string path,
        SafeFileHandle handle,
        byte[] rawHeader,
        long fileLength,
        IReadOnlyDictionary<string, string> metadata,
        IReadOnlyDictionary<string, SafetensorsEntry> entries)
    {
        Path = path;
        _handle = handle;
        _rawHeader = rawHeader;
        FileLength = fileLength;
        Metadata = metadata;
        Entries = entries;
    }

    /// <summary>The path the file was opened with.</summary>
    public string Path { get; }

    /// <summary>Length of the file when it was opened, in bytes.</summary>
    public long FileLength { get; }

    /// <summary>Length N of the JSON header, in bytes (without the 8-byte prefix).</summary>
    public long HeaderLength => _rawHeader.Length - PrefixBytes;

    /// <summary>Absolute file offset of the data region (8 + N).</summary>
    public long DataStart => _rawHeader.Length;

    /// <summary>Length of the data region: file length - 8 - N.</summary>
    public long DataLength => FileLength - DataStart;

    /// <summary>The "__metadata__" map (empty when absent), keys in ordinal order.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors, keyed by name, in ordinal name order.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    /// <summary>The first 8 + N bytes of the file exactly as stored: the length prefix and the JSON header.</summary>
    public ReadOnlySpan<byte> RawHeader => _rawHeader;

    /// <summary>Opens <paramref name="path"/> and validates its header. Throws <see cref="InvalidInputException"/> on any problem.</summary>
    public static SafetensorsFile Open(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidInputException("safetensors file path is empty; expected the path of a .safetensors file.");
        }
        if (Directory.Exists(path))
        {
            throw new InvalidInputException($"safetensors file '{path}' is a directory; expected a .safetensors file (use SafetensorsCheckpoint.Open for a model directory).");
        }
        if (!File.Exists(path))
        {
            throw new InvalidInputException($"safetensors file '{path}' does not exist.");
        }

        SafeFileHandle handle;
        try
        {
            // FileShare.Delete lets an atomic rename replace the file while we still hold the old one.
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"safetensors file '{path}' cannot be opened for reading: {ex.Message}", ex);
        }

        try
        {
            return ReadHeader(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static SafetensorsFile ReadHeader(string path, SafeFileHandle handle)
    {
        InvalidInputException Bad(string what) => new($"safetensors file '{path}': {what}");

        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < PrefixBytes)
        {
            throw Bad($"file is truncated: it is {fileLength} bytes, shorter than the {PrefixBytes}-byte header length prefix.");
        }

        Span<byte> prefix = stackalloc byte[PrefixBytes];
        ReadExactly(handle, prefix, 0, path, "the header length prefix");
        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (declared == 0)
        {
            throw Bad("header length is 0; expected a JSON header of at least 2 bytes.");
        }
        if (declared > MaxHeaderBytes)
        {
            throw Bad($"header length {declared} exceeds the {MaxHeaderBytes}-byte limit (is this really a safetensors file?).");
        }
        long headerLength = (long)declared;
        if (PrefixBytes + headerLength > fileLength)
        {
            throw Bad($"file is truncated: header length {headerLength} extends beyond the end of the file ({fileLength} bytes, so at most {fileLength - PrefixBytes} header bytes).");
        }

        var raw = new byte[PrefixBytes + headerLength];
        prefix.CopyTo(raw);
        ReadExactly(handle, raw.AsSpan(PrefixBytes), PrefixBytes, path, "the JSON header");

        long dataLength = fileLength - PrefixBytes - headerLength;
        var (metadata, entries) = ParseHeader(path, raw.AsMemory(PrefixBytes), dataLength);
        return new SafetensorsFile(path, handle, raw, fileLength, metadata, entries);
    }

    private static (IReadOnlyDictionary<string, string>, IReadOnlyDictionary<string, SafetensorsEntry>) ParseHeader(
        string path, ReadOnlyMemory<byte> json, long dataLength)
    {
        InvalidInputException Bad(string what) => new($"safetensors file '{path}': {what}");

        // JsonDocument accepts malformed UTF-8 inside strings and only fails later, when a name is read.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
        {
            throw Bad("header is not valid UTF-8; expected a UTF-8 JSON object.");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Bad($"header is not valid JSON ({ex.Message}); expected a UTF-8 JSON object.");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Bad($"header must be a JSON object, but is a JSON {Describe(root.ValueKind)}.");
            }

            var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var entries = new SortedDictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            bool sawMetadata = false;

            foreach (var member in root.EnumerateObject())
            {
                if (member.Name == "__metadata__")
                {
                    if (sawMetadata)
                    {
                        throw Bad("\"__metadata__\" appears twice in the header.");
                    }
                    sawMetadata = true;
                    ParseMetadata(path, member.Value, metadata);
                    continue;
                }

                if (entries.ContainsKey(member.Name))
                {
                    throw Bad($"tensor '{member.Name}' appears twice in the header.");
                }
                entries.Add(member.Name, ParseEntry(path, member.Name, member.Value, dataLength));
            }

            CheckNoOverlap(path, entries.Values);
            return (new ReadOnlyDictionary<string, string>(metadata),
                    new ReadOnlyDictionary<string, SafetensorsEntry>(entries));
        }
    }

    private static void ParseMetadata(string path, JsonElement value, IDictionary<string, string> into)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidInputException($"safetensors file '{path}': \"__metadata__\" must be a JSON object mapping strings to strings, but is a JSON {Describe(value.ValueKind)}.");
        }
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidInputException($"safetensors file '{path}': \"__metadata__\" value for key '{kv.Name}' must be a string, but is a JSON {Describe(kv.Value.ValueKind)}.");
            }
            if (into.ContainsKey(kv.Name))
            {
                throw new InvalidInputException($"safetensors file '{path}': \"__metadata__\" key '{kv.Name}' appears twice.");
            }
            into.Add(kv.Name, kv.Value.GetString()!);
        }
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        InvalidInputException Bad(string what) => new($"safetensors file '{path}': tensor '{name}': {what}");

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Bad($"entry must be a JSON object with \"dtype\", \"shape\" and \"data_offsets\", but is a JSON {Describe(value.ValueKind)}.");
        }

        if (!value.TryGetProperty("dtype", out var dtypeElement))
        {
            throw Bad("missing \"dtype\".");
        }
        if (dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Bad($"\"dtype\" must be a string, but is a JSON {Describe(dtypeElement.ValueKind)}.");
        }
        string dtype = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.IsSupported(dtype))
        {
            throw Bad($"unknown dtype '{dtype}'; expected one of {SafetensorsDTypes.SupportedList}.");
        }

        if (!value.TryGetProperty("shape", out var shapeElement))
        {
            throw Bad("missing \"shape\".");
        }
        var shape = ReadNonNegativeIntegers(shapeElement, "shape", Bad);

        if (!value.TryGetProperty("data_offsets", out var offsetsElement))
        {
            throw Bad("missing \"data_offsets\".");
        }
        var offsets = ReadNonNegativeIntegers(offsetsElement, "data_offsets", Bad);
        if (offsets.Length != 2)
        {
            throw Bad($"\"data_offsets\" must have exactly 2 entries [begin, end], but has {offsets.Length}.");
        }
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
        {
            throw Bad($"data_offsets [{begin}, {end}] are reversed: begin {begin} is greater than end {end}.");
        }
        if (end > dataLength)
        {
            throw Bad($"data_offsets [{begin}, {end}] lie outside the data region, which is {dataLength} bytes long (file truncated or header wrong).");
        }

        long expectedBytes;
        try
        {
            long count = 1;
            foreach (var d in shape) count = checked(count * d);
            expectedBytes = checked(count * SafetensorsDTypes.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw Bad($"shape [{string.Join(", ", shape)}] has too many elements to be stored.");
        }
        if (end - begin != expectedBytes)
        {
            throw Bad($"byte length {end - begin} (data_offsets [{begin}, {end}]) does not match shape [{string.Join(", ", shape)}] x {dtype} size {SafetensorsDTypes.ElementSize(dtype)} = {expectedBytes} bytes.");
        }

        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private static long[] ReadNonNegativeIntegers(JsonElement element, string field, Func<string, InvalidInputException> bad)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw bad($"\"{field}\" must be an array of non-negative integers, but is a JSON {Describe(element.ValueKind)}.");
        }
        var values = new long[element.GetArrayLength()];
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
            {
                throw bad($"\"{field}\"[{i}] is {item.GetRawText()}; expected a non-negative integer.");
            }
            values[i++] = v;
        }
        return values;
    }

    private static void CheckNoOverlap(string path, IEnumerable<SafetensorsEntry> entries)
    {
        // Empty tensors occupy no bytes, so they cannot overlap anything.
        var sorted = entries.Where(e => e.End > e.Begin)
                            .OrderBy(e => e.Begin).ThenBy(e => e.End)
                            .ToList();
        SafetensorsEntry? furthest = null;
        foreach (var e in sorted)
        {
            if (furthest is not null && e.Begin < furthest.End)
            {
                throw new InvalidInputException(
                    $"safetensors file '{path}': tensors '{furthest.Name}' [{furthest.Begin}, {furthest.End}) and '{e.Name}' [{e.Begin}, {e.End}) overlap; each byte of the data region may belong to one tensor only.");
            }
            if (furthest is null || e.End > furthest.End) furthest = e;
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    /// <summary>True when the file has a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => Entries.ContainsKey(name);

    /// <summary>The header entry for <paramref name="name"/>; throws <see cref="InvalidInputException"/> when absent.</summary>
    public SafetensorsEntry Entry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Entries.TryGetValue(name, out var entry))
        {
            throw new InvalidInputException($"safetensors file '{Path}': no tensor named '{name}' (the file has {Entries.Count} tensors).");
        }
        return entry;
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/>: builds a CPU tensor in its stored dtype, fills it with the
    /// stored bytes, then converts it to <paramref name="dtype"/> (exactly, for F16/BF16 to F32) and moves it to
    /// <paramref name="device"/> (CPU when null). The caller owns the returned tensor.
    /// </summary>
    public torch.Tensor ReadTensor(string name, torch.ScalarType dtype, torch.Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var entry = Entry(name);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Reading safetensors data requires a little-endian machine.");
        }

        torch.Tensor raw = torch.empty(entry.Shape, dtype: entry.ScalarType, device: torch.CPU);
        try
        {
            FillFromFile(raw, entry);
            bool onCpu = device is null || device.type == DeviceType.CPU;
            if (raw.dtype == dtype && onCpu)
            {
                var result = raw;
                raw = null!;
                return result;
            }
            return raw.to(dtype, device ?? torch.CPU);
        }
        finally
        {
            raw?.Dispose();
        }
    }

    private void FillFromFile(torch.Tensor raw, SafetensorsEntry entry)
    {
        if (entry.ByteLength == 0) return;

        int elementSize = SafetensorsDTypes.ElementSize(entry.DType);
        long chunkElements = ReadChunkBytes / elementSize;
        using var flat = raw.reshape(-1); // a view: same memory as raw
        long total = entry.ElementCount;
        for (long first = 0; first < total; first += chunkElements)
        {
            long count = Math.Min(chunkElements, total - first);
            using var chunk = flat.narrow(0, first, count);
            Span<byte> target = chunk.bytes; // the chunk's own memory inside raw
            ReadExactly(_handle, target, DataStart + entry.Begin + first * elementSize, Path, $"tensor '{entry.Name}'");
            if (entry.DType == "BOOL")
            {
                int bad = target.IndexOfAnyExcept((byte)0, (byte)1);
                if (bad >= 0)
                {
                    throw new InvalidInputException(
                        $"safetensors file '{Path}': tensor '{entry.Name}': BOOL element {first + bad} has byte value {target[bad]}; expected 0 or 1.");
                }
            }
        }
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path, string what)
    {
        while (!buffer.IsEmpty)
        {
            int n = RandomAccess.Read(handle, buffer, offset);
            if (n <= 0)
            {
                throw new InvalidInputException(
                    $"safetensors file '{path}': the file ended while reading {what} at byte {offset} (was it truncated or changed after it was opened?).");
            }
            buffer = buffer[n..];
            offset += n;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _handle.Dispose();
    }
}
