// Builds tests/fixtures/tokenizers/gpt2-json/tokenizer.json, the Hugging Face tokenizers ("fast") form of GPT-2,
// from the committed vocab.json + merges.txt, with HF's GPT-2 pre-tokenizer, decoder and <|endoftext|> added token.
// Merges are written as [a, b] pairs (tokenizers >= 0.20); the tests derive the older "a b" form from it.
//
//   node tests/reference/make_gpt2_tokenizer_json.js
const fs = require('fs');
const path = require('path');
const fixtures = path.join(__dirname, '..', 'fixtures', 'tokenizers');
const vocab = JSON.parse(fs.readFileSync(path.join(fixtures, 'gpt2', 'vocab.json'), 'utf-8'));
const merges = fs.readFileSync(path.join(fixtures, 'gpt2', 'merges.txt'), 'utf-8')
  .split('\n').filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith('#version')))
  .map(line => line.split(' '));

const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: byteLevel,
  post_processor: { ...byteLevel, trim_offsets: false },
  decoder: byteLevel,
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
};
const outDir = path.join(fixtures, 'gpt2-json');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(tokenizer) + '\n');
