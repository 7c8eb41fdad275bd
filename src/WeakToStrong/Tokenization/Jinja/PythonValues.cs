using System.Globalization;
using System.Text;

namespace WeakToStrong.Tokenization.Jinja;

// The values a template sees, with the Python semantics Jinja gives them:
//   null → None, bool, long → int, double → float, string → str (indexed by code point),
//   List<object?> → list, PyTuple → tuple, PyDict → dict (insertion-ordered), Namespace, Undefined,
//   JinjaCallable (functions, macros, bound methods), LoopContext.

/// <summary>Jinja's default Undefined: falsy, prints as "", iterates as empty; any attribute or item of it is an error.</summary>
internal sealed class Undefined(string description)
{
    /// <summary>What was looked up, for the error when it is used: "'x' is undefined", "'dict object' has no attribute 'y'".</summary>
    public string Description { get; } = description;

    public static Undefined Name(string name) => new($"'{name}' is undefined");
    public static Undefined Member(object? owner, object? key) => new($"'{PythonValues.TypeName(owner)} object' has no attribute {PythonValues.Repr(key)}");
}

internal sealed class PyTuple : List<object?>
{
    public PyTuple() { }
    public PyTuple(IEnumerable<object?> items) : base(items) { }
}

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (1 == 1.0 == True).</summary>
internal sealed class PyDict() : OrderedDictionary<object, object?>(PythonKeyComparer.Instance)
{
    public static object Key(object? key) => key ?? NoneKey;

    /// <summary>None as a dictionary key (OrderedDictionary takes no null keys).</summary>
    public static readonly object NoneKey = new();

    public static object? FromKey(object key) => ReferenceEquals(key, NoneKey) ? null : key;
}

/// <summary>Jinja's <c>namespace(...)</c>: the one mutable object templates get, assigned with <c>{% set ns.attr = … %}</c>.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A function a template can call: a global (range, namespace, raise_exception, …), a macro or a bound method.</summary>
internal sealed class JinjaCallable(string name, Func<CallArguments, object?> invoke)
{
    public string Name { get; } = name;
    public object? Invoke(CallArguments arguments) => invoke(arguments);
}

/// <summary>An error raised while evaluating, without a position yet; the evaluator adds the template and place.</summary>
internal sealed class JinjaRuntimeError(string message) : Exception(message);

/// <summary>Arguments of a call, with Python-style binding helpers.</summary>
internal sealed class CallArguments(string callee, IReadOnlyList<object?> positional, IReadOnlyList<(string Name, object? Value)> keywords)
{
    public string Callee { get; } = callee;
    public IReadOnlyList<object?> Positional { get; } = positional;
    public IReadOnlyList<(string Name, object? Value)> Keywords { get; } = keywords;

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index < Positional.Count)
        {
            if (Keywords.Any(k => k.Name == name)) throw new JinjaRuntimeError($"{Callee}() got multiple values for argument '{name}'");
            return Positional[index];
        }
        foreach (var (key, value) in Keywords) if (key == name) return value;
        return fallback;
    }

    public bool Has(int index, string name) => index < Positional.Count || Keywords.Any(k => k.Name == name);

    public object? Required(int index, string name) =>
        Has(index, name) ? Get(index, name) : throw new JinjaRuntimeError($"{Callee}() missing required argument '{name}'");

    /// <summary>Rejects positional arguments beyond <paramref name="count"/> and keywords not in <paramref name="names"/>.</summary>
    public CallArguments Allow(int count, params string[] names)
    {
        if (Positional.Count > count) throw new JinjaRuntimeError($"{Callee}() takes at most {count} positional argument{(count == 1 ? "" : "s")} ({Positional.Count} given)");
        foreach (var (key, _) in Keywords)
            if (!names.Contains(key)) throw new JinjaRuntimeError($"{Callee}() got an unexpected keyword argument '{key}'");
        return this;
    }
}

internal sealed class PythonKeyComparer : IEqualityComparer<object>
{
    public static readonly PythonKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => PythonValues.AreEqual(PyDict.FromKey(x!), PyDict.FromKey(y!));

    public int GetHashCode(object obj) => obj switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9.2e18 => ((long)d).GetHashCode(),
        double d => d.GetHashCode(),
        string s => StringComparer.Ordinal.GetHashCode(s),
        PyTuple t => t.Aggregate(17, (h, item) => h * 31 + GetHashCode(PyDict.Key(item))),
        List<object?> or PyDict => throw new JinjaRuntimeError($"unhashable type: '{PythonValues.TypeName(obj)}'"),
        _ => obj.GetHashCode(),
    };
}

