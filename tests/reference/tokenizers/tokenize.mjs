// Token ids from @huggingface/transformers (transformers.js, pinned in package-lock.json) for texts given as JSON, so
// that a reference computed elsewhere (tests/reference/scoring_reference.py) tokenizes with neither our C# tokenizer
// nor anything it shares code with.
//
//   node tokenize.mjs < REQUEST.json > RESPONSE.json
//
// REQUEST:  {"<tokenizer directory>": ["text", ...], ...}
// RESPONSE: {"generator": "...", "tokenizers": {"<directory>": {"eos_token_id": N, "ids": [[...], ...]}}}
// Each text is encoded as the reference implementation encodes prompts and responses: add_special_tokens = false
// (added tokens written in the text, such as "</s>", are still matched). Directories load offline.
import { AutoTokenizer, env } from '@huggingface/transformers';
import fs from 'node:fs';
import path from 'node:path';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useBrowserCache = false;

const request = JSON.parse(fs.readFileSync(0, 'utf-8'));
const tokenizers = {};
for (const [directory, texts] of Object.entries(request)) {
  const tokenizer = await AutoTokenizer.from_pretrained(path.resolve(directory), { local_files_only: true });
  if (tokenizer.eos_token_id === undefined || tokenizer.eos_token_id === null) throw new Error(`${directory}: no eos_token`);
  tokenizers[directory] = {
    eos_token_id: tokenizer.eos_token_id,
    ids: texts.map(text => tokenizer.encode(text, { add_special_tokens: false })),
  };
}
process.stdout.write(JSON.stringify({ generator: `@huggingface/transformers ${env.version} (tests/reference/tokenizers/tokenize.mjs)`, tokenizers }));
