using System.Text;

namespace WeakToStrong.Tokenization.Jinja;

/// <summary>A parsed template, rendered any number of times with different variables.</summary>
internal sealed class JinjaTemplate
{
    readonly IReadOnlyList<Statement> _body;

    JinjaTemplate(string name, IReadOnlyList<Statement> body)
    {
        Name = name;
        _body = body;
    }

    /// <summary>The source named in error messages: a file, or a file and the JSON key the template came from.</summary>
    public string Name { get; }

    /// <summary>Parses <paramref name="source"/>; syntax errors and unsupported constructs are reported as <c>name:line:column: …</c>.</summary>
    public static JinjaTemplate Parse(string source, string name) => new(name, JinjaParser.Parse(source, name));

    /// <summary>Renders with <paramref name="variables"/> (values as described in PythonValues.cs) on top of Jinja's globals.</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables) => new JinjaEvaluator(Name).Run(_body, variables);
}

/// <summary>Where a name is looked up: a for-loop iteration and a macro call get their own scope, an if does not (as in Jinja).</summary>
internal sealed class Scope(Scope? parent)
{
    readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
            if (scope._variables.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _variables[name] = value;

    public Scope? Parent { get; } = parent;
}

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopContext(List<object?> items, int index)
{
    public object? Get(string name) => name switch
    {
        "index0" => (long)index,
        "index" => (long)index + 1,
        "revindex0" => (long)(items.Count - index - 1),
        "revindex" => (long)(items.Count - index),
        "first" => index == 0,
        "last" => index == items.Count - 1,
        "length" => (long)items.Count,
        "previtem" => index > 0 ? items[index - 1] : Undefined.Name("loop.previtem"),
        "nextitem" => index < items.Count - 1 ? items[index + 1] : Undefined.Name("loop.nextitem"),
        "depth" => 1L,
        "depth0" => 0L,
        "cycle" => new JinjaCallable("loop.cycle", args =>
            args.Positional.Count == 0 ? throw new JinjaRuntimeError("no items for cycling given") : args.Positional[index % args.Positional.Count]),
        _ => Undefined.Member(this, name),
    };
}

/// <summary>Executes statements and evaluates expressions with Python Jinja's semantics (see PythonValues.cs).</summary>
internal sealed class JinjaEvaluator(string templateName)
{
    enum Flow { Normal, Break, Continue }

    public string TemplateName { get; } = templateName;

    public string Run(IReadOnlyList<Statement> body, IReadOnlyDictionary<string, object?> variables)
    {
        var globals = new Scope(null);
        foreach (var (name, value) in JinjaGlobals.Create()) globals.Set(name, value);
        var scope = new Scope(globals);
        foreach (var (name, value) in variables) scope.Set(name, value);
        var output = new StringBuilder();
        Execute(body, output, scope);
        return output.ToString();
    }

    InvalidInputException Error(Node at, string message) => JinjaErrors.At(TemplateName, at.Position, message);

    // ---- statements ----

