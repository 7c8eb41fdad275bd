"""Renders the chat-template goldens with Python's Jinja2, set up as transformers sets it up for apply_chat_template.

    python3 tests/reference/chat_templates/render_python.py               # rewrites tests/fixtures/chat-templates/goldens.python.json
    python3 tests/reference/chat_templates/render_python.py --out FILE

Needs jinja2 >= 3.1 (Debian: apt-get install python3-jinja2), nothing else. This is the engine transformers renders
with, so where @huggingface/jinja (render.mjs) and this disagree, this one is what a Python user gets; the C# tests
check both and list the disagreements (python_differences.json beside the goldens).

The environment mirrors transformers' _compile_jinja_template: ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True) with loop controls and a {% generation %} tag that renders its body, tojson as json.dumps with
ensure_ascii=False, raise_exception and strftime_now (here on the fixed clock render.mjs uses). The render passes
messages, add_generation_prompt, tools=None, documents=None and the special tokens, as apply_chat_template does.
"""

import datetime
import json
import pathlib
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "fixtures" / "chat-templates"
CLOCK = datetime.datetime(2024, 7, 26, 10, 30, 0)


class Raised(Exception):
    pass


class GenerationTag(Extension):
    """transformers' {% generation %} tag, without the assistant-mask bookkeeping: the body is rendered as is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise Raised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return CLOCK.strftime(format)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, variables):
    try:
        return {"output": env.from_string(source).render(**variables)}
    except Raised as e:
        return {"raised": str(e)}
    except Exception as e:  # noqa: BLE001 - every other failure is recorded as the engine's error
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else FIXTURES / "goldens.python.json"
    read = lambda name: json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    env = environment()
    chats = []
    for template in read("templates.json"):
        source = (FIXTURES / template["file"]).read_text(encoding="utf-8")
        for conversation in read("conversations.json"):
            variables = {
                **template["special_tokens"],
                "messages": conversation["messages"],
                "add_generation_prompt": conversation["add_generation_prompt"],
                "tools": None,
                "documents": None,
            }
            chats.append({"template": template["name"], "conversation": conversation["name"], **render(env, source, variables)})
    snippets = [{"name": s["name"], **render(env, s["template"], s.get("variables", {}))} for s in read("snippets.json")]
    goldens = {"engine": f"jinja2 {jinja2.__version__}", "clock": CLOCK.isoformat() + "Z", "chats": chats, "snippets": snippets}
    out.write_text(json.dumps(goldens, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(chats)} chat renders, {len(snippets)} snippets")


if __name__ == "__main__":
    main()
