using Parquet;
using Parquet.Schema;

namespace WeakToStrong.Data;

/// <summary>
/// A Parquet file read column by column, by top-level column name, through Parquet.Net: whole columns across all
/// row groups, in row order, with nulls kept. Only the shapes Hugging Face datasets write through pyarrow are
/// accepted: a flat column, or a LIST of a flat element. Every failure is an <see cref="InvalidInputException"/>
/// naming the file, the column and, for a bad value, the row (0-based, counted over the whole file).
/// </summary>
/// <remarks>
/// Strings are read as their raw bytes and decoded here with <see cref="StrictUtf8"/>: Parquet.Net decodes UTF-8
/// leniently (malformed bytes become U+FFFD), which would let a damaged file change a prompt without a word.
/// </remarks>
internal sealed class ParquetTable : IDisposable
{
    readonly Stream stream;
    readonly ParquetReader reader;

    public string Path { get; }

    /// <summary>Rows in the file, over all row groups.</summary>
    public long RowCount { get; }

    /// <summary>Top-level column names in schema order.</summary>
    public IReadOnlyList<string> ColumnNames { get; }

    ParquetTable(string path, Stream stream, ParquetReader reader)
    {
        Path = path;
        this.stream = stream;
        this.reader = reader;
        ColumnNames = reader.Schema.Fields.Select(f => f.Name).ToArray();
        long rows = 0;
        for (int g = 0; g < reader.RowGroupCount; g++) rows += reader.RowGroups[g].RowCount;
        RowCount = rows;
    }

    public static ParquetTable Open(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: no such file");
        var stream = File.OpenRead(path);
        try
        {
            var reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult();
            return new ParquetTable(path, stream, reader);
        }
        catch (Exception e) when (e is not InvalidInputException)
        {
            stream.Dispose();
            throw new InvalidInputException($"{path}: not a readable Parquet file ({e.Message})", e);
        }
    }

    // ParquetReader holds nothing but the stream (it is only IAsyncDisposable), so closing the stream is enough.
    public void Dispose() => stream.Dispose();

    public bool Has(string column) => ColumnNames.Contains(column, StringComparer.Ordinal);

    /// <summary>A flat UTF-8 string column; null where the file has null.</summary>
    public string?[] Strings(string column)
    {
        var leaf = FlatLeaf(column, "a string column", IsString);
        var raw = ReadLeaf<ReadOnlyMemory<byte>>(BytesTwin(leaf, column), column);
        return Flat(raw, leaf, column, (bytes, row) => StrictUtf8.Decode(bytes.Span, () => At(column, row)));
    }

    /// <summary>A flat integer column (INT32 or INT64, as Hugging Face writes int and ClassLabel columns).</summary>
    public long?[] Integers(string column)
    {
        var leaf = FlatLeaf(column, "an integer column (int32 or int64)", f => f.ClrType == typeof(long) || f.ClrType == typeof(int));
        if (leaf.ClrType == typeof(int))
            return Flat(ReadLeaf<int>(leaf, column), leaf, column, (v, _) => (long?)v);
        return Flat(ReadLeaf<long>(leaf, column), leaf, column, (v, _) => (long?)v);
    }

    /// <summary>A list-of-strings column (a Hugging Face Sequence(string)); a null list or element stays null.</summary>
    public string?[]?[] StringLists(string column)
    {
        var leaf = ListLeaf(column, "a list of strings", IsString);
        var raw = ReadLeaf<ReadOnlyMemory<byte>>(BytesTwin(leaf, column), column);
        return Lists(raw, leaf, column, (bytes, row) => (string?)StrictUtf8.Decode(bytes.Span, () => At(column, row)));
    }

    /// <summary>A list-of-doubles column (a Hugging Face Sequence(float64)).</summary>
    public double?[]?[] DoubleLists(string column)
    {
        var leaf = ListLeaf(column, "a list of doubles (float64)", f => f.ClrType == typeof(double));
        return Lists(ReadLeaf<double>(leaf, column), leaf, column, (v, _) => (double?)v);
    }

    string At(string column, long row) => $"{Path}: column \"{column}\", row {row}";

    static bool IsString(DataField field) => field.ClrType == typeof(ReadOnlyMemory<char>) || field.ClrType == typeof(string);

    Field TopLevel(string column) =>
        reader.Schema.Fields.FirstOrDefault(f => f.Name == column)
        ?? throw new InvalidInputException($"{Path}: no column \"{column}\" (the file has: {string.Join(", ", ColumnNames)})");

    DataField FlatLeaf(string column, string expected, Func<DataField, bool> accepts)
    {
        var field = TopLevel(column);
        if (field is DataField { MaxRepetitionLevel: 0 } data && accepts(data)) return data;
        throw WrongType(column, field, expected);
    }

    DataField ListLeaf(string column, string expected, Func<DataField, bool> accepts)
    {
        var field = TopLevel(column);
        if (field is ListField { Item: DataField { MaxRepetitionLevel: 1 } item } && accepts(item)) return item;
        throw WrongType(column, field, expected);
    }

    InvalidInputException WrongType(string column, Field field, string expected) =>
        new($"{Path}: column \"{column}\" is {Describe(field)}, expected {expected}");

