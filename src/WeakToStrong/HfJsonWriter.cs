using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace WeakToStrong;

/// <summary>
/// Writes the JSON side files of Hugging Face directories (config.json, generation_config.json, tokenizer files) the
/// way transformers does (<c>json.dumps(d, indent=2, sort_keys=True) + "\n"</c>): object keys in ordinal order at every
/// level, 2-space indent, a trailing newline, and floats spelled as Python spells them (1e-05, 0.0), so that the
/// bytes depend only on the values. Values: null, bool, int, long, double, string, lists and string-keyed dictionaries.
/// </summary>
internal static class HfJsonWriter
{
    public static string Serialize(IReadOnlyDictionary<string, object?> root, bool sortKeys = true)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps label and token text readable; the file is UTF-8 either way.
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var writer = new Utf8JsonWriter(buffer, options)) WriteValue(writer, root, sortKeys);
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    public static void Write(string path, IReadOnlyDictionary<string, object?> root, bool sortKeys = true) =>
        File.WriteAllText(path, Serialize(root, sortKeys), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));

    static void WriteValue(Utf8JsonWriter writer, object? value, bool sortKeys)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case double d: writer.WriteRawValue(PythonFloat(d)); break;
            case string s: writer.WriteStringValue(s); break;
            case IReadOnlyDictionary<string, object?> obj:
                writer.WriteStartObject();
                var keys = sortKeys ? obj.Keys.OrderBy(k => k, StringComparer.Ordinal) : obj.Keys;
                foreach (var key in keys)
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, obj[key], sortKeys);
                }
                writer.WriteEndObject();
                break;
            case System.Collections.IEnumerable list:
                writer.WriteStartArray();
                foreach (var item in list) WriteValue(writer, item, sortKeys);
                writer.WriteEndArray();
                break;
            default: throw new ArgumentException($"cannot write a {value.GetType().Name} as JSON");
        }
    }

    /// <summary>Python's repr of a float: shortest round-trip digits, "e-05" exponents, ".0" on integral values.</summary>
    public static string PythonFloat(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"{value} cannot be written as JSON (not finite)");
        string text = value.ToString("R", CultureInfo.InvariantCulture);
        int exponentAt = text.IndexOf('E');
        if (exponentAt < 0) return text.Contains('.') ? text : text + ".0";
        // .NET writes 1E-05 and 1E+20; Python writes 1e-05 and 1e+20.
        string mantissa = text[..exponentAt];
        string exponent = text[(exponentAt + 1)..];
        string sign = exponent[0] is '-' or '+' ? exponent[..1] : "+";
        string digits = exponent.TrimStart('-', '+').PadLeft(2, '0');
        return $"{mantissa}e{sign}{digits}";
    }
}
