// Transcribes one audio file through a ytcaption server with the official
// openai npm client, in every response_format, and prints the results as
// JSON. Usage: node transcribe.cjs BASE_URL API_KEY FILE
// (NODE_PATH must reach the installed openai package).
const fs = require('node:fs');
const mod = require('openai');
const OpenAI = mod.OpenAI || mod.default || mod;

async function main() {
  const [baseURL, apiKey, file] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10 * 60 * 1000 });
  const out = { formats: {} };
  for (const fmt of ['json', 'text', 'srt', 'verbose_json', 'vtt']) {
    const params = { file: fs.createReadStream(file), model: 'whisper-1', response_format: fmt, language: 'en', temperature: 0 };
    if (fmt === 'verbose_json') params.timestamp_granularities = ['word', 'segment'];
    out.formats[fmt] = await client.audio.transcriptions.create(params);
  }
  try {
    await client.audio.transcriptions.create({ file: fs.createReadStream(file), model: 'no-such-model' });
    out.unknownModel = null;
  } catch (e) {
    out.unknownModel = { status: e.status, type: e.type, code: e.code, param: e.param, message: e.message };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