    static string Describe(Field field) => field switch
    {
        ListField list => $"a list of {Describe(list.Item)}",
        DataField { ClrType: var t } when t == typeof(ReadOnlyMemory<char>) || t == typeof(string) => "string",
        DataField { ClrType: var t } when t == typeof(ReadOnlyMemory<byte>) || t == typeof(byte[]) => "binary (not annotated as UTF-8 text)",
        DataField { ClrType: var t } when t == typeof(long) => "int64",
        DataField { ClrType: var t } when t == typeof(int) => "int32",
        DataField { ClrType: var t } when t == typeof(double) => "double",
        DataField { ClrType: var t } when t == typeof(float) => "float",
        DataField { ClrType: var t } when t == typeof(bool) => "boolean",
        DataField data => data.ClrType.Name,
        StructField => "a struct",
        MapField => "a map",
        _ => field.SchemaType.ToString(),
    };

    /// <summary>
    /// The same column seen as raw bytes: a field with the string field's path and levels but a byte-array type,
    /// so that Parquet.Net hands over the bytes undecoded (it looks the column chunk up by path and decodes by the
    /// requested type).
    /// </summary>
    DataField BytesTwin(DataField leaf, string column)
    {
        var parts = leaf.Path.ToList();
        Field shape = parts.Count switch
        {
            1 => new DataField(parts[0], typeof(byte[]), isNullable: leaf.IsNullable),
            3 => new ListField(parts[0], new DataField(parts[2], typeof(byte[]), isNullable: leaf.IsNullable), parts[1]),
            _ => throw new InvalidInputException($"{Path}: column \"{column}\" has an unsupported nesting ({leaf.Path})"),
        };
        var twin = new ParquetSchema(shape).GetDataFields()[0];
        if (!twin.Path.Equals(leaf.Path) || twin.MaxDefinitionLevel != leaf.MaxDefinitionLevel || twin.MaxRepetitionLevel != leaf.MaxRepetitionLevel)
            throw new InvalidInputException(
                $"{Path}: column \"{column}\" has an unsupported layout ({leaf.Path}, definition level {leaf.MaxDefinitionLevel}, repetition level {leaf.MaxRepetitionLevel})");
        return twin;
    }

    /// <summary>One leaf column over all row groups: its non-null values, densely, and its levels.</summary>
    sealed record Leaf<T>(List<T> Values, List<int> Definitions, List<int> Repetitions);

    Leaf<T> ReadLeaf<T>(DataField field, string column) where T : struct
    {
        var leaf = new Leaf<T>([], [], []);
        try
        {
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                var group = reader.RowGroups[g];
                var chunk = group.GetMetadata(field)?.MetaData
                    ?? throw new InvalidInputException($"{Path}: column \"{column}\" has no data in row group {g}");
                int count = checked((int)chunk.NumValues);
                var values = new T[count];
                int[]? definitions = field.MaxDefinitionLevel > 0 ? new int[count] : null;
                int[]? repetitions = field.MaxRepetitionLevel > 0 ? new int[count] : null;
                group.ReadRawAsync(field, values.AsMemory(), definitions?.AsMemory(), repetitions?.AsMemory()).AsTask().GetAwaiter().GetResult();

                int present = definitions is null ? count : definitions.Count(d => d == field.MaxDefinitionLevel);
                leaf.Values.AddRange(values.AsSpan(0, present));
                leaf.Definitions.AddRange(definitions ?? Enumerable.Repeat(field.MaxDefinitionLevel, count));
                leaf.Repetitions.AddRange(repetitions ?? Enumerable.Repeat(0, count));
            }
        }
        catch (Exception e) when (e is not InvalidInputException)
        {
            throw new InvalidInputException($"{Path}: column \"{column}\" could not be read ({e.Message})", e);
        }
        return leaf;
    }

    TOut?[] Flat<TRaw, TOut>(Leaf<TRaw> leaf, DataField field, string column, Func<TRaw, long, TOut?> convert)
    {
        var rows = new TOut?[leaf.Definitions.Count];
        int next = 0;
        for (int row = 0; row < rows.Length; row++)
            rows[row] = leaf.Definitions[row] == field.MaxDefinitionLevel ? convert(leaf.Values[next++], row) : default;
        if (rows.Length != RowCount)
            throw new InvalidInputException($"{Path}: column \"{column}\" has {rows.Length} values for {RowCount} rows");
        return rows;
    }

    /// <summary>
    /// Rows of a LIST column from its element's levels: a repetition level of 0 starts a row; the definition level
    /// says how far the path is defined: the full depth is a value, one less (for a nullable element) a null element,
    /// below the element slot an empty list, and below that (for a nullable list) a null list.
    /// </summary>
    TOut?[]?[] Lists<TRaw, TOut>(Leaf<TRaw> leaf, DataField item, string column, Func<TRaw, long, TOut?> convert)
    {
        int full = item.MaxDefinitionLevel;
        int slot = item.IsNullable ? full - 1 : full;  // an element (null or not) exists from this level up
        var rows = new List<TOut?[]?>();
        List<TOut?>? current = null;
        int next = 0;
        void Close() { if (current is not null) rows.Add(current.ToArray()); current = null; }
        for (int i = 0; i < leaf.Definitions.Count; i++)
        {
            int definition = leaf.Definitions[i];
            if (leaf.Repetitions[i] == 0)
            {
                Close();
                if (definition < slot - 1) { rows.Add(null); continue; }   // null list
                current = [];
                if (definition == slot - 1) continue;                      // empty list
            }
            current!.Add(definition == full ? convert(leaf.Values[next++], rows.Count) : default);
        }
        Close();
        if (rows.Count != RowCount)
            throw new InvalidInputException($"{Path}: column \"{column}\" has {rows.Count} rows, the file {RowCount}");
        return rows.ToArray();
    }
}
