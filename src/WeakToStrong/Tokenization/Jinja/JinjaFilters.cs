using System.Globalization;
using System.Text;

namespace WeakToStrong.Tokenization.Jinja;

/// <summary>
/// Jinja's built-in filters that chat templates use, with Jinja 3.1's arguments and behaviour, and transformers'
/// <c>tojson</c> (Python's json.dumps with ensure_ascii=False, no HTML escaping). An unknown filter is an error.
/// </summary>
internal static class JinjaFilters
{
    public static object? Apply(JinjaEvaluator evaluator, string name, object? value, CallArguments args)
    {
        switch (name)
        {
            case "trim":
                return PythonText.Strip(PythonValues.ToStr(value), args.Allow(1, "chars").Get(0, "chars") as string);
            case "length" or "count":
                args.Allow(0);
                return PythonValues.Len(value);
            case "upper": args.Allow(0); return PythonText.Upper(PythonValues.ToStr(value));
            case "lower": args.Allow(0); return PythonText.Lower(PythonValues.ToStr(value));
            case "title": args.Allow(0); return PythonText.JinjaTitle(PythonValues.ToStr(value));
            case "capitalize": args.Allow(0); return PythonText.Capitalize(PythonValues.ToStr(value));
            case "string": args.Allow(0); return PythonValues.ToStr(value);
            case "safe": args.Allow(0); return value;
            case "escape" or "e": args.Allow(0); return HtmlEscape(PythonValues.ToStr(value));
            case "tojson": return ToJson(value, args);
            case "default" or "d":
                args.Allow(2, "default_value", "boolean");
                bool useFallback = value is Undefined || PythonValues.IsTrue(args.Get(1, "boolean", false)) && !PythonValues.IsTrue(value);
                return useFallback ? args.Get(0, "default_value", "") : value;
            case "join":
                args.Allow(2, "d", "attribute");
                var parts = PythonValues.Iterate(value);
                if (args.Get(1, "attribute") is { } joinAttribute) parts = parts.Select(p => Lookup(p, joinAttribute)).ToList();
                return string.Join(PythonValues.ToStr(args.Get(0, "d", "")), parts.Select(PythonValues.ToStr));
            case "items":
                args.Allow(0);
                return value switch
                {
                    Undefined => new List<object?>(),
                    PyDict dict => dict.Select(p => (object?)new PyTuple([PyDict.FromKey(p.Key), p.Value])).ToList(),
                    _ => throw new JinjaRuntimeError("Can only get item pairs from a mapping."),
                };
            case "dictsort": return DictSort(value, args);
            case "list": args.Allow(0); return PythonValues.Iterate(value);
            case "first":
                args.Allow(0);
                var all = PythonValues.Iterate(value);
                return all.Count > 0 ? all[0] : new Undefined("No first item, sequence was empty.");
            case "last":
                args.Allow(0);
                var items = PythonValues.Iterate(value);
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            case "reverse":
                args.Allow(0);
                if (value is string text) return string.Concat(PythonValues.Characters(text).AsEnumerable().Reverse());
                var reversed = PythonValues.Iterate(value);
                reversed.Reverse();
                return reversed;
            case "unique": return Unique(value, args);
            case "sort": return Sort(value, args);
            case "min" or "max": return MinMax(name, value, args);
            case "sum":
                args.Allow(2, "attribute", "start");
                object? total = args.Get(1, "start", 0L);
                var addends = PythonValues.Iterate(value);
                if (args.Get(0, "attribute") is { } sumAttribute) addends = addends.Select(a => Lookup(a, sumAttribute)).ToList();
                foreach (var addend in addends) total = Operators.Binary("+", total, addend);
                return total;
            case "replace":
                args.Allow(3, "old", "new", "count");
                return PythonText.Replace(PythonValues.ToStr(value), PythonValues.ToStr(args.Required(0, "old")), PythonValues.ToStr(args.Required(1, "new")),
                    args.Get(2, "count") is long count ? count : -1);
            case "int": return ToInt(value, args);
            case "float": return ToFloat(value, args);
            case "abs":
                args.Allow(0);
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new JinjaRuntimeError($"bad operand type for abs(): '{PythonValues.TypeName(value)}'"),
                };
            case "round": return Round(value, args);
            case "indent": return Indent(PythonValues.ToStr(value), args);
            case "attr":
                args.Allow(1, "name");
                return JinjaAccess.GetAttribute(value, PythonValues.ToStr(args.Required(0, "name")));
            case "map": return Map(evaluator, value, args);
            case "select" or "reject": return Select(evaluator, value, args, name == "select", byAttribute: false);
            case "selectattr" or "rejectattr": return Select(evaluator, value, args, name == "selectattr", byAttribute: true);
            case "wordcount":
                args.Allow(0);
                return (long)PythonText.Split(PythonValues.ToStr(value), null, -1).Count;
            default:
                throw new JinjaRuntimeError($"unsupported filter '{name}' (chat templates are rendered by a Jinja subset; see Tokenization/Jinja)");
        }
    }

    /// <summary>transformers' override: <c>json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)</c>.</summary>
    static string ToJson(object? value, CallArguments args)
    {
        args.Allow(4, "ensure_ascii", "indent", "separators", "sort_keys");
        bool ensureAscii = PythonValues.IsTrue(args.Get(0, "ensure_ascii", false));
        string? indent = args.Get(1, "indent") switch
        {
            null => null,
            long n => new string(' ', (int)Math.Max(0, n)),
            string s => s,
            var other => throw new JinjaRuntimeError($"tojson indent must be an int or a string, not {PythonValues.TypeName(other)}"),
        };
        string itemSeparator = indent is null ? ", " : ",", keySeparator = ": ";
        if (args.Get(2, "separators") is { } separators)
        {
            if (separators is not List<object?> { Count: 2 } pair || pair[0] is not string item || pair[1] is not string key)
                throw new JinjaRuntimeError("tojson separators must be an (item_separator, key_separator) pair of strings");
            (itemSeparator, keySeparator) = (item, key);
        }
        return PythonJson.Dumps(value, indent, itemSeparator, keySeparator, PythonValues.IsTrue(args.Get(3, "sort_keys", false)), ensureAscii);
    }

    static string HtmlEscape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    /// <summary>Jinja's attribute getter for map/selectattr/sort: "a.b" walks attributes, integer parts index.</summary>
    static object? Lookup(object? item, object? attribute)
    {
        if (attribute is long index) return JinjaAccess.GetItem(item, index);
        foreach (string part in PythonValues.ToStr(attribute).Split('.'))
            item = long.TryParse(part, out long i) ? JinjaAccess.GetItem(item, i) : JinjaAccess.GetItem(item, part);
        return item;
    }

    /// <summary>Sort key: strings lowered unless case-sensitive, as Jinja's ignore_case.</summary>
    static object? SortKey(object? value, bool caseSensitive) => !caseSensitive && value is string s ? PythonText.Lower(s) : value;

    static List<object?> Sort(object? value, CallArguments args)
    {
        args.Allow(3, "reverse", "case_sensitive", "attribute");
        bool reverse = PythonValues.IsTrue(args.Get(0, "reverse", false)), caseSensitive = PythonValues.IsTrue(args.Get(1, "case_sensitive", false));
        var attribute = args.Get(2, "attribute");
        var items = PythonValues.Iterate(value);
        var keyed = items.Select(item => (Item: item, Key: SortKey(attribute is null ? item : Lookup(item, attribute), caseSensitive))).ToList();
        // Python's sort is stable, also with reverse=True.
        var sorted = reverse
            ? keyed.OrderByDescending(x => x.Key, Comparer<object?>.Create((a, b) => PythonValues.Compare(a, b, "<")))
            : keyed.OrderBy(x => x.Key, Comparer<object?>.Create((a, b) => PythonValues.Compare(a, b, "<")));
        return sorted.Select(x => x.Item).ToList();
    }

    static List<object?> DictSort(object? value, CallArguments args)
    {
        args.Allow(3, "case_sensitive", "by", "reverse");
        if (value is not PyDict dict) throw new JinjaRuntimeError("dictsort expects a mapping");
        bool caseSensitive = PythonValues.IsTrue(args.Get(0, "case_sensitive", false)), reverse = PythonValues.IsTrue(args.Get(2, "reverse", false));
        int position = args.Get(1, "by", "key") switch
        {
            "key" => 0,
            "value" => 1,
            var other => throw new JinjaRuntimeError($"You can only sort by either \"key\" or \"value\", not {PythonValues.Repr(other)}"),
        };
        var pairs = dict.Select(p => new PyTuple([PyDict.FromKey(p.Key), p.Value])).ToList();
        var comparer = Comparer<object?>.Create((a, b) => PythonValues.Compare(a, b, "<"));
        var sorted = reverse ? pairs.OrderByDescending(p => SortKey(p[position], caseSensitive), comparer) : pairs.OrderBy(p => SortKey(p[position], caseSensitive), comparer);
        return sorted.Cast<object?>().ToList();
    }

    static List<object?> Unique(object? value, CallArguments args)
    {
        args.Allow(2, "case_sensitive", "attribute");
        bool caseSensitive = PythonValues.IsTrue(args.Get(0, "case_sensitive", false));
        var attribute = args.Get(1, "attribute");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in PythonValues.Iterate(value))
        {
            var key = SortKey(attribute is null ? item : Lookup(item, attribute), caseSensitive);
            if (seen.Any(s => PythonValues.AreEqual(s, key))) continue;
            seen.Add(key);
            result.Add(item);
        }
        return result;
    }

    static object? MinMax(string name, object? value, CallArguments args)
    {
        args.Allow(2, "case_sensitive", "attribute");
        bool caseSensitive = PythonValues.IsTrue(args.Get(0, "case_sensitive", false));
        var attribute = args.Get(1, "attribute");
        var items = PythonValues.Iterate(value);
        if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
        var best = items[0];
        foreach (var item in items.Skip(1))
        {
            int c = PythonValues.Compare(SortKey(attribute is null ? item : Lookup(item, attribute), caseSensitive),
                SortKey(attribute is null ? best : Lookup(best, attribute), caseSensitive), "<");
            if (name == "min" ? c < 0 : c > 0) best = item;
        }
        return best;
    }

    static object? ToInt(object? value, CallArguments args)
    {
        args.Allow(2, "default", "base");
        var fallback = args.Get(0, "default", 0L);
        int numberBase = (int)(args.Get(1, "base", 10L) as long? ?? 10);
        switch (value)
        {
            case long or bool: return value is bool b ? (b ? 1L : 0L) : value;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = PythonText.Strip(s).Replace("_", "");
                try { return numberBase == 10 ? long.Parse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : Convert.ToInt64(t, numberBase); }
                catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
                {
                    return TryParseFloat(s, out double parsed) && double.IsFinite(parsed) ? (long)Math.Truncate(parsed) : fallback;
                }
            default: return fallback;
        }
    }

    static object? ToFloat(object? value, CallArguments args)
    {
        args.Allow(1, "default");
        return value switch
        {
            double d => d,
            long l => (double)l,
            bool b => b ? 1.0 : 0.0,
            string s when TryParseFloat(s, out double parsed) => parsed,
            _ => args.Get(0, "default", 0.0),
        };
    }

    static bool TryParseFloat(string s, out double value)
    {
        string t = PythonText.Strip(s).ToLowerInvariant();
        switch (t)
        {
            case "inf" or "+inf" or "infinity" or "+infinity": value = double.PositiveInfinity; return true;
            case "-inf" or "-infinity": value = double.NegativeInfinity; return true;
            case "nan" or "+nan" or "-nan": value = double.NaN; return true;
        }
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    static object? Round(object? value, CallArguments args)
    {
        args.Allow(2, "precision", "method");
        int precision = (int)(args.Get(0, "precision", 0L) as long? ?? 0);
        string method = PythonValues.ToStr(args.Get(1, "method", "common"));
        double number = value switch
        {
            long l => l,
            double d => d,
            bool b => b ? 1 : 0,
            _ => throw new JinjaRuntimeError($"round expects a number, not {PythonValues.TypeName(value)}"),
        };
        double scale = Math.Pow(10, precision);
        return method switch
        {
            // Jinja's "common" is Python's round(): halves go to the even neighbour.
            "common" => value is long integer && precision >= 0 ? (object)integer : Math.Round(number, Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(number * scale) / scale,
            "floor" => Math.Floor(number * scale) / scale,
            _ => throw new JinjaRuntimeError("method must be common, ceil or floor"),
        };
    }

    /// <summary>Jinja 3.1's indent: lines after the first get the indentation; blank lines only with blank=True.</summary>
    static string Indent(string s, CallArguments args)
    {
        args.Allow(3, "width", "first", "blank");
        string indentation = args.Get(0, "width", 4L) switch
        {
            string text => text,
            long n => new string(' ', (int)Math.Max(0, n)),
            var other => throw new JinjaRuntimeError($"indent width must be an int or a string, not {PythonValues.TypeName(other)}"),
        };
        bool first = PythonValues.IsTrue(args.Get(1, "first", false)), blank = PythonValues.IsTrue(args.Get(2, "blank", false));
        var lines = PythonText.SplitLines(s + "\n");
        string result;
        if (blank) result = string.Join("\n" + indentation, lines);
        else
        {
            var sb = new StringBuilder(lines.Count > 0 ? lines[0] : "");
            if (lines.Count > 1) sb.Append('\n').Append(string.Join("\n", lines.Skip(1).Select(line => line.Length > 0 ? indentation + line : line)));
            result = sb.ToString();
        }
        return first ? indentation + result : result;
    }

    static List<object?> Map(JinjaEvaluator evaluator, object? value, CallArguments args)
    {
        var items = PythonValues.Iterate(value);
        if (args.Positional.Count == 0 && args.Has(0, "attribute"))
        {
            args.Allow(0, "attribute", "default");
            var attribute = args.Get(0, "attribute");
            bool hasDefault = args.Has(1, "default");
            return items.Select(item =>
            {
                var found = Lookup(item, attribute);
                return found is Undefined && hasDefault ? args.Get(1, "default") : found;
            }).ToList();
        }
        if (args.Positional.Count == 0) throw new JinjaRuntimeError("map requires a filter name or attribute=");
        string filter = PythonValues.ToStr(args.Positional[0]);
        var rest = new CallArguments(filter, args.Positional.Skip(1).ToList(), args.Keywords);
        return items.Select(item => Apply(evaluator, filter, item, rest)).ToList();
    }

    static List<object?> Select(JinjaEvaluator evaluator, object? value, CallArguments args, bool keep, bool byAttribute)
    {
        var items = PythonValues.Iterate(value);
        int next = 0;
        object? attribute = null;
        if (byAttribute)
        {
            if (args.Positional.Count == 0) throw new JinjaRuntimeError("selectattr/rejectattr need an attribute name");
            attribute = args.Positional[next++];
        }
        string? test = next < args.Positional.Count ? PythonValues.ToStr(args.Positional[next++]) : null;
        var testArgs = new CallArguments(test ?? "", args.Positional.Skip(next).ToList(), args.Keywords);
        return items.Where(item =>
        {
            var subject = byAttribute ? Lookup(item, attribute) : item;
            bool passes = test is null ? PythonValues.IsTrue(subject) : JinjaTests.Apply(test, subject, testArgs);
            return passes == keep;
        }).ToList();
    }
}

/// <summary>Jinja's tests (<c>x is defined</c>, <c>x is string</c>, <c>x is equalto y</c>, …).</summary>
internal static class JinjaTests
{
    public static bool Apply(string name, object? value, CallArguments args)
    {
        object? Other() => args.Allow(1).Required(0, "other");
        switch (name)
        {
            case "defined": args.Allow(0); return value is not Undefined;
            case "undefined": args.Allow(0); return value is Undefined;
            case "none": args.Allow(0); return value is null;
            case "boolean": args.Allow(0); return value is bool;
            case "true": args.Allow(0); return value is true;
            case "false": args.Allow(0); return value is false;
            case "integer": args.Allow(0); return value is long;
            case "float": args.Allow(0); return value is double;
            case "number": args.Allow(0); return value is long or double or bool;
            case "string": args.Allow(0); return value is string;
            case "mapping": args.Allow(0); return value is PyDict;
            case "iterable": args.Allow(0); return value is string or List<object?> or PyDict or Undefined;
            case "sequence": args.Allow(0); return value is string or List<object?> or PyDict or Undefined;
            case "callable": args.Allow(0); return value is JinjaCallable;
            case "escaped": args.Allow(0); return false;
            case "lower": args.Allow(0); return value is string lower && PythonText.Lower(lower) == lower;
            case "upper": args.Allow(0); return value is string upper && PythonText.Upper(upper) == upper;
            case "odd": args.Allow(0); return Integer(value, name) % 2 != 0;
            case "even": args.Allow(0); return Integer(value, name) % 2 == 0;
            case "divisibleby":
                long divisor = Integer(args.Allow(1).Required(0, "num"), name);
                return divisor != 0 && Integer(value, name) % divisor == 0;
            case "sameas":
                var other = Other();
                // Python's "is": the same object. CPython shares None, the booleans and the small ints -5..256.
                return ReferenceEquals(value, other) || value is null && other is null || value is bool a && other is bool b && a == b
                    || value is long x && other is long y && x == y && x is >= -5 and <= 256;
            case "in": return PythonValues.Contains(args.Allow(1).Required(0, "seq"), value);
            case "eq" or "equalto" or "==": return Operators.Compare("==", value, Other());
            case "ne" or "!=": return Operators.Compare("!=", value, Other());
            case "lt" or "lessthan" or "<": return Operators.Compare("<", value, Other());
            case "le" or "<=": return Operators.Compare("<=", value, Other());
            case "gt" or "greaterthan" or ">": return Operators.Compare(">", value, Other());
            case "ge" or ">=": return Operators.Compare(">=", value, Other());
            default: throw new JinjaRuntimeError($"unsupported test '{name}' (chat templates are rendered by a Jinja subset; see Tokenization/Jinja)");
        }
    }

    static long Integer(object? value, string test) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        Undefined u => throw new JinjaRuntimeError(u.Description),
        _ => throw new JinjaRuntimeError($"test '{test}' needs an integer, not {PythonValues.TypeName(value)}"),
    };
}
