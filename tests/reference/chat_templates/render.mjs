// Renders every (chat template, conversation) pair and every engine snippet with Hugging Face's own JavaScript Jinja
// engine, @huggingface/jinja (the one the Hub uses to show chat templates), and writes the goldens the C# tests
// compare against byte for byte.
//
//   cd tests/reference && npm ci                     # installs the pinned @huggingface/jinja into node_modules/
//   node tests/reference/chat_templates/render.mjs   # rewrites tests/fixtures/chat-templates/goldens.json
//   node tests/reference/chat_templates/render.mjs --out FILE
//
// Inputs (tests/fixtures/chat-templates/): templates.json (each template's file and special tokens),
// conversations.json, snippets.json (small templates with their variables, for filters, tests and statements).
// The render passes what transformers' apply_chat_template passes: messages, add_generation_prompt, tools=None,
// documents=None and the special tokens. strftime_now sees a fixed clock, 2024-07-26 10:30:00 UTC, so that the
// goldens do not depend on the day they were made. A template error is recorded instead of an output: "raised"
// for raise_exception(message), "error" for anything else.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Environment, Template } from "@huggingface/jinja";

process.env.TZ = "UTC";
const FIXED_NOW = Date.UTC(2024, 6, 26, 10, 30, 0);
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(FIXED_NOW);
    else super(...args);
  }
  static now() {
    return FIXED_NOW;
  }
};

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, "../../fixtures/chat-templates");
const outIndex = process.argv.indexOf("--out");
const outPath = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(fixtures, "goldens.json");

const read = (name) => JSON.parse(fs.readFileSync(path.join(fixtures, name), "utf8"));
const templates = read("templates.json");
const conversations = read("conversations.json");
const snippets = read("snippets.json");

class Raised extends Error {}

// The engine's own raise_exception throws a plain Error; this one is told apart so that the goldens can say which
// errors the template raised on purpose (their message is the template's) and which came from the engine.
const declare = Environment.prototype.set;
Environment.prototype.set = function (name, value) {
  if (name === "raise_exception") {
    value = (message) => {
      throw new Raised(String(message));
    };
  }
  return declare.call(this, name, value);
};

function render(source, variables) {
  try {
    const template = new Template(source);
    const output = template.render(variables);
    return { output };
  } catch (e) {
    return e instanceof Raised ? { raised: e.message } : { error: String(e.message ?? e) };
  }
}

const chats = [];
for (const template of templates) {
  const source = fs.readFileSync(path.join(fixtures, template.file), "utf8");
  for (const conversation of conversations) {
    chats.push({
      template: template.name,
      conversation: conversation.name,
      ...render(source, {
        messages: conversation.messages,
        add_generation_prompt: conversation.add_generation_prompt,
        tools: null,
        documents: null,
        ...template.special_tokens,
      }),
    });
  }
}

const snippetResults = snippets.map((snippet) => ({ name: snippet.name, ...render(snippet.template, snippet.variables ?? {}) }));

const packageJson = JSON.parse(fs.readFileSync(path.join(here, "../node_modules/@huggingface/jinja/package.json"), "utf8"));
const goldens = { engine: `@huggingface/jinja ${packageJson.version}`, clock: "2024-07-26T10:30:00Z", chats, snippets: snippetResults };
fs.writeFileSync(outPath, JSON.stringify(goldens, null, 2) + "\n");
console.log(`${outPath}: ${chats.length} chat renders, ${snippetResults.length} snippets`);
