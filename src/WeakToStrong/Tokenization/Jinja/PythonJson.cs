using System.Text;

namespace WeakToStrong.Tokenization.Jinja;

/// <summary>
/// Python's <c>json.dumps</c> as transformers' <c>tojson</c> filter calls it: <c>ensure_ascii=False</c> by default,
/// <c>indent</c> (a number of spaces or a string), <c>separators</c>, <c>sort_keys</c>. Output matches Python's byte
/// for byte: ", " and ": " between items without indent, "," and newlines with it, floats as Python's repr.
/// </summary>
internal static class PythonJson
{
    public static string Dumps(object? value, string? indent, string itemSeparator, string keySeparator, bool sortKeys, bool ensureAscii)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSeparator, keySeparator, sortKeys, ensureAscii, depth: 0);
        return sb.ToString();
    }

    static void Write(StringBuilder sb, object? value, string? indent, string itemSeparator, string keySeparator, bool sortKeys, bool ensureAscii, int depth)
    {
        switch (value)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l); return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PythonValues.FloatRepr(d));
                return;
            case string s: WriteString(sb, s, ensureAscii); return;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, indent, itemSeparator, depth, i =>
                    Write(sb, list[i], indent, itemSeparator, keySeparator, sortKeys, ensureAscii, depth + 1));
                return;
            case PyDict dict:
                var entries = dict.Select(p => (Key: KeyText(PyDict.FromKey(p.Key)), p.Value)).ToList();
                if (sortKeys) entries.Sort((a, b) => PythonValues.CompareCodePoints(a.Key, b.Key));
                WriteContainer(sb, '{', '}', entries.Count, indent, itemSeparator, depth, i =>
                {
                    WriteString(sb, entries[i].Key, ensureAscii);
                    sb.Append(keySeparator);
                    Write(sb, entries[i].Value, indent, itemSeparator, keySeparator, sortKeys, ensureAscii, depth + 1);
                });
                return;
            default:
                throw new JinjaRuntimeError($"Object of type {PythonValues.TypeName(value)} is not JSON serializable");
        }
    }

    /// <summary>json.dumps turns int, float, bool and None keys into strings the way it writes those values.</summary>
    static string KeyText(object? key) => key switch
    {
        string s => s,
        null => "null",
        bool b => b ? "true" : "false",
        long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
        double d => PythonValues.FloatRepr(d),
        _ => throw new JinjaRuntimeError($"keys must be str, int, float, bool or None, not {PythonValues.TypeName(key)}"),
    };

    static void WriteContainer(StringBuilder sb, char open, char close, int count, string? indent, string itemSeparator, int depth, Action<int> writeItem)
    {
        sb.Append(open);
        if (count == 0) { sb.Append(close); return; }
        string? inner = indent is null ? null : "\n" + string.Concat(Enumerable.Repeat(indent, depth + 1));
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(itemSeparator);
            if (inner is not null) sb.Append(inner);
            writeItem(i);
        }
        if (indent is not null) sb.Append('\n').Append(string.Concat(Enumerable.Repeat(indent, depth)));
        sb.Append(close);
    }

    static void WriteString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    // Surrogate pairs come out as two \u escapes under ensure_ascii, as Python writes them.
                    if (c < 0x20 || ensureAscii && c > 0x7e) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