internal static class PythonValues
{
    /// <summary>A JSON value as Python's json.loads gives it: integers without a fraction or exponent are int, other numbers float.</summary>
    public static object? FromJson(System.Text.Json.JsonElement element) => element.ValueKind switch
    {
        System.Text.Json.JsonValueKind.Null => null,
        System.Text.Json.JsonValueKind.True => true,
        System.Text.Json.JsonValueKind.False => false,
        System.Text.Json.JsonValueKind.String => element.GetString(),
        System.Text.Json.JsonValueKind.Number => element.GetRawText().IndexOfAny(['.', 'e', 'E']) < 0 && element.TryGetInt64(out long l) ? (object)l : element.GetDouble(),
        System.Text.Json.JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        System.Text.Json.JsonValueKind.Object => element.EnumerateObject().Aggregate(new PyDict(), (dict, p) => { dict[p.Name] = FromJson(p.Value); return dict; }),
        _ => throw new ArgumentException($"unexpected JSON value kind {element.ValueKind}"),
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        PyTuple => "tuple",
        List<object?> => "list",
        PyDict => "dict",
        Undefined => "Undefined",
        Namespace => "Namespace",
        JinjaCallable => "function",
        LoopContext => "LoopContext",
        _ => value.GetType().Name,
    };

    public static bool IsTrue(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        PyDict d => d.Count > 0,
        _ => true,
    };

