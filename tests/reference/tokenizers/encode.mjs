// Golden token ids for the committed tokenizer fixtures, from an implementation independent of ours:
// @huggingface/transformers (transformers.js, pinned in package-lock.json), loading each directory offline.
//
//   (cd tests/reference && npm ci) && node tests/reference/tokenizers/encode.mjs            # rewrites tests/fixtures/tokenizers/hf-goldens.json
//   node encode.mjs OUTPUT.json                                            # writes elsewhere (the C# live test does this)
//
// Besides the committed directories, two variants are derived from mistral-7b-legacy in a temporary directory, by the
// JSON edits in `variants` below (the C# tests make the same edits): the Metaspace form that Mistral-7B-v0.1's current
// tokenizer.json uses (legacy = false), and a copy whose added tokens set lstrip / rstrip / normalized.
import { AutoTokenizer, env } from '@huggingface/transformers';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useBrowserCache = false;

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, '..', '..', 'fixtures', 'tokenizers');
const output = process.argv[2] ? path.resolve(process.argv[2]) : path.join(fixtures, 'hf-goldens.json');

const prompt = 'What are the names of some famous actors that started their careers on Broadway?';
const codePrompt = 'Fix this:\n```python\ndef f(x):\n\treturn x  **2 # square\n```\nThanks!';

// Texts every tokenizer sees: whitespace, numbers, punctuation, contractions, scripts, non-BMP characters.
const commonTexts = [
  '',
  'Hello world',
  ' Hello world',
  'Hello world ',
  '  leading, multiple   inner and trailing spaces   ',
  'line one\nline two\n\n\nline three\r\nend\n',
  '\ttabs\tand\t\tmore tabs\t',
  ' \n \t mixed whitespace \n\n',
  'Numbers: 0 7 42 123 4567 89012 1234567890 3.14159 1,000,000 2024-01-31 0x1F',
  'A long number: 123456789012345678901234567890 and -0.000001',
  'Hello, world! How are you? (fine) [ok] {yes} <tag> @#$%^&*_+=~`|\\/ "quoted" \'single\' ... -- —',
  "don't you'll we've I'm she'd they're it's",
  "DON'T YOU'LL WE'VE I'M SHE'D THEY'RE IT'S Don'T I'M",
  'héllo wörld, naïve café, Ελληνικά и русский текст, ñandú',
  'cafe\u0301 (decomposed) vs café',
  '你好，世界。日本語のテキスト、한국어 텍스트',
  'emoji: 😀 🦙 ❤️ 👨‍👩‍👧 🇫🇷 👍🏽',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐀𝐁𝐂 𐍈𐌰𐌹 𝟙𝟚𝟛 a😀b x𝔘y',
  'The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!',
  'def square(x):\n    return x ** 2  # comment\n',
  '<|user|> is plain text here, and so is [INST]',
];

const zephyrPrompt = (system, user) => `<|system|>\n${system}</s>\n<|user|>\n${user}</s>\n<|assistant|>\n`;

const sentencePieceTexts = [
  '</s>', '<s>', '<unk>', 'a</s>b', 'x <s> y', 'Hi</s>\n', ' </s> ', '<s><s></s>', '</s>Hello', 'Hello</s>',
  'text </s>  more\n</s>\ttab', '<s' + '/s>', '< /s>',
  `<|user|>\n${prompt}</s>\n<|assistant|>\n`,
  zephyrPrompt('You are a friendly chatbot.', codePrompt),
  `[INST] ${prompt} [/INST]`,
];

const llama3Texts = [
  '<|eot_id|>', '<|begin_of_text|>Hello', 'a<|eot_id|>b', 'x <|eot_id|> y', '<|eot_id|', '<|reserved_special_token_5|>',
  '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<s> and </s> are plain text for Llama-3',
];

function readJson(file) { return JSON.parse(fs.readFileSync(file, 'utf-8')); }

