using System.Text;

namespace WeakToStrong.Tokenization.Jinja;

// Our own small Jinja2 interpreter for Hugging Face chat templates: no maintained Jinja engine for .NET is
// served here, and chat templates use a small, well-defined subset of the language. It follows Python Jinja 3.1
// as transformers configures it (ImmutableSandboxedEnvironment, trim_blocks=True, lstrip_blocks=True, loop
// controls, its own tojson, raise_exception and strftime_now). Files: JinjaLexer (text → tokens), JinjaParser
// (tokens → JinjaAst), JinjaEvaluator (statements and expressions), JinjaOperations (access and operators),
// JinjaFilters (filters and tests), PythonValues / PythonText / PythonMethods / PythonJson (the Python semantics of
// the values templates see). tests/fixtures/chat-templates checks it against Python jinja2 and @huggingface/jinja.
// Refused with a positioned error rather than guessed: include/extends/import/block, call blocks, raw, with, do,
// recursive loops, macro varargs/kwargs/caller, printf-style '%' on strings, format specs in str.format, \N{…}
// escapes. Known approximations: case mapping is .NET's simple one ("ß".upper() stays "ß"), integers are 64-bit.

internal enum TokenKind { Data, BlockBegin, BlockEnd, VariableBegin, VariableEnd, Name, String, Integer, Float, Operator, End }

