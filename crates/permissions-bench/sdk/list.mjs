// List every permission of the benchmark checkpoint through the official Node SDK.
//
// Usage: node list.mjs BASE_URL CHECKPOINT [MAX_ITEMS]
// Prints one JSON line like client-bench: sdk_version, items, requests, wall_ms (the
// listing only, after the import and the client's construction), cpu_ms,
// peak_rss_kib (this process's own high-water mark, read after the work: VmHWM of
// /proc/self/status, not resourceUsage().maxRSS, which Linux carries over from the
// pre-exec copy of the parent's memory).
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { VERSION } from 'openai/version';

function peakRssKib() {
  try {
    const line = readFileSync('/proc/self/status', 'ascii').split('\n').find((l) => l.startsWith('VmHWM:'));
    if (line) return Number(line.split(/\s+/)[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}

const LIMIT = 100;
const [baseURL, checkpoint, maxArg] = process.argv.slice(2);
const maxItems = maxArg === undefined ? Infinity : Number(maxArg);
// This SDK sends the admin key for these endpoints and refuses without one.
const client = new OpenAI({ apiKey: 'sk-bench', adminAPIKey: 'sk-admin-bench', baseURL, maxRetries: 0 });

const started = performance.now();
const cpuStarted = process.cpuUsage();
let items = 0;
for await (const _permission of client.fineTuning.checkpoints.permissions.list(checkpoint, { limit: LIMIT })) {
  items += 1;
  if (items >= maxItems) break;
}
const wallMs = performance.now() - started;
const cpu = process.cpuUsage(cpuStarted);
const cpuMs = (cpu.user + cpu.system) / 1e3;
const requests = Math.max(1, Math.ceil(items / LIMIT));
console.log(JSON.stringify({
  client: 'node-sdk',
  sdk_version: VERSION,
  task: 'list',
  items,
  requests,
  wall_ms: wallMs,
  us_per_request: (wallMs * 1e3) / requests,
  cpu_ms: cpuMs,
  cpu_us_per_request: (cpuMs * 1e3) / requests,
  peak_rss_kib: peakRssKib(),
}));
