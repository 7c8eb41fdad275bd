using WeakToStrong.Data;

namespace WeakToStrong.Tests.Data;

/// <summary>
/// Parquet files written by other implementations (apache/parquet-testing: Arrow C++, parquet-mr, Impala; see
/// tests/fixtures/parquet/README.md) read through <see cref="ParquetTable"/>. Expected values come from the files'
/// own documentation (the *_expect.csv, the .md notes) or were read with independent readers (hyparquet, arrow-rs).
/// </summary>
public sealed class ParquetTableTests
{
    static ParquetTable Open(string name) => ParquetTable.Open(RepositoryPaths.Fixture("parquet", name));

    [Fact]
    public void TwoRowGroupsOfDictionaryEncodedStringsAndNullableInt64s_ArrowCpp()
    {
        // parquet-cpp-arrow 16.1.0, snappy, RLE_DICTIONARY, two row groups holding the same three rows.
        using var table = Open("sort_columns.parquet");
        Assert.Equal(6, table.RowCount);
        Assert.Equal(["a", "b"], table.ColumnNames);
        Assert.Equal([null, 2, 1, null, 2, 1], table.Integers("a"));
        SameStrings(["a", "b", "c", "a", "b", "c"], table.Strings("b"));
    }

    [Fact]
    public void DataPageV2SnappyWithANullString_ParquetMr()
    {
        using var table = Open("datapage_v2.snappy.parquet");
        SameStrings(["abc", "abc", "abc", null, "abc"], table.Strings("a"));
        Assert.Equal([1, 2, 3, 4, 5], table.Integers("b"));  // INT32, DELTA_BINARY_PACKED
    }

    [Fact]
    public void ListsOfStringsWithNullListsAndNullElements_ParquetCpp()
    {
        using var table = Open("list_columns.parquet");
        var lists = table.StringLists("utf8_list");
        Assert.Equal(3, lists.Length);
        SameStrings(["abc", "efg", "hij"], lists[0]!);
        Assert.Null(lists[1]);
        SameStrings(["efg", null, "hij", "xyz"], lists[2]!);
    }

    [Fact]
    public void DeltaByteArrayStringsMatchTheExpectedCsv_ParquetMr()
    {
        using var table = Open("delta_encoding_optional_column.parquet");
        var expected = ReadExpectCsv(RepositoryPaths.Fixture("parquet", "delta_encoding_optional_column_expect.csv"));
        Assert.Equal(100, table.RowCount);
        foreach (string column in (string[])["c_customer_id", "c_first_name", "c_last_name", "c_birth_country", "c_email_address", "c_last_review_date"])
            Assert.Equal(expected[column], table.Strings(column));
        foreach (string column in (string[])["c_customer_sk", "c_birth_year", "c_current_hdemo_sk"])
            Assert.Equal(expected[column].Select(v => v is null ? (long?)null : long.Parse(v)), table.Integers(column));
    }

    [Fact]
    public void RequiredDeltaByteArrayStringsAndInt32sMatchTheExpectedCsv_ParquetMr()
    {
        // The same kind of data with REQUIRED columns (no definition levels), INT32 instead of INT64. The file's
        // column names really end in ':' (the CSV's do not).
        using var table = Open("delta_encoding_required_column.parquet");
        var expected = ReadExpectCsv(RepositoryPaths.Fixture("parquet", "delta_encoding_required_column_expect.csv"));
        Assert.Equal(100, table.RowCount);
        foreach (string column in (string[])["c_customer_id", "c_salutation", "c_birth_country", "c_email_address"])
            Assert.Equal(expected[column], table.Strings(column + ":"));
        Assert.Equal(expected["c_birth_year"].Select(v => (long?)long.Parse(v!)), table.Integers("c_birth_year:"));
    }

    [Fact]
    public void DeltaLengthByteArrayWithZstd()
    {
        // 1000 rows "apple_banana_mango" + i*i (as read by arrow-rs); DELTA_LENGTH_BYTE_ARRAY pages, ZSTD.
        using var table = Open("delta_length_byte_array.parquet");
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"apple_banana_mango{i * i}"), table.Strings("FRUIT"));
    }

    [Fact]
    public void UnannotatedBinaryIsNotText()
    {
        // Impala writes string_col as BYTE_ARRAY without the UTF-8 annotation: bytes, not a string column.
        using var table = Open("alltypes_plain.parquet");
        var error = Assert.Throws<InvalidInputException>(() => table.Strings("string_col"));
        Assert.Contains("alltypes_plain.parquet: column \"string_col\" is binary (not annotated as UTF-8 text), expected a string column", error.Message);
        Assert.Equal([4, 5, 6, 7, 2, 3, 0, 1], table.Integers("id"));
    }

    [Fact]
    public void WrongShapesAndMissingColumnsNameTheColumn()
    {
        using var table = Open("list_columns.parquet");
        Assert.Contains("column \"utf8_list\" is a list of string, expected a string column",
            Assert.Throws<InvalidInputException>(() => table.Strings("utf8_list")).Message);
        Assert.Contains("column \"int64_list\" is a list of int64, expected a list of strings",
            Assert.Throws<InvalidInputException>(() => table.StringLists("int64_list")).Message);
        Assert.Contains("list_columns.parquet: no column \"prompt\" (the file has: int64_list, utf8_list)",
            Assert.Throws<InvalidInputException>(() => table.Strings("prompt")).Message);
    }

    [Fact]
    public void NotAParquetFile()
    {
        string path = RepositoryPaths.Fixture("parquet", "delta_encoding_optional_column_expect.csv");
        Assert.Contains("not a readable Parquet file", Assert.Throws<InvalidInputException>(() => ParquetTable.Open(path)).Message);
        Assert.Contains("no such file", Assert.Throws<InvalidInputException>(() => ParquetTable.Open(path + ".missing")).Message);
    }

    // Typed as sequences: xunit's span overload for string? arrays warns about nullability.
    static void SameStrings(IEnumerable<string?> expected, IEnumerable<string?> actual) => Assert.Equal(expected, actual);

    /// <summary>parquet-testing's *_expect.csv: a header, every value quoted, an empty unquoted field for null.</summary>
    static Dictionary<string, List<string?>> ReadExpectCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = SplitCsv(lines[0]).Select(h => h!.Trim()).ToArray();  // one header has a stray leading space
        var columns = header.ToDictionary(h => h, _ => new List<string?>());
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var fields = SplitCsv(line);
            Assert.Equal(header.Length, fields.Count);
            for (int i = 0; i < header.Length; i++) columns[header[i]].Add(fields[i]);
        }
        return columns;
    }

    static List<string?> SplitCsv(string line)
    {
        var fields = new List<string?>();
        int i = 0;
        while (true)
        {
            if (i < line.Length && line[i] == '"')
            {
                int close = line.IndexOf('"', i + 1);
                fields.Add(line[(i + 1)..close]);
                i = close + 1;
            }
            else
            {
                int comma = line.IndexOf(',', i);
                string raw = comma < 0 ? line[i..] : line[i..comma];
                fields.Add(raw.Length == 0 ? null : raw);
                i = comma < 0 ? line.Length : comma;
            }
            if (i >= line.Length) return fields;
            i++;  // the comma
            if (i == line.Length) { fields.Add(null); return fields; }
        }
    }
}
