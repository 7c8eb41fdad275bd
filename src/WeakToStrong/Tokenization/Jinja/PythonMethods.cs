using System.Text;

namespace WeakToStrong.Tokenization.Jinja;

/// <summary>
/// The Python methods templates call on their values: str methods (<c>content.strip()</c>, <c>role.title()</c>,
/// <c>text.split('&lt;/think&gt;')</c>, …), dict methods (<c>.items()</c>, <c>.get()</c>, <c>.keys()</c>, <c>.values()</c>)
/// and the two non-mutating list methods. An unknown method is an undefined attribute, as in Jinja.
/// </summary>
internal static class PythonMethods
{
    public static bool TryBind(object? target, string name, out JinjaCallable? method)
    {
        Func<CallArguments, object?>? body = target switch
        {
            string s => StringMethod(s, name),
            PyDict d => DictMethod(d, name),
            List<object?> l => ListMethod(l, name),
            _ => null,
        };
        method = body is null ? null : new JinjaCallable($"{PythonValues.TypeName(target)}.{name}", body);
        return method is not null;
    }

    static string? OptionalString(object? value, string what) => value switch
    {
        null => null,
        string s => s,
        _ => throw new JinjaRuntimeError($"{what} must be str or None, not {PythonValues.TypeName(value)}"),
    };

    static string RequiredString(object? value, string what) =>
        value as string ?? throw new JinjaRuntimeError($"{what} must be str, not {PythonValues.TypeName(value)}");

