// One completions call and one chat call against an OpenAI-compatible server through the official `openai` client;
// prints {completion, chat} as JSON. Usage: node tests/reference/openai_client.mjs BASE_URL MODEL PROMPT
import OpenAI from "openai";

const [baseURL, model, prompt] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused-by-wts-serve", maxRetries: 0, timeout: 60_000 });
const completion = await client.completions.create({ model, prompt, max_tokens: 12, temperature: 0, logprobs: 1, seed: 3 });
const chat = await client.chat.completions.create({ model, messages: [{ role: "user", content: prompt }], max_tokens: 12, temperature: 0 });
let refused;
try {
  await client.completions.create({ model, prompt, n: 0 });
} catch (error) {
  refused = { status: error.status, error: error.error };
}
console.log(JSON.stringify({ completion, chat, refused }));
