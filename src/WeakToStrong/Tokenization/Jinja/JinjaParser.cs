namespace WeakToStrong.Tokenization.Jinja;

/// <summary>
/// Recursive-descent parser from tokens to <see cref="JinjaAst"/> nodes, with Jinja's grammar and operator precedence
/// (loosest first): <c>x if c else y</c>, <c>or</c>, <c>and</c>, <c>not</c>, comparisons and <c>in</c>, <c>+ -</c>,
/// <c>~</c>, <c>* / // %</c>, <c>**</c>, unary <c>- +</c>, then postfix access, calls, filters and tests.
/// Tags outside the subset chat templates use (include, extends, call, raw, …) are reported with their position.
/// </summary>
internal sealed class JinjaParser
{
    static readonly HashSet<string> UnsupportedTags = ["extends", "block", "include", "import", "from", "call", "raw", "with", "do", "autoescape", "trans", "pluralize"];
    static readonly HashSet<string> ComparisonOperators = ["==", "!=", "<", ">", "<=", ">="];

    readonly List<Token> _tokens;
    readonly string _templateName;
    int _index;
    int _loopDepth;

    JinjaParser(List<Token> tokens, string templateName)
    {
        _tokens = tokens;
        _templateName = templateName;
    }

    public static IReadOnlyList<Statement> Parse(string source, string templateName)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source, templateName), templateName);
        var body = parser.ParseBody([], out _);
        return body;
    }

    Token Current => _tokens[_index];
    Token Peek(int offset = 1) => _tokens[Math.Min(_index + offset, _tokens.Count - 1)];
    Token Advance() => _tokens[_index++];

    InvalidInputException Error(Token at, string message) => JinjaErrors.At(_templateName, at.Position, message);

    static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the template",
        TokenKind.BlockEnd or TokenKind.VariableEnd => $"'{token.Text}'",
        TokenKind.String => "a string",
        TokenKind.Data => "template text",
        _ => $"'{token.Text}'",
    };

    Token Expect(TokenKind kind, string? text, string what)
    {
        var token = Current;
        if (token.Kind != kind || text is not null && token.Text != text)
            throw Error(token, $"expected {what}, found {Describe(token)}");
        return Advance();
    }

    void ExpectOperator(string op) => Expect(TokenKind.Operator, op, $"'{op}'");
    string ExpectName(string what) => Expect(TokenKind.Name, null, what).Text;
    void ExpectBlockEnd() => Expect(TokenKind.BlockEnd, null, "'%}'");

    bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        _index++;
        return true;
    }

    bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        _index++;
        return true;
    }

    // ---- statements ----

    /// <summary>Statements until a block tag whose name is in <paramref name="endTags"/>; that name is left as the current token.</summary>
    List<Statement> ParseBody(HashSet<string> endTags, out Token? endTag)
    {
        var body = new List<Statement>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    if (endTags.Count > 0) throw Error(token, $"the template ended where {string.Join(" or ", endTags.Select(t => $"{{% {t} %}}"))} was expected");
                    endTag = null;
                    return body;
                case TokenKind.Data:
                    Advance();
                    body.Add(new DataStatement(token.Text, token.Position));
                    break;
                case TokenKind.VariableBegin:
                    Advance();
                    var value = ParseTuple(allowConditional: true);
                    Expect(TokenKind.VariableEnd, null, "'}}'");
                    body.Add(new OutputStatement(value, token.Position));
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek();
                    if (name.Kind == TokenKind.Name && endTags.Contains(name.Text))
                    {
                        Advance();
                        endTag = Advance();
                        return body;
                    }
                    Advance();
                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error(token, $"unexpected {Describe(token)}");
            }
        }
    }

    Statement ParseStatement()
    {
        var tag = Current;
        if (tag.Kind != TokenKind.Name) throw Error(tag, $"expected a tag name after '{{%', found {Describe(tag)}");
        Advance();
        switch (tag.Text)
        {
            case "if": return ParseIf(tag);
            case "for": return ParseFor(tag);
            case "set": return ParseSet(tag);
            case "macro": return ParseMacro(tag);
            case "filter": return ParseFilterBlock(tag);
            case "generation":
                ExpectBlockEnd();
                var body = ParseBody(["endgeneration"], out _);
                ExpectBlockEnd();
                return new GenerationStatement(body, tag.Position);
            case "break" or "continue":
                if (_loopDepth == 0) throw Error(tag, $"'{tag.Text}' outside a for loop");
                ExpectBlockEnd();
                return tag.Text == "break" ? new BreakStatement(tag.Position) : new ContinueStatement(tag.Position);
        }
        if (tag.Text is "elif" or "else" || tag.Text.StartsWith("end", StringComparison.Ordinal))
            throw Error(tag, $"unexpected '{{% {tag.Text} %}}' with no open block it could close");
        if (UnsupportedTags.Contains(tag.Text))
            throw Error(tag, $"unsupported construct '{{% {tag.Text} %}}' (chat templates are rendered by a Jinja subset; see Tokenization/Jinja)");
        throw Error(tag, $"unknown tag '{tag.Text}'");
    }

    IfStatement ParseIf(Token tag)
    {
        var branches = new List<(Expression, IReadOnlyList<Statement>)>();
        IReadOnlyList<Statement>? otherwise = null;
        var test = ParseTuple(allowConditional: true);
        while (true)
        {
            ExpectBlockEnd();
            var body = ParseBody(["elif", "else", "endif"], out var end);
            branches.Add((test, body));
            if (end!.Text == "elif")
            {
                test = ParseTuple(allowConditional: true);
                continue;
            }
            if (end.Text == "else")
            {
                ExpectBlockEnd();
                otherwise = ParseBody(["endif"], out _);
            }
            ExpectBlockEnd();
            return new IfStatement(branches, otherwise, tag.Position);
        }
    }

    ForStatement ParseFor(Token tag)
    {
        var targets = new List<string> { ExpectName("a loop variable") };
        while (SkipOperator(",")) targets.Add(ExpectName("a loop variable"));
        if (!SkipName("in")) throw Error(Current, $"expected 'in', found {Describe(Current)}");
        var iterable = ParseTuple(allowConditional: false);
        Expression? filter = SkipName("if") ? ParseExpression(allowConditional: true) : null;
        if (Current.IsName("recursive")) throw Error(Current, "unsupported construct: recursive for loops");
        ExpectBlockEnd();
        _loopDepth++;
        var body = ParseBody(["endfor", "else"], out var end);
        _loopDepth--;
        IReadOnlyList<Statement>? otherwise = null;
        if (end!.Text == "else")
        {
            ExpectBlockEnd();
            otherwise = ParseBody(["endfor"], out _);
        }
        ExpectBlockEnd();
        return new ForStatement(targets, iterable, filter, body, otherwise, tag.Position);
    }

    Statement ParseSet(Token tag)
    {
        var first = Current;
        var names = new List<string> { ExpectName("a variable name") };
        string? attribute = null;
        if (SkipOperator(".")) attribute = ExpectName("an attribute name");
        else while (SkipOperator(",")) names.Add(ExpectName("a variable name"));
        var target = new AssignTarget(names, attribute);
        if (SkipOperator("="))
        {
            var value = ParseTuple(allowConditional: true);
            ExpectBlockEnd();
            return new SetStatement(target, value, tag.Position);
        }
        if (attribute is not null || names.Count > 1) throw Error(first, "a block set ({% set x %}…{% endset %}) assigns one plain name");
        var filters = new List<FilterExpression>();
        while (SkipOperator("|")) filters.Add(ParseFilter(null));
        ExpectBlockEnd();
        var body = ParseBody(["endset"], out _);
        ExpectBlockEnd();
        return new SetBlockStatement(target, body, filters, tag.Position);
    }

    MacroStatement ParseMacro(Token tag)
    {
        string name = ExpectName("a macro name");
        ExpectOperator("(");
        var parameters = new List<(string, Expression?)>();
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0) ExpectOperator(",");
            if (Current.IsOperator(")")) break;
            string parameter = ExpectName("a parameter name");
            Expression? fallback = SkipOperator("=") ? ParseExpression(allowConditional: true) : null;
            if (fallback is null && parameters.Any(p => p.Item2 is not null))
                throw Error(Current, $"parameter '{parameter}' without a default follows one with a default");
            parameters.Add((parameter, fallback));
        }
        ExpectOperator(")");
        ExpectBlockEnd();
        int outerLoops = _loopDepth;
        _loopDepth = 0; // a loop around the definition does not make break legal inside the macro
        var body = ParseBody(["endmacro"], out _);
        _loopDepth = outerLoops;
        if (Current.Kind == TokenKind.Name && Current.Text == name) Advance();
        ExpectBlockEnd();
        return new MacroStatement(name, parameters, body, tag.Position);
    }

    FilterBlockStatement ParseFilterBlock(Token tag)
    {
        var filters = new List<FilterExpression> { ParseFilter(null) };
        while (SkipOperator("|")) filters.Add(ParseFilter(null));
        ExpectBlockEnd();
        var body = ParseBody(["endfilter"], out _);
        ExpectBlockEnd();
        return new FilterBlockStatement(filters, body, tag.Position);
    }

    // ---- expressions ----

    /// <summary>An expression, or a tuple when commas follow (<c>{% set a, b = 1, 2 %}</c>, <c>{{ a, b }}</c>).</summary>
    Expression ParseTuple(bool allowConditional)
    {
        var start = Current;
        var first = ParseExpression(allowConditional);
        if (!Current.IsOperator(",")) return first;
        var items = new List<Expression> { first };
        while (SkipOperator(","))
        {
            if (Current.Kind is TokenKind.BlockEnd or TokenKind.VariableEnd || Current.IsOperator(")")) break;
            items.Add(ParseExpression(allowConditional));
        }
        return new ListExpression(items, IsTuple: true, start.Position);
    }

    Expression ParseExpression(bool allowConditional = true)
    {
        var value = ParseOr();
        if (!allowConditional) return value;
        while (Current.IsName("if"))
        {
            var at = Advance();
            var test = ParseOr();
            Expression? otherwise = SkipName("else") ? ParseExpression() : null;
            value = new ConditionalExpression(test, value, otherwise, at.Position);
        }
        return value;
    }

    Expression ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var op = Advance();
            left = new LogicalExpression("or", left, ParseAnd(), op.Position);
        }
        return left;
    }

    Expression ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var op = Advance();
            left = new LogicalExpression("and", left, ParseNot(), op.Position);
        }
        return left;
    }

    Expression ParseNot()
    {
        if (Current.IsName("not"))
        {
            var op = Advance();
            return new UnaryExpression("not", ParseNot(), op.Position);
        }
        return ParseCompare();
    }

    Expression ParseCompare()
    {
        var first = ParseAdditive();
        var rest = new List<(string, Expression)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && ComparisonOperators.Contains(Current.Text))
                rest.Add((Advance().Text, ParseAdditive()));
            else if (Current.IsName("in"))
            {
                Advance();
                rest.Add(("in", ParseAdditive()));
            }
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                _index += 2;
                rest.Add(("not in", ParseAdditive()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpression(first, rest, first.Position);
    }

    Expression ParseAdditive()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Advance();
            left = new BinaryExpression(op.Text, left, ParseConcat(), op.Position);
        }
        return left;
    }

    Expression ParseConcat()
    {
        var left = ParseMultiplicative();
        while (Current.IsOperator("~"))
        {
            var op = Advance();
            left = new BinaryExpression("~", left, ParseMultiplicative(), op.Position);
        }
        return left;
    }

    Expression ParseMultiplicative()
    {
        var left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Advance();
            left = new BinaryExpression(op.Text, left, ParsePower(), op.Position);
        }
        return left;
    }

    Expression ParsePower()
    {
        var left = ParseUnary(withFilters: true);
        while (Current.IsOperator("**"))
        {
            var op = Advance();
            left = new BinaryExpression("**", left, ParseUnary(withFilters: true), op.Position);
        }
        return left;
    }

    Expression ParseUnary(bool withFilters)
    {
        Expression value;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Advance();
            value = new UnaryExpression(op.Text, ParseUnary(withFilters: false), op.Position);
        }
        else value = ParsePrimary();
        value = ParsePostfix(value);
        return withFilters ? ParseFiltersAndTests(value) : value;
    }

    Expression ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                Advance();
                return token.Text switch
                {
                    "true" or "True" => new ConstantExpression(true, token.Position),
                    "false" or "False" => new ConstantExpression(false, token.Position),
                    "none" or "None" => new ConstantExpression(null, token.Position),
                    _ => new NameExpression(token.Text, token.Position),
                };
            case TokenKind.String:
                // Adjacent literals concatenate, as in Python.
                var text = (string)Advance().Value!;
                while (Current.Kind == TokenKind.String) text += (string)Advance().Value!;
                return new ConstantExpression(text, token.Position);
            case TokenKind.Integer or TokenKind.Float:
                Advance();
                return new ConstantExpression(token.Value, token.Position);
            case TokenKind.Operator when token.Text == "(":
                Advance();
                if (SkipOperator(")")) return new ListExpression([], IsTuple: true, token.Position);
                var inner = ParseTuple(allowConditional: true);
                ExpectOperator(")");
                return inner;
            case TokenKind.Operator when token.Text == "[":
                Advance();
                var items = new List<Expression>();
                while (!Current.IsOperator("]"))
                {
                    if (items.Count > 0) ExpectOperator(",");
                    if (Current.IsOperator("]")) break;
                    items.Add(ParseExpression());
                }
                ExpectOperator("]");
                return new ListExpression(items, IsTuple: false, token.Position);
            case TokenKind.Operator when token.Text == "{":
                Advance();
                var pairs = new List<(Expression, Expression)>();
                while (!Current.IsOperator("}"))
                {
                    if (pairs.Count > 0) ExpectOperator(",");
                    if (Current.IsOperator("}")) break;
                    var key = ParseExpression();
                    ExpectOperator(":");
                    pairs.Add((key, ParseExpression()));
                }
                ExpectOperator("}");
                return new DictExpression(pairs, token.Position);
            default:
                throw Error(token, $"expected an expression, found {Describe(token)}");
        }
    }

    Expression ParsePostfix(Expression value)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                Advance();
                var name = Current;
                if (name.Kind == TokenKind.Name) value = new AttributeExpression(value, Advance().Text, token.Position);
                else if (name.Kind == TokenKind.Integer) value = new ItemExpression(value, new ConstantExpression(Advance().Value, name.Position), token.Position);
                else throw Error(name, $"expected an attribute name after '.', found {Describe(name)}");
            }
            else if (token.IsOperator("["))
            {
                Advance();
                value = ParseSubscript(value, token);
            }
            else if (token.IsOperator("("))
            {
                Advance();
                value = new CallExpression(value, ParseArguments(), token.Position);
            }
            else return value;
        }
    }

    Expression ParseSubscript(Expression target, Token open)
    {
        Expression? start = Current.IsOperator(":") ? null : ParseExpression();
        if (!SkipOperator(":"))
        {
            ExpectOperator("]");
            return new ItemExpression(target, start!, open.Position);
        }
        Expression? stop = Current.IsOperator("]") || Current.IsOperator(":") ? null : ParseExpression();
        Expression? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]")) step = ParseExpression();
        ExpectOperator("]");
        return new SliceExpression(target, start, stop, step, open.Position);
    }

    /// <summary>Call arguments after the opening parenthesis: positional ones, then <c>name=value</c> ones.</summary>
    Arguments ParseArguments()
    {
        var positional = new List<Expression>();
        var keywords = new List<(string, Expression)>();
        while (!Current.IsOperator(")"))
        {
            if (positional.Count + keywords.Count > 0) ExpectOperator(",");
            if (Current.IsOperator(")")) break;
            if (Current.IsOperator("*") || Current.IsOperator("**")) throw Error(Current, "unsupported construct: *args / **kwargs in a call");
            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                string name = Advance().Text;
                Advance();
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0) throw Error(Current, "a positional argument follows a keyword argument");
                positional.Add(ParseExpression());
            }
        }
        ExpectOperator(")");
        return new Arguments(positional, keywords);
    }

    Expression ParseFiltersAndTests(Expression value)
    {
        while (true)
        {
            if (SkipOperator("|")) value = ParseFilter(value);
            else if (Current.IsName("is")) value = ParseTest(value);
            else if (Current.IsOperator("(")) { var open = Advance(); value = new CallExpression(value, ParseArguments(), open.Position); }
            else return value;
        }
    }

    FilterExpression ParseFilter(Expression? value)
    {
        var nameToken = Current;
        string name = ExpectName("a filter name");
        while (Current.IsOperator(".") && Peek().Kind == TokenKind.Name) { Advance(); name += "." + Advance().Text; }
        var arguments = SkipOperator("(") ? ParseArguments() : Arguments.None;
        return new FilterExpression(value, name, arguments, nameToken.Position);
    }

    TestExpression ParseTest(Expression value)
    {
        var isToken = Advance();
        bool negated = SkipName("not");
        var nameToken = Current;
        string name;
        // "is none" / "is true" / "is false" are read as names, not constants.
        if (nameToken.Kind == TokenKind.Name) name = Advance().Text;
        else throw Error(nameToken, $"expected a test name after 'is', found {Describe(nameToken)}");
        while (Current.IsOperator(".") && Peek().Kind == TokenKind.Name) { Advance(); name += "." + Advance().Text; }
        Arguments arguments;
        if (SkipOperator("(")) arguments = ParseArguments();
        else if (Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                 || Current.IsOperator("[") || Current.IsOperator("{") || Current.IsOperator("-"))
        {
            // One argument without parentheses ("is divisibleby 3", "is equalto 'user'"), unless a keyword follows.
            if (Current.Kind == TokenKind.Name && Current.Text is "else" or "or" or "and" or "if" or "in" or "not" or "is")
                arguments = Arguments.None;
            else arguments = new Arguments([ParsePostfix(ParsePrimaryOrNegative())], []);
        }
        else arguments = Arguments.None;
        return new TestExpression(value, name, arguments, negated, isToken.Position);
    }

    Expression ParsePrimaryOrNegative()
    {
        if (!Current.IsOperator("-")) return ParsePrimary();
        var op = Advance();
        return new UnaryExpression("-", ParsePrimary(), op.Position);
    }
}
