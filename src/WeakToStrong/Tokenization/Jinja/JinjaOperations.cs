namespace WeakToStrong.Tokenization.Jinja;

/// <summary>
/// <c>obj.name</c>, <c>obj[key]</c> and <c>obj[a:b:c]</c> as Jinja's sandbox does them: a missing key, index or
/// attribute of a defined value is Undefined; any access on Undefined is an error; names starting with '_' and
/// methods that would modify a value (append, pop, update, …) are off limits, as in ImmutableSandboxedEnvironment.
/// </summary>
internal static class JinjaAccess
{
    static readonly HashSet<string> MutatingMethods = ["append", "extend", "insert", "pop", "popitem", "remove", "clear", "reverse", "sort", "update", "setdefault", "add", "discard"];

    public static object? GetAttribute(object? target, string name)
    {
        if (target is Undefined undefined) throw new JinjaRuntimeError(undefined.Description);
        if (name.StartsWith('_')) return new Undefined($"access to attribute '{name}' of '{PythonValues.TypeName(target)}' object is unsafe");
        if (target is List<object?> or PyDict && MutatingMethods.Contains(name))
            return new Undefined($"access to attribute '{name}' of '{PythonValues.TypeName(target)}' object is unsafe (templates cannot modify their inputs)");
        if (PythonMethods.TryBind(target, name, out var method)) return method;
        return target switch
        {
            PyDict dict => dict.TryGetValue(name, out var value) ? value : Undefined.Member(target, name),
            Namespace ns => ns.Attributes.TryGetValue(name, out var value) ? value : Undefined.Member(target, name),
            LoopContext loop => loop.Get(name),
            _ => Undefined.Member(target, name),
        };
    }

    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case Undefined undefined:
                throw new JinjaRuntimeError(undefined.Description);
            case PyDict dict:
                if (key is List<object?> and not PyTuple || key is PyDict) throw new JinjaRuntimeError($"unhashable type: '{PythonValues.TypeName(key)}'");
                if (dict.TryGetValue(PyDict.Key(key), out var value)) return value;
                break;
            case List<object?> list when key is long or bool:
                long index = key is bool b ? (b ? 1 : 0) : (long)key;
                if (index < 0) index += list.Count;
                return index >= 0 && index < list.Count ? list[(int)index] : Undefined.Member(target, key);
            case string text when key is long or bool:
                var characters = PythonValues.Characters(text);
                long at = key is bool c ? (c ? 1 : 0) : (long)key;
                if (at < 0) at += characters.Count;
                return at >= 0 && at < characters.Count ? characters[(int)at] : Undefined.Member(target, key);
        }
        // Jinja falls back to the attribute of that name ("loop['index']", "message['items']").
        return key is string name ? GetAttribute(target, name) : Undefined.Member(target, key);
    }

    public static object? Slice(object? target, long? start, long? stop, long? step) => target switch
    {
        Undefined undefined => throw new JinjaRuntimeError(undefined.Description),
        PyTuple tuple => new PyTuple(PythonValues.SliceIndices(tuple.Count, start, stop, step).Select(i => tuple[i])),
        List<object?> list => PythonValues.SliceIndices(list.Count, start, stop, step).Select(i => list[i]).ToList(),
        string text => SliceString(text, start, stop, step),
        _ => throw new JinjaRuntimeError($"'{PythonValues.TypeName(target)}' object is not subscriptable"),
    };

    static string SliceString(string text, long? start, long? stop, long? step)
    {
        var characters = PythonValues.Characters(text);
        return string.Concat(PythonValues.SliceIndices(characters.Count, start, stop, step).Select(i => characters[i]));
    }
}

/// <summary>Python's operators on template values: arithmetic, <c>~</c>, comparisons, <c>in</c>, unary minus and <c>not</c>.</summary>
internal static class Operators
{
    public static object? Unary(string op, object? value)
    {
        if (op == "not") return !PythonValues.IsTrue(value);
        if (value is Undefined undefined) throw new JinjaRuntimeError(undefined.Description);
        return (op, value) switch
        {
            ("-", long l) => checked(-l),
            ("-", double d) => -d,
            ("-", bool b) => b ? -1L : 0L,
            ("+", long or double) => value,
            ("+", bool b) => b ? 1L : 0L,
            _ => throw new JinjaRuntimeError($"bad operand type for unary {op}: '{PythonValues.TypeName(value)}'"),
        };
    }