    static long Integer(object? value, string what) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new JinjaRuntimeError($"{what} must be an integer, not {PythonValues.TypeName(value)}"),
    };

    static Func<CallArguments, object?>? StringMethod(string s, string name) => name switch
    {
        "strip" => a => PythonText.Strip(s, OptionalString(a.Allow(1).Get(0, "chars"), "strip arg")),
        "lstrip" => a => PythonText.LStrip(s, OptionalString(a.Allow(1).Get(0, "chars"), "lstrip arg")),
        "rstrip" => a => PythonText.RStrip(s, OptionalString(a.Allow(1).Get(0, "chars"), "rstrip arg")),
        "upper" => a => { a.Allow(0); return PythonText.Upper(s); },
        "lower" => a => { a.Allow(0); return PythonText.Lower(s); },
        "title" => a => { a.Allow(0); return PythonText.PythonTitle(s); },
        "capitalize" => a => { a.Allow(0); return PythonText.Capitalize(s); },
        "startswith" => a => Affix(s, a.Allow(1).Required(0, "prefix"), (text, affix) => text.StartsWith(affix, StringComparison.Ordinal), "startswith"),
        "endswith" => a => Affix(s, a.Allow(1).Required(0, "suffix"), (text, affix) => text.EndsWith(affix, StringComparison.Ordinal), "endswith"),
        "split" => a => PythonText.Split(s, OptionalString(a.Allow(2, "sep", "maxsplit").Get(0, "sep"), "sep"), Integer(a.Get(1, "maxsplit", -1L), "maxsplit")),
        "rsplit" => a => PythonText.RSplit(s, OptionalString(a.Allow(2, "sep", "maxsplit").Get(0, "sep"), "sep"), Integer(a.Get(1, "maxsplit", -1L), "maxsplit")),
        "splitlines" => a => { a.Allow(0); return PythonText.SplitLines(s).Cast<object?>().ToList(); },
        "replace" => a => PythonText.Replace(s, RequiredString(a.Allow(3, "count").Required(0, "old"), "replace() old"),
            RequiredString(a.Required(1, "new"), "replace() new"), Integer(a.Get(2, "count", -1L), "count")),
        "join" => a => string.Join(s, PythonValues.Iterate(a.Allow(1).Required(0, "iterable")).Select(item =>
            item as string ?? throw new JinjaRuntimeError($"sequence item: expected str instance, {PythonValues.TypeName(item)} found"))),
        "find" => a => (long)CodePointIndex(s, s.IndexOf(RequiredString(a.Allow(1).Required(0, "sub"), "find() arg"), StringComparison.Ordinal)),
        "rfind" => a => (long)CodePointIndex(s, s.LastIndexOf(RequiredString(a.Allow(1).Required(0, "sub"), "rfind() arg"), StringComparison.Ordinal)),
        "count" => a => (long)CountOccurrences(s, RequiredString(a.Allow(1).Required(0, "sub"), "count() arg")),
        "isdigit" => a => { a.Allow(0); return s.Length > 0 && s.All(char.IsDigit); },
        "isalpha" => a => { a.Allow(0); return s.Length > 0 && s.All(char.IsLetter); },
        "isalnum" => a => { a.Allow(0); return s.Length > 0 && s.All(char.IsLetterOrDigit); },
        "isspace" => a => { a.Allow(0); return s.Length > 0 && s.All(PythonText.IsWhitespace); },
        "islower" => a => { a.Allow(0); return s.Any(char.IsLower) && !s.Any(char.IsUpper); },
        "isupper" => a => { a.Allow(0); return s.Any(char.IsUpper) && !s.Any(char.IsLower); },
        "format" => a => Format(s, a),
        _ => null,
    };

    static int CodePointIndex(string s, int utf16Index) => utf16Index <= 0 ? utf16Index : PythonValues.Length(s[..utf16Index]);

    static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return PythonValues.Length(s) + 1;
        int count = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    /// <summary>startswith/endswith take a string or a tuple of strings.</summary>
    static bool Affix(string s, object? affix, Func<string, string, bool> test, string method) => affix switch
    {
        string one => test(s, one),
        PyTuple many => many.Any(item => test(s, RequiredString(item, $"{method} tuple item"))),
        _ => throw new JinjaRuntimeError($"{method} first arg must be str or a tuple of str, not {PythonValues.TypeName(affix)}"),
    };

    /// <summary><c>str.format</c> with <c>{}</c>, <c>{0}</c>, <c>{name}</c> and <c>{{</c>/<c>}}</c>; format specs are not supported.</summary>
    static string Format(string format, CallArguments args)
    {
        var sb = new StringBuilder();
        int automatic = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}') { sb.Append('}'); i++; continue; }
                throw new JinjaRuntimeError("Single '}' encountered in format string");
            }
            if (c != '{') { sb.Append(c); continue; }
            if (i + 1 < format.Length && format[i + 1] == '{') { sb.Append('{'); i++; continue; }
            int close = format.IndexOf('}', i);
            if (close < 0) throw new JinjaRuntimeError("Single '{' encountered in format string");
            string field = format[(i + 1)..close];
            if (field.Contains(':') || field.Contains('!')) throw new JinjaRuntimeError($"format field '{{{field}}}': format specs and conversions are not supported");
            object? value;
            if (field.Length == 0) value = automatic < args.Positional.Count ? args.Positional[automatic++] : throw new JinjaRuntimeError($"Replacement index {automatic} out of range for positional args tuple");
            else if (int.TryParse(field, out int index)) value = index < args.Positional.Count ? args.Positional[index] : throw new JinjaRuntimeError($"Replacement index {index} out of range for positional args tuple");
            else value = args.Keywords.FirstOrDefault(k => k.Name == field) is { Name: not null } kw ? kw.Value : throw new JinjaRuntimeError($"KeyError: '{field}'");
            sb.Append(PythonValues.ToStr(value));
            i = close;
        }
        return sb.ToString();
    }

    static Func<CallArguments, object?>? DictMethod(PyDict d, string name) => name switch
    {
        "items" => a => { a.Allow(0); return d.Select(p => (object?)new PyTuple([PyDict.FromKey(p.Key), p.Value])).ToList(); },
        "keys" => a => { a.Allow(0); return d.Keys.Select(PyDict.FromKey).ToList(); },
        "values" => a => { a.Allow(0); return d.Values.ToList(); },
        "get" => a =>
        {
            a.Allow(2);
            var key = a.Required(0, "key");
            return d.TryGetValue(PyDict.Key(key), out var value) ? value : a.Get(1, "default");
        },
        _ => null,
    };

    static Func<CallArguments, object?>? ListMethod(List<object?> l, string name) => name switch
    {
        "count" => a => (long)l.Count(item => PythonValues.AreEqual(item, a.Allow(1).Required(0, "value"))),
        "index" => a =>
        {
            var wanted = a.Allow(1).Required(0, "value");
            int at = l.FindIndex(item => PythonValues.AreEqual(item, wanted));
            return at >= 0 ? (long)at : throw new JinjaRuntimeError($"{PythonValues.Repr(wanted)} is not in list");
        },
        _ => null,
    };
}
