namespace WeakToStrong.Tokenization.Jinja;

// The syntax tree of a template. Every node keeps its source position so that runtime errors can name the place.

internal abstract record Node(SourcePosition Position);

// ---- statements ----

internal abstract record Statement(SourcePosition Position) : Node(Position);

/// <summary>Template text between tags, written out as is.</summary>
internal sealed record DataStatement(string Text, SourcePosition Position) : Statement(Position);

/// <summary><c>{{ expression }}</c>.</summary>
internal sealed record OutputStatement(Expression Value, SourcePosition Position) : Statement(Position);

internal sealed record IfStatement(IReadOnlyList<(Expression Test, IReadOnlyList<Statement> Body)> Branches, IReadOnlyList<Statement>? Else, SourcePosition Position) : Statement(Position);

/// <summary><c>{% for a, b in items if filter %} … {% else %} … {% endfor %}</c>.</summary>
internal sealed record ForStatement(IReadOnlyList<string> Targets, Expression Iterable, Expression? Filter, IReadOnlyList<Statement> Body, IReadOnlyList<Statement>? Else, SourcePosition Position) : Statement(Position);

/// <summary><c>{% set a = … %}</c>, <c>{% set a, b = … %}</c> or <c>{% set ns.attr = … %}</c>.</summary>
internal sealed record SetStatement(AssignTarget Target, Expression Value, SourcePosition Position) : Statement(Position);

/// <summary><c>{% set name %}…{% endset %}</c>: the rendered body, optionally through filters.</summary>
internal sealed record SetBlockStatement(AssignTarget Target, IReadOnlyList<Statement> Body, IReadOnlyList<FilterExpression> Filters, SourcePosition Position) : Statement(Position);

internal sealed record AssignTarget(IReadOnlyList<string> Names, string? Attribute);

internal sealed record MacroStatement(string Name, IReadOnlyList<(string Name, Expression? Default)> Parameters, IReadOnlyList<Statement> Body, SourcePosition Position) : Statement(Position);

/// <summary><c>{% filter upper %}…{% endfilter %}</c>.</summary>
internal sealed record FilterBlockStatement(IReadOnlyList<FilterExpression> Filters, IReadOnlyList<Statement> Body, SourcePosition Position) : Statement(Position);

/// <summary>transformers' <c>{% generation %}…{% endgeneration %}</c>: marks assistant text for masks; rendering just writes the body.</summary>
internal sealed record GenerationStatement(IReadOnlyList<Statement> Body, SourcePosition Position) : Statement(Position);

internal sealed record BreakStatement(SourcePosition Position) : Statement(Position);

internal sealed record ContinueStatement(SourcePosition Position) : Statement(Position);

// ---- expressions ----

internal abstract record Expression(SourcePosition Position) : Node(Position);

internal sealed record ConstantExpression(object? Value, SourcePosition Position) : Expression(Position);

internal sealed record NameExpression(string Name, SourcePosition Position) : Expression(Position);

internal sealed record ListExpression(IReadOnlyList<Expression> Items, bool IsTuple, SourcePosition Position) : Expression(Position);

internal sealed record DictExpression(IReadOnlyList<(Expression Key, Expression Value)> Items, SourcePosition Position) : Expression(Position);

/// <summary><c>obj.name</c>: attribute first, then item (Jinja's getattr).</summary>
internal sealed record AttributeExpression(Expression Target, string Name, SourcePosition Position) : Expression(Position);

/// <summary><c>obj[key]</c>: item first, then attribute (Jinja's getitem).</summary>
internal sealed record ItemExpression(Expression Target, Expression Key, SourcePosition Position) : Expression(Position);

internal sealed record SliceExpression(Expression Target, Expression? Start, Expression? Stop, Expression? Step, SourcePosition Position) : Expression(Position);

internal sealed record Arguments(IReadOnlyList<Expression> Positional, IReadOnlyList<(string Name, Expression Value)> Keywords)
{
    public static readonly Arguments None = new([], []);
}

internal sealed record CallExpression(Expression Callee, Arguments Arguments, SourcePosition Position) : Expression(Position);

/// <summary><c>value | name(args)</c>; <see cref="Value"/> is null inside a filter block or set block, where the body is the input.</summary>
internal sealed record FilterExpression(Expression? Value, string Name, Arguments Arguments, SourcePosition Position) : Expression(Position);

/// <summary><c>value is [not] name(args)</c>.</summary>
internal sealed record TestExpression(Expression Value, string Name, Arguments Arguments, bool Negated, SourcePosition Position) : Expression(Position);

/// <summary>Unary <c>not</c>, <c>-</c>, <c>+</c>.</summary>
internal sealed record UnaryExpression(string Operator, Expression Operand, SourcePosition Position) : Expression(Position);

/// <summary>Arithmetic and <c>~</c>.</summary>
internal sealed record BinaryExpression(string Operator, Expression Left, Expression Right, SourcePosition Position) : Expression(Position);

/// <summary><c>and</c> / <c>or</c>, which short-circuit and return an operand, as in Python.</summary>
internal sealed record LogicalExpression(string Operator, Expression Left, Expression Right, SourcePosition Position) : Expression(Position);

/// <summary>A chain <c>a &lt; b == c in d</c>, Python style: each pair compared, all must hold.</summary>
internal sealed record CompareExpression(Expression First, IReadOnlyList<(string Operator, Expression Operand)> Rest, SourcePosition Position) : Expression(Position);

/// <summary><c>then if test else otherwise</c>; without <c>else</c> the value is undefined when the test fails.</summary>
internal sealed record ConditionalExpression(Expression Test, Expression Then, Expression? Otherwise, SourcePosition Position) : Expression(Position);