/// <summary>A place in the template source, 1-based, for error messages.</summary>
internal readonly record struct SourcePosition(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

internal sealed record Token(TokenKind Kind, string Text, SourcePosition Position, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;
    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;
    public bool IsOperator(string op) => Kind == TokenKind.Operator && Text == op;
}

/// <summary>
/// Splits a template into data and tag tokens the way Jinja's lexer does, with trim_blocks and lstrip_blocks on:
/// newlines normalised to \n, one trailing newline dropped, <c>{%-</c>/<c>-%}</c> (and the <c>{{</c>, <c>{#</c> forms)
/// strip all whitespace on their side, a block or comment tag alone on its line loses the line's indentation, and
/// the newline right after a block or comment tag is removed; <c>+</c> turns those two off for one tag.
/// </summary>
internal sealed class JinjaLexer
{
    static readonly string[] Operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    readonly string _source;
    readonly string _templateName;
    readonly int[] _lineStarts;
    readonly List<Token> _tokens = [];
    int _pos;

    JinjaLexer(string source, string templateName)
    {
        // Jinja splits on \r\n, \r and \n and joins with \n; without keep_trailing_newline one final newline goes.
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        _source = source;
        _templateName = templateName;
        var starts = new List<int> { 0 };
        for (int i = 0; i < source.Length; i++) if (source[i] == '\n') starts.Add(i + 1);
        _lineStarts = [.. starts];
    }

    public static List<Token> Tokenize(string source, string templateName)
    {
        var lexer = new JinjaLexer(source, templateName);
        lexer.Run();
        return lexer._tokens;
    }

    SourcePosition PositionOf(int index)
    {
        int line = Array.BinarySearch(_lineStarts, index);
        if (line < 0) line = ~line - 1;
        return new SourcePosition(line + 1, index - _lineStarts[line] + 1);
    }

    InvalidInputException Error(int index, string message) => JinjaErrors.At(_templateName, PositionOf(index), message);

    void Run()
    {
        bool lineStarting = true;
        while (_pos < _source.Length)
        {
            int tag = NextTagStart(_pos);
            string text = _source[_pos..(tag < 0 ? _source.Length : tag)];
            int textStart = _pos;
            if (tag < 0)
            {
                AddData(text, textStart);
                break;
            }

            char kind = _source[tag + 1];
            char sign = tag + 2 < _source.Length ? _source[tag + 2] : '\0';
            if (sign == '-')
                text = PythonText.RStrip(text);
            else if (sign != '+' && kind != '{')
            {
                // lstrip_blocks: a block or comment tag preceded on its line only by whitespace takes that whitespace away.
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && text[lineStart..].All(PythonText.IsWhitespace))
                    text = text[..lineStart];
            }
            AddData(text, textStart);

            int afterOpen = tag + 2 + (sign is '-' or '+' ? 1 : 0);
            string consumedEnd = kind switch
            {
                '#' => SkipComment(tag, afterOpen),
                '%' => LexTag(tag, afterOpen, TokenKind.BlockBegin, "%}", TokenKind.BlockEnd, trimNewline: true),
                _ => LexTag(tag, afterOpen, TokenKind.VariableBegin, "}}", TokenKind.VariableEnd, trimNewline: false),
            };
            lineStarting = consumedEnd.EndsWith('\n');
        }
        _tokens.Add(new Token(TokenKind.End, "", PositionOf(_source.Length)));
    }

    int NextTagStart(int from)
    {
        for (int i = _source.IndexOf('{', from); i >= 0 && i + 1 < _source.Length; i = _source.IndexOf('{', i + 1))
            if (_source[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    void AddData(string text, int start)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Data, text, PositionOf(start)));
    }

    /// <summary>Skips <c>{# … #}</c>; returns what the closing tag consumed, so that the caller knows whether a line starts after it.</summary>
    string SkipComment(int tagStart, int contentStart)
    {
        int close = _source.IndexOf("#}", contentStart, StringComparison.Ordinal);
        if (close < 0) throw Error(tagStart, "the comment is not closed with #}");
        char sign = close > contentStart ? _source[close - 1] : '\0';
        _pos = close + 2;
        return ConsumeAfterEnd(close, sign, trimNewline: true);
    }

    /// <summary>After a closing tag: <c>-</c> eats all following whitespace; otherwise trim_blocks eats one newline (blocks and comments only).</summary>
    string ConsumeAfterEnd(int endStart, char sign, bool trimNewline)
    {
        int start = _pos;
        if (sign == '-')
            while (_pos < _source.Length && PythonText.IsWhitespace(_source[_pos])) _pos++;
        else if (sign != '+' && trimNewline && _pos < _source.Length && _source[_pos] == '\n')
            _pos++;
        return _source[endStart.._pos];
    }

    string LexTag(int tagStart, int contentStart, TokenKind beginKind, string close, TokenKind endKind, bool trimNewline)
    {
        _tokens.Add(new Token(beginKind, _source.Substring(tagStart, 2), PositionOf(tagStart)));
        _pos = contentStart;
        var brackets = new Stack<char>();
        while (true)
        {
            while (_pos < _source.Length && PythonText.IsWhitespace(_source[_pos])) _pos++;
            if (_pos >= _source.Length) throw Error(tagStart, $"the tag is not closed with {close}");

            // Like Jinja, an end marker inside open brackets is read as operators ({{ {'a': {'b': 1}} }}).
            if (brackets.Count == 0)
            {
                char sign = _source[_pos];
                int endAt = sign is '-' or '+' && Matches(_pos + 1, close) ? _pos + 1 : Matches(_pos, close) ? _pos : -1;
                if (endAt >= 0)
                {
                    if (endAt == _pos) sign = '\0';
                    if (sign == '+' && endKind == TokenKind.VariableEnd) throw Error(_pos, "unexpected '+' before }}");
                    _tokens.Add(new Token(endKind, close, PositionOf(_pos)));
                    int endStart = _pos;
                    _pos = endAt + 2;
                    return ConsumeAfterEnd(endStart, sign, trimNewline);
                }
            }
            LexExpressionToken(brackets);
        }
    }

    bool Matches(int at, string text) => at + text.Length <= _source.Length && string.CompareOrdinal(_source, at, text, 0, text.Length) == 0;

    void LexExpressionToken(Stack<char> brackets)
    {
        int start = _pos;
        char c = _source[_pos];
        if (char.IsLetter(c) || c == '_')
        {
            while (_pos < _source.Length && (char.IsLetterOrDigit(_source[_pos]) || _source[_pos] == '_')) _pos++;
            _tokens.Add(new Token(TokenKind.Name, _source[start.._pos], PositionOf(start)));
            return;
        }
        if (char.IsAsciiDigit(c))
        {
            LexNumber(start);
            return;
        }
        if (c is '\'' or '"')
        {
            _tokens.Add(new Token(TokenKind.String, "string", PositionOf(start), LexString(c, start)));
            return;
        }
        foreach (string op in Operators)
        {
            if (!Matches(_pos, op)) continue;
            if (op is "(" or "[" or "{") brackets.Push(op[0]);
            else if (op is ")" or "]" or "}")
            {
                char expected = op == ")" ? '(' : op == "]" ? '[' : '{';
                if (brackets.Count == 0 || brackets.Pop() != expected) throw Error(_pos, $"unexpected '{op}'");
            }
            _pos += op.Length;
            _tokens.Add(new Token(TokenKind.Operator, op, PositionOf(start)));
            return;
        }
        throw Error(_pos, $"unexpected character '{c}'");
    }

    void LexNumber(int start)
    {
        // Integers and floats as Jinja reads them: digits with optional '_' separators, a fraction, an exponent.
        void Digits() { while (_pos < _source.Length && (char.IsAsciiDigit(_source[_pos]) || _source[_pos] == '_' && _pos + 1 < _source.Length && char.IsAsciiDigit(_source[_pos + 1]))) _pos++; }
        Digits();
        bool isFloat = false;
        // A '.' and a digit make a float, except right after a '.' operator, where the number is an index ("x.0.1").
        bool afterDot = _tokens.Count > 0 && _tokens[^1].IsOperator(".");
        if (!afterDot && _pos + 1 < _source.Length && _source[_pos] == '.' && char.IsAsciiDigit(_source[_pos + 1]))
        {
            _pos++;
            Digits();
            isFloat = true;
        }
        if (!afterDot && _pos < _source.Length && _source[_pos] is 'e' or 'E')
        {
            int save = _pos;
            _pos++;
            if (_pos < _source.Length && _source[_pos] is '+' or '-') _pos++;
            if (_pos < _source.Length && char.IsAsciiDigit(_source[_pos])) { Digits(); isFloat = true; }
            else _pos = save;
        }
        string text = _source[start.._pos].Replace("_", "");
        var position = PositionOf(start);
        if (isFloat)
            _tokens.Add(new Token(TokenKind.Float, text, position, double.Parse(text, System.Globalization.CultureInfo.InvariantCulture)));
        else if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value))
            _tokens.Add(new Token(TokenKind.Integer, text, position, value));
        else throw Error(start, $"the integer {text} is too large");
    }

    /// <summary>A quoted string with Python's escapes (Jinja decodes literals with unicode-escape); unknown escapes stay as written.</summary>
    string LexString(char quote, int start)
    {
        var value = new StringBuilder();
        _pos++;
        while (true)
        {
            if (_pos >= _source.Length) throw Error(start, "the string is not closed");
            char c = _source[_pos++];
            if (c == quote) return value.ToString();
            if (c != '\\') { value.Append(c); continue; }
            if (_pos >= _source.Length) throw Error(start, "the string is not closed");
            char e = _source[_pos++];
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case 'a': value.Append('\a'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case '\n': break; // a backslash-newline continues the line
                case 'x': value.Append(HexEscape(2, start)); break;
                case 'u': value.Append(HexEscape(4, start)); break;
                case 'U': value.Append(HexEscape(8, start)); break;
                case >= '0' and <= '7':
                    int code = e - '0';
                    for (int i = 0; i < 2 && _pos < _source.Length && _source[_pos] is >= '0' and <= '7'; i++) code = code * 8 + (_source[_pos++] - '0');
                    value.Append(char.ConvertFromUtf32(code));
                    break;
                case 'N': throw Error(_pos - 2, "\\N{...} escapes are not supported");
                default: value.Append('\\').Append(e); break;
            }
        }
    }

    string HexEscape(int digits, int stringStart)
    {
        if (_pos + digits > _source.Length || !int.TryParse(_source.AsSpan(_pos, digits), System.Globalization.NumberStyles.HexNumber, null, out int code))
            throw Error(_pos - 2, $"a \\{_source[_pos - 1]} escape needs {digits} hexadecimal digits");
        _pos += digits;
        if (code > 0x10FFFF) throw Error(stringStart, $"escape \\U{code:X8} is not a Unicode code point");
        return code is >= 0xD800 and <= 0xDFFF ? ((char)code).ToString() : char.ConvertFromUtf32(code);
    }
}

/// <summary>Errors of a template, all as <see cref="InvalidInputException"/> naming the template and the place in it.</summary>
internal static class JinjaErrors
{
    public static InvalidInputException At(string templateName, SourcePosition position, string message) =>
        new($"{templateName}:{position}: {message}");
}