    public static bool Compare(string op, object? left, object? right) => op switch
    {
        "==" => PythonValues.AreEqual(left, right),
        "!=" => !PythonValues.AreEqual(left, right),
        // Python's "x in Undefined" iterates an empty Undefined and is False; ordering an Undefined is an error.
        "in" => PythonValues.Contains(right, left),
        "not in" => !PythonValues.Contains(right, left),
        "<" => PythonValues.Compare(CheckDefined(left), CheckDefined(right), op) < 0,
        ">" => PythonValues.Compare(CheckDefined(left), CheckDefined(right), op) > 0,
        "<=" => PythonValues.Compare(CheckDefined(left), CheckDefined(right), op) <= 0,
        ">=" => PythonValues.Compare(CheckDefined(left), CheckDefined(right), op) >= 0,
        _ => throw new JinjaRuntimeError($"unknown comparison '{op}'"),
    };

    static object? CheckDefined(object? value) => value is Undefined undefined ? throw new JinjaRuntimeError(undefined.Description) : value;

    public static object? Binary(string op, object? left, object? right)
    {
        if (op == "~") return PythonValues.ToStr(left) + PythonValues.ToStr(right);
        if (left is Undefined a) throw new JinjaRuntimeError(a.Description);
        if (right is Undefined b) throw new JinjaRuntimeError(b.Description);
        if (IsNumber(left) && IsNumber(right)) return Arithmetic(op, left!, right!);
        switch (op, left, right)
        {
            case ("+", string x, string y): return x + y;
            case ("+", PyTuple x, PyTuple y): return new PyTuple([.. x, .. y]);
            case ("+", List<object?> x, List<object?> y) when x is not PyTuple && y is not PyTuple: return new List<object?>([.. x, .. y]);
            case ("*", string s, long or bool): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, AsLong(right))));
            case ("*", long or bool, string s): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, AsLong(left))));
            case ("*", List<object?> l, long or bool): return Enumerable.Repeat(l, (int)Math.Max(0, AsLong(right))).SelectMany(x => x).ToList();
            case ("%", string, _): throw new JinjaRuntimeError("printf-style formatting ('…' % value) is not supported; use ~ or format()");
        }
        if (op == "+" && left is string) throw new JinjaRuntimeError($"can only concatenate str (not \"{PythonValues.TypeName(right)}\") to str");
        if (op == "+" && left is List<object?>) throw new JinjaRuntimeError($"can only concatenate list (not \"{PythonValues.TypeName(right)}\") to list");
        throw new JinjaRuntimeError($"unsupported operand type(s) for {op}: '{PythonValues.TypeName(left)}' and '{PythonValues.TypeName(right)}'");
    }

    static bool IsNumber(object? value) => value is long or double or bool;

    static long AsLong(object? value) => value is bool b ? (b ? 1 : 0) : (long)value!;

    static object Arithmetic(string op, object left, object right)
    {
        if (left is double || right is double || op == "/")
        {
            double x = left is double dx ? dx : AsLong(left), y = right is double dy ? dy : AsLong(right);
            return op switch
            {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "/" => y == 0 ? throw new JinjaRuntimeError("division by zero") : x / y,
                "//" => y == 0 ? throw new JinjaRuntimeError("float floor division by zero") : Math.Floor(x / y),
                "%" => y == 0 ? throw new JinjaRuntimeError("float modulo") : x - y * Math.Floor(x / y),
                "**" => Math.Pow(x, y),
                _ => throw new JinjaRuntimeError($"unknown operator '{op}'"),
            };
        }
        long a = AsLong(left), b = AsLong(right);
        try
        {
            return op switch
            {
                "+" => (object)checked(a + b),
                "-" => checked(a - b),
                "*" => checked(a * b),
                "//" => b == 0 ? throw new JinjaRuntimeError("integer division or modulo by zero") : FloorDivide(a, b),
                "%" => b == 0 ? throw new JinjaRuntimeError("integer division or modulo by zero") : a - b * FloorDivide(a, b),
                "**" => b < 0 ? Math.Pow(a, b) : (object)IntegerPower(a, b),
                _ => throw new JinjaRuntimeError($"unknown operator '{op}'"),
            };
        }
        catch (OverflowException)
        {
            throw new JinjaRuntimeError($"integer overflow in {a} {op} {b} (Python would give a big integer)");
        }
    }

    static long FloorDivide(long a, long b) => a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);

    static long IntegerPower(long a, long b)
    {
        long result = 1;
        for (long i = 0; i < b; i++) result = checked(result * a);
        return result;
    }
}