    Flow Execute(IReadOnlyList<Statement> body, StringBuilder output, Scope scope)
    {
        foreach (var statement in body)
        {
            var flow = Execute(statement, output, scope);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    Flow Execute(Statement statement, StringBuilder output, Scope scope)
    {
        switch (statement)
        {
            case DataStatement data:
                output.Append(data.Text);
                return Flow.Normal;
            case OutputStatement print:
                output.Append(PythonValues.ToStr(Evaluate(print.Value, scope)));
                return Flow.Normal;
            case IfStatement branch:
                foreach (var (test, body) in branch.Branches)
                    if (PythonValues.IsTrue(Evaluate(test, scope))) return Execute(body, output, scope);
                return branch.Else is null ? Flow.Normal : Execute(branch.Else, output, scope);
            case ForStatement loop:
                ExecuteFor(loop, output, scope);
                return Flow.Normal;
            case SetStatement set:
                Assign(set.Target, Evaluate(set.Value, scope), scope, set);
                return Flow.Normal;
            case SetBlockStatement setBlock:
                var captured = new StringBuilder();
                Execute(setBlock.Body, captured, scope);
                Assign(setBlock.Target, ApplyFilters(setBlock.Filters, captured.ToString(), scope), scope, setBlock);
                return Flow.Normal;
            case MacroStatement macro:
                scope.Set(macro.Name, DefineMacro(macro, scope));
                return Flow.Normal;
            case FilterBlockStatement filterBlock:
                var body2 = new StringBuilder();
                var flow = Execute(filterBlock.Body, body2, scope);
                output.Append(PythonValues.ToStr(ApplyFilters(filterBlock.Filters, body2.ToString(), scope)));
                return flow;
            case GenerationStatement generation:
                return Execute(generation.Body, output, scope);
            case BreakStatement:
                return Flow.Break;
            case ContinueStatement:
                return Flow.Continue;
            default:
                throw Error(statement, $"cannot execute {statement.GetType().Name}");
        }
    }

    object? ApplyFilters(IReadOnlyList<FilterExpression> filters, object? value, Scope scope)
    {
        foreach (var filter in filters) value = ApplyFilter(filter, value, scope);
        return value;
    }

    void ExecuteFor(ForStatement loop, StringBuilder output, Scope scope)
    {
        List<object?> items;
        try { items = PythonValues.Iterate(Evaluate(loop.Iterable, scope)); }
        catch (JinjaRuntimeError e) { throw Error(loop.Iterable, e.Message); }

        if (loop.Filter is not null)
        {
            // "for x in xs if cond": the condition sees the loop variables (but no 'loop'); loop.length counts what passes.
            items = items.Where(item =>
            {
                var test = new Scope(scope);
                Bind(loop.Targets, item, test, loop);
                return PythonValues.IsTrue(Evaluate(loop.Filter, test));
            }).ToList();
        }
        for (int i = 0; i < items.Count; i++)
        {
            // Each iteration starts from the enclosing scope: a {% set %} in the body does not survive it.
            var iteration = new Scope(scope);
            Bind(loop.Targets, items[i], iteration, loop);
            iteration.Set("loop", new LoopContext(items, i));
            if (Execute(loop.Body, output, iteration) == Flow.Break) break;
        }
        if (items.Count == 0 && loop.Else is not null) Execute(loop.Else, output, scope);
    }

    void Bind(IReadOnlyList<string> names, object? value, Scope scope, Node at)
    {
        if (names.Count == 1)
        {
            scope.Set(names[0], value);
            return;
        }
        List<object?> parts;
        try { parts = PythonValues.Iterate(value is Undefined u ? throw new JinjaRuntimeError(u.Description) : value); }
        catch (JinjaRuntimeError e) { throw Error(at, $"cannot unpack: {e.Message}"); }
        if (parts.Count != names.Count)
            throw Error(at, parts.Count > names.Count ? $"too many values to unpack (expected {names.Count})" : $"not enough values to unpack (expected {names.Count}, got {parts.Count})");
        for (int i = 0; i < names.Count; i++) scope.Set(names[i], parts[i]);
    }

    void Assign(AssignTarget target, object? value, Scope scope, Node at)
    {
        if (target.Attribute is null)
        {
            Bind(target.Names, value, scope, at);
            return;
        }
        scope.TryGet(target.Names[0], out var owner);
        if (owner is not Namespace ns) throw Error(at, $"cannot assign attribute on non-namespace object ('{target.Names[0]}' is {PythonValues.TypeName(owner)})");
        ns.Attributes[target.Attribute] = value;
    }

    JinjaCallable DefineMacro(MacroStatement macro, Scope definitionScope) => new(macro.Name, args =>
    {
        var call = new Scope(definitionScope);
        if (args.Positional.Count > macro.Parameters.Count)
            throw new JinjaRuntimeError($"macro '{macro.Name}' takes not more than {macro.Parameters.Count} argument(s)");
        for (int i = 0; i < macro.Parameters.Count; i++)
        {
            var (name, fallback) = macro.Parameters[i];
            call.Set(name, args.Has(i, name) ? args.Get(i, name) : fallback is null ? Undefined.Name(name) : Evaluate(fallback, definitionScope));
        }
        foreach (var (name, _) in args.Keywords)
            if (!macro.Parameters.Any(p => p.Name == name)) throw new JinjaRuntimeError($"macro '{macro.Name}' takes no keyword argument '{name}'");
        var output = new StringBuilder();
        Execute(macro.Body, output, call);
        return output.ToString();
    });

    // ---- expressions ----

    public object? Evaluate(Expression expression, Scope scope)
    {
        try
        {
            return EvaluateCore(expression, scope);
        }
        catch (JinjaRuntimeError e)
        {
            throw Error(expression, e.Message);
        }
    }

    object? EvaluateCore(Expression expression, Scope scope)
    {
        switch (expression)
        {
            case ConstantExpression constant:
                return constant.Value;
            case NameExpression name:
                return scope.TryGet(name.Name, out var value) ? value : Undefined.Name(name.Name);
            case ListExpression list:
                var items = list.Items.Select(item => Evaluate(item, scope));
                return list.IsTuple ? new PyTuple(items) : items.ToList();
            case DictExpression dict:
                var result = new PyDict();
                foreach (var (key, item) in dict.Items) result[PyDict.Key(Evaluate(key, scope))] = Evaluate(item, scope);
                return result;
            case AttributeExpression attribute:
                return JinjaAccess.GetAttribute(Evaluate(attribute.Target, scope), attribute.Name);
            case ItemExpression item2:
                return JinjaAccess.GetItem(Evaluate(item2.Target, scope), Evaluate(item2.Key, scope));
            case SliceExpression slice:
                return JinjaAccess.Slice(Evaluate(slice.Target, scope),
                    SliceBound(slice.Start, scope), SliceBound(slice.Stop, scope), SliceBound(slice.Step, scope));
            case CallExpression call:
                return Call(Evaluate(call.Callee, scope), call.Arguments, scope);
            case FilterExpression filter:
                return ApplyFilter(filter, Evaluate(filter.Value!, scope), scope);
            case TestExpression test:
                bool passed = JinjaTests.Apply(test.Name, Evaluate(test.Value, scope), BindArguments($"test '{test.Name}'", test.Arguments, scope));
                return passed != test.Negated;
            case UnaryExpression unary:
                return Operators.Unary(unary.Operator, Evaluate(unary.Operand, scope));
            case BinaryExpression binary:
                return Operators.Binary(binary.Operator, Evaluate(binary.Left, scope), Evaluate(binary.Right, scope));
            case LogicalExpression logical:
                var left = Evaluate(logical.Left, scope);
                bool leftTrue = PythonValues.IsTrue(left);
                return logical.Operator == "and" ? (leftTrue ? Evaluate(logical.Right, scope) : left) : (leftTrue ? left : Evaluate(logical.Right, scope));
            case CompareExpression compare:
                var current = Evaluate(compare.First, scope);
                foreach (var (op, operand) in compare.Rest)
                {
                    var next = Evaluate(operand, scope);
                    if (!Operators.Compare(op, current, next)) return false;
                    current = next;
                }
                return true;
            case ConditionalExpression conditional:
                if (PythonValues.IsTrue(Evaluate(conditional.Test, scope))) return Evaluate(conditional.Then, scope);
                return conditional.Otherwise is null ? new Undefined("the inline if expression evaluated to false and no else section was defined") : Evaluate(conditional.Otherwise, scope);
            default:
                throw new JinjaRuntimeError($"cannot evaluate {expression.GetType().Name}");
        }
    }

    long? SliceBound(Expression? bound, Scope scope) => bound is null ? null : Evaluate(bound, scope) switch
    {
        null => null,
        long l => l,
        bool b => b ? 1 : 0,
        var other => throw new JinjaRuntimeError($"slice indices must be integers or None, not {PythonValues.TypeName(other)}"),
    };

    public CallArguments BindArguments(string callee, Arguments arguments, Scope scope) => new(callee,
        arguments.Positional.Select(a => Evaluate(a, scope)).ToList(),
        arguments.Keywords.Select(k => (k.Name, Evaluate(k.Value, scope))).ToList());

    object? Call(object? callee, Arguments arguments, Scope scope) => callee switch
    {
        JinjaCallable function => function.Invoke(BindArguments(function.Name, arguments, scope)),
        Undefined undefined => throw new JinjaRuntimeError(undefined.Description),
        _ => throw new JinjaRuntimeError($"'{PythonValues.TypeName(callee)}' object is not callable"),
    };

    object? ApplyFilter(FilterExpression filter, object? value, Scope scope) =>
        JinjaFilters.Apply(this, filter.Name, value, BindArguments(filter.Name, filter.Arguments, scope));
}

/// <summary>Jinja's own globals (transformers adds raise_exception and strftime_now; see ChatTemplate).</summary>
internal static class JinjaGlobals
{
    public static IEnumerable<(string Name, object? Value)> Create()
    {
        yield return ("range", new JinjaCallable("range", Range));
        yield return ("namespace", new JinjaCallable("namespace", MakeNamespace));
        yield return ("dict", new JinjaCallable("dict", args =>
        {
            args.Allow(0, [.. args.Keywords.Select(k => k.Name)]);
            var dict = new PyDict();
            foreach (var (key, value) in args.Keywords) dict[key] = value;
            return dict;
        }));
    }

    static object? Range(CallArguments args)
    {
        args.Allow(3);
        if (args.Positional.Count == 0) throw new JinjaRuntimeError("range expected at least 1 argument, got 0");
        var numbers = args.Positional.Select(v => v switch
        {
            long l => l,
            bool b => b ? 1L : 0L,
            _ => throw new JinjaRuntimeError($"'{PythonValues.TypeName(v)}' object cannot be interpreted as an integer"),
        }).ToArray();
        long start = numbers.Length == 1 ? 0 : numbers[0], stop = numbers.Length == 1 ? numbers[0] : numbers[1], step = numbers.Length == 3 ? numbers[2] : 1;
        if (step == 0) throw new JinjaRuntimeError("range() arg 3 must not be zero");
        var items = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            items.Add(i);
            if (items.Count > 100_000) throw new JinjaRuntimeError("range too big (more than 100000 items)");
        }
        return items;
    }

    static object? MakeNamespace(CallArguments args)
    {
        var ns = new Namespace();
        if (args.Positional.Count > 1) throw new JinjaRuntimeError($"namespace expected at most 1 argument, got {args.Positional.Count}");
        if (args.Positional.Count == 1)
        {
            if (args.Positional[0] is not PyDict initial) throw new JinjaRuntimeError("namespace() takes a dict as its positional argument");
            foreach (var (key, value) in initial)
                ns.Attributes[PyDict.FromKey(key) as string ?? throw new JinjaRuntimeError("namespace keys must be strings")] = value;
        }
        foreach (var (key, value) in args.Keywords) ns.Attributes[key] = value;
        return ns;
    }
}