    /// <summary>Python's <c>str(value)</c>, with Jinja's Undefined printing as nothing.</summary>
    public static string ToStr(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's <c>repr(value)</c>; also <c>str</c> of everything that is not a string.</summary>
    public static string Repr(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        string s => StringRepr(s),
        PyTuple t => t.Count == 1 ? $"({Repr(t[0])},)" : $"({string.Join(", ", t.Select(Repr))})",
        List<object?> l => $"[{string.Join(", ", l.Select(Repr))}]",
        PyDict d => $"{{{string.Join(", ", d.Select(p => $"{Repr(PyDict.FromKey(p.Key))}: {Repr(p.Value)}"))}}}",
        Undefined => "Undefined",
        Namespace n => $"<Namespace {{{string.Join(", ", n.Attributes.Select(p => $"{StringRepr(p.Key)}: {Repr(p.Value)}"))}}}>",
        JinjaCallable c => $"<function {c.Name}>",
        LoopContext => "<LoopContext>",
        _ => value.ToString() ?? "",
    };

    /// <summary>Python's float repr: the shortest round-trip digits, in fixed notation for 1e-4 ≤ |x| &lt; 1e16, else scientific.</summary>
    public static string FloatRepr(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";
        // "R" gives the shortest round-trip digits; read them back as digits and a decimal exponent.
        string roundTrip = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        int exponentAt = roundTrip.IndexOfAny(['E', 'e']);
        string mantissa = exponentAt < 0 ? roundTrip : roundTrip[..exponentAt];
        int exponent = exponentAt < 0 ? 0 : int.Parse(roundTrip[(exponentAt + 1)..], CultureInfo.InvariantCulture);
        int point = mantissa.IndexOf('.');
        string digits = mantissa.Replace(".", "");
        int pointPosition = (point < 0 ? mantissa.Length : point) + exponent; // digits before the decimal point
        int leadingZeros = digits.TakeWhile(c => c == '0').Count();
        digits = digits[leadingZeros..].TrimEnd('0');
        pointPosition -= leadingZeros;
        if (digits.Length == 0) digits = "0";
        int scientificExponent = pointPosition - 1;
        string sign = value < 0 ? "-" : "";
        if (scientificExponent < -4 || scientificExponent >= 16)
        {
            string fraction = digits.Length > 1 ? "." + digits[1..] : "";
            return $"{sign}{digits[0]}{fraction}e{(scientificExponent < 0 ? "-" : "+")}{Math.Abs(scientificExponent):00}";
        }
        if (pointPosition <= 0) return $"{sign}0.{new string('0', -pointPosition)}{digits}";
        if (pointPosition >= digits.Length) return $"{sign}{digits}{new string('0', pointPosition - digits.Length)}.0";
        return $"{sign}{digits[..pointPosition]}.{digits[pointPosition..]}";
    }

    /// <summary>Python's repr of a str: single quotes unless the text has one and no double quote; control characters escaped.</summary>
    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (!IsPrintable(rune)) sb.Append(c < 0x100 ? $"\\x{c:x2}" : c < 0x10000 ? $"\\u{c:x4}" : $"\\U{c:x8}");
            else sb.Append(rune.ToString());
        }
        return sb.Append(quote).ToString();
    }

    static bool IsPrintable(Rune rune) => rune.Value == ' ' || Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.SpaceSeparator => false,
        _ => true,
    };

    // ---- equality and ordering ----

    static bool IsNumber(object? value) => value is bool or long or double;

    static double AsDouble(object? value) => value switch { bool b => b ? 1 : 0, long l => l, double d => d, _ => double.NaN };

    public static bool AreEqual(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? AsDouble(a) == AsDouble(b) : AsLong(a) == AsLong(b);
        return (a, b) switch
        {
            (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
            (PyTuple x, PyTuple y) => SequenceEqual(x, y),
            (PyTuple, _) or (_, PyTuple) => false,
            (List<object?> x, List<object?> y) => SequenceEqual(x, y),
            (PyDict x, PyDict y) => x.Count == y.Count && x.All(p => y.TryGetValue(p.Key, out var v) && AreEqual(p.Value, v)),
            (Undefined, Undefined) => true,
            _ => ReferenceEquals(a, b),
        };
    }

    static bool SequenceEqual(List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => AreEqual(p.First, p.Second));

    static long AsLong(object? value) => value switch { bool b => b ? 1 : 0, long l => l, _ => 0 };

    /// <summary>Python's ordering for &lt; &gt; &lt;= &gt;=: numbers, strings by code point, lists element by element; anything else is a TypeError.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? AsDouble(a).CompareTo(AsDouble(b)) : AsLong(a).CompareTo(AsLong(b));
        if (a is string x && b is string y) return CompareCodePoints(x, y);
        if (a is List<object?> l && b is List<object?> r && a is PyTuple == b is PyTuple)
        {
            for (int i = 0; i < Math.Min(l.Count, r.Count); i++)
                if (!AreEqual(l[i], r[i])) return Compare(l[i], r[i], op);
            return l.Count.CompareTo(r.Count);
        }
        throw new JinjaRuntimeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static int CompareCodePoints(string x, string y)
    {
        var a = x.EnumerateRunes().GetEnumerator();
        var b = y.EnumerateRunes().GetEnumerator();
        while (true)
        {
            bool hasA = a.MoveNext(), hasB = b.MoveNext();
            if (!hasA || !hasB) return hasA.CompareTo(hasB);
            int c = a.Current.Value.CompareTo(b.Current.Value);
            if (c != 0) return c;
        }
    }

    /// <summary>Python's <c>in</c>: substring, list membership, dict key.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new JinjaRuntimeError($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        List<object?> l => l.Any(x => AreEqual(x, item)),
        PyDict d => d.ContainsKey(PyDict.Key(item)),
        Namespace n => item is string name && n.Attributes.ContainsKey(name),
        Undefined => false,
        _ => throw new JinjaRuntimeError($"argument of type '{TypeName(container)}' is not iterable"),
    };

    /// <summary>What <c>for x in value</c> walks: list items, string characters, dict keys; Undefined is empty.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        List<object?> l => [.. l],
        string s => [.. CodePoints(s)],
        PyDict d => [.. d.Keys.Select(PyDict.FromKey)],
        Undefined => [],
        _ => throw new JinjaRuntimeError($"'{TypeName(value)}' object is not iterable"),
    };

    // ---- strings by code point (Python indexes characters, not UTF-16 units) ----

    public static IEnumerable<object?> CodePoints(string s) => s.EnumerateRunes().Select(r => (object?)r.ToString());

    public static int Length(string s) => s.Length == 0 || !s.Any(char.IsSurrogate) ? s.Length : s.EnumerateRunes().Count();

    public static List<string> Characters(string s) => [.. s.EnumerateRunes().Select(r => r.ToString())];

    /// <summary>Python's <c>len()</c>.</summary>
    public static long Len(object? value) => value switch
    {
        string s => Length(s),
        List<object?> l => l.Count,
        PyDict d => d.Count,
        Undefined => 0,
        _ => throw new JinjaRuntimeError($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>The indices a Python slice [start:stop:step] selects from a sequence of <paramref name="length"/>.</summary>
    public static IEnumerable<int> SliceIndices(int length, long? start, long? stop, long? step)
    {
        long s = step ?? 1;
        if (s == 0) throw new JinjaRuntimeError("slice step cannot be zero");
        long Clamp(long? index, long whenMissing, long low, long high)
        {
            if (index is not { } i) return whenMissing;
            if (i < 0) i += length;
            return Math.Clamp(i, low, high);
        }
        if (s > 0)
        {
            long from = Clamp(start, 0, 0, length), to = Clamp(stop, length, 0, length);
            for (long i = from; i < to; i += s) yield return (int)i;
        }
        else
        {
            long from = Clamp(start, length - 1, -1, length - 1), to = Clamp(stop, -1, -1, length - 1);
            for (long i = from; i > to; i += s) yield return (int)i;
        }
    }
}
