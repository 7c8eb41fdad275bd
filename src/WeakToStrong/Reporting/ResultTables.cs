using System.Globalization;
using CsvHelper;
using WeakToStrong.Evaluation;

namespace WeakToStrong.Reporting;

/// <summary>
/// Reads and writes samples.csv and summary.csv: invariant culture, doubles in round-trip form, nulls as empty
/// fields (so an empty optional string, such as a missing reference, reads back as null). Writes are atomic: the
/// table is written beside its destination and moved over it, so a crash leaves the old table or the new one.
/// </summary>
public static class ResultTables
{
    public static void WriteSamples(string path, IEnumerable<SampleRow> rows) => Write(path, rows);

    public static void WriteSummary(string path, IEnumerable<SummaryRow> rows) => Write(path, rows);

    /// <exception cref="InvalidInputException">A column is missing or a field does not parse.</exception>
    public static IReadOnlyList<SampleRow> ReadSamples(string path) => Read<SampleRow>(path);

    /// <exception cref="InvalidInputException">A column is missing or a field does not parse.</exception>
    public static IReadOnlyList<SummaryRow> ReadSummary(string path) => Read<SummaryRow>(path);

    static void Write<T>(string path, IEnumerable<T> rows)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = path + ".tmp";
        try
        {
            using (var writer = new StreamWriter(temporary))
            using (var csv = CsvWriter.Create(writer, new CsvWriterOptions { FormatProvider = CultureInfo.InvariantCulture }, leaveOpen: false))
                csv.WriteRecords(rows);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    static IReadOnlyList<T> Read<T>(string path)
    {
        // The separator is fixed: detecting it could pick ';' or '|' from a quoted prompt.
        var options = new CsvReaderOptions
        {
            Separator = ',',
            FormatProvider = CultureInfo.InvariantCulture,
            TrackLineNumbers = true,
            NullValues = [""],
        };
        using var csv = CsvReader.FromFile(path, options);
        RequireColumns<T>(csv, path);
        try
        {
            return csv.GetRecords<T>().ToList();
        }
        catch (CsvFormatException e)
        {
            var field = e.Member is null ? "" : $", column {e.FieldIndex + 1} ({ColumnName(csv, e.FieldIndex)})";
            var cause = e.InnerException?.Message ?? e.Message;
            throw new InvalidInputException($"{path}: line {e.LineNumber}{field}: {cause}", e);
        }
    }

    /// <summary>Every column of the record is required, the optional (nullable) ones too: a missing column is a
    /// different table, not a table of nulls.</summary>
    static void RequireColumns<T>(CsvReader csv, string path)
    {
        var header = csv.Headers.Select(name => name.Trim()).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var missing = typeof(T).GetConstructors().Single().GetParameters()
            .Select(parameter => parameter.Name!)
            .Where(name => !header.Contains(name))
            .ToList();
        if (missing.Count > 0)
            throw new InvalidInputException(
                $"{path}: line 1: the header lacks column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)}");
    }

    static string ColumnName(CsvReader csv, int index) =>
        index >= 0 && index < csv.Headers.Count ? csv.Headers[index] : "?";
}