/** A temporary copy of a fixture directory with its tokenizer.json / tokenizer_config.json edited. */
function derive(fromName, edit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'w2s-tokenizer-'));
  const tokenizer = readJson(path.join(fixtures, fromName, 'tokenizer.json'));
  const config = readJson(path.join(fixtures, fromName, 'tokenizer_config.json'));
  edit(tokenizer, config);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

const variants = {
  // Mistral-7B-v0.1's tokenizer.json today: no normalizer, a Metaspace pre-tokenizer that prepends "▁" only at the
  // start of the text, legacy = false. Its vocabulary, merges, added tokens, post-processor and decoder are those of
  // mistral-7b-legacy.
  'mistral-7b-metaspace-first': () => derive('mistral-7b-legacy', (tokenizer, config) => {
    tokenizer.normalizer = null;
    tokenizer.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
    config.legacy = false;
  }),
  // Added-token flags: <s> swallows whitespace on both sides, </s> is matched in the normalized text.
  'mistral-7b-legacy-token-flags': () => derive('mistral-7b-legacy', (tokenizer, config) => {
    for (const token of [...tokenizer.added_tokens, ...Object.values(config.added_tokens_decoder)]) {
      if (token.content === '<s>') { token.lstrip = true; token.rstrip = true; }
      if (token.content === '</s>') token.normalized = true;
    }
  }),
};

const tokenizers = [
  { name: 'mistral-7b-legacy', dir: path.join(fixtures, 'mistral-7b-legacy'), texts: sentencePieceTexts },
  { name: 'mistral-7b-metaspace-first', variant: true, texts: sentencePieceTexts },
  { name: 'mistral-7b-legacy-token-flags', variant: true, texts: sentencePieceTexts },
  { name: 'meta-llama-3-8b-instruct', dir: path.join(fixtures, 'meta-llama-3-8b-instruct'), texts: llama3Texts, chat: true },
];

const result = {
  generator: `@huggingface/transformers ${env.version} (tests/reference/tokenizers/encode.mjs)`,
  note: 'ids: encode(text, add_special_tokens=false); ids_with_special_tokens: add_special_tokens=true; decoded: decode(ids_with_special_tokens) with the tokenizer_config.json defaults; decoded_skipping_special_tokens: decode(ids_with_special_tokens, skip_special_tokens=true)',
  tokenizers: {},
};

for (const spec of tokenizers) {
  const dir = spec.variant ? variants[spec.name]() : spec.dir;
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const texts = [...commonTexts, ...spec.texts];
  if (spec.chat) {
    texts.push(tokenizer.apply_chat_template(
      [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: prompt }],
      { tokenize: false, add_generation_prompt: true }));
    texts.push(tokenizer.apply_chat_template([{ role: 'user', content: codePrompt }], { tokenize: false, add_generation_prompt: true }));
  }
  const decode = (ids, options) => (ids.length === 0 ? '' : tokenizer.decode(ids, options));
  result.tokenizers[spec.name] = texts.map(text => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const withSpecial = tokenizer.encode(text, { add_special_tokens: true });
    return {
      text,
      ids,
      ids_with_special_tokens: withSpecial,
      decoded: decode(withSpecial),
      decoded_skipping_special_tokens: decode(withSpecial, { skip_special_tokens: true }),
    };
  });
  if (spec.variant) fs.rmSync(dir, { recursive: true, force: true });
}

// One case per line keeps the file diffable.
const lines = ['{', `  "generator": ${JSON.stringify(result.generator)},`, `  "note": ${JSON.stringify(result.note)},`, '  "tokenizers": {'];
Object.entries(result.tokenizers).forEach(([name, cases], i, all) => {
  lines.push(`    ${JSON.stringify(name)}: [`);
  cases.forEach((c, j) => lines.push(`      ${JSON.stringify(c)}${j < cases.length - 1 ? ',' : ''}`));
  lines.push(`    ]${i < all.length - 1 ? ',' : ''}`);
});
lines.push('  }', '}', '');
fs.writeFileSync(output, lines.join('\n'));
console.log(`wrote ${output}: ${Object.entries(result.tokenizers).map(([n, c]) => `${n} ${c.length}`).join(', ')}`);
