// Run a list-grant-revoke job through the official Node SDK with its default retries.
//
// Usage: node throttle_job.mjs BASE_URL CHECKPOINT GRANTS REVOKES
// The job, in order, stopping at the first exception: list every permission of
// CHECKPOINT (auto-paginating, 100 a page), remembering the ids; grant GRANTS new
// projects proj_bench_000000.. in batches of 100 per create call; revoke the first
// REVOKES ids listed, one delete call each. Unlike list.mjs the client keeps the SDK's
// default retry settings: the point is to see how far they carry a job through a
// throttled admin API. Prints one JSON line: client, completed, listed, granted,
// revoked, wall_ms (from the start of the listing to the end or the failure), error
// (null, or the exception's class name and the first line of its message, at most
// 200 characters). Exits 0 whether or not the job completed; 2 on bad arguments.
import OpenAI from 'openai';

const LIMIT = 100;
const BATCH = 100;

function usage() {
  console.error('usage: node throttle_job.mjs BASE_URL CHECKPOINT GRANTS REVOKES');
  process.exit(2);
}

function countArg(text) {
  if (!/^\+?\d+$/.test(text.trim())) usage();
  return Number(text);
}

function describe(error) {
  const name = error?.constructor?.name ?? typeof error;
  const message = error instanceof Error ? error.message : String(error);
  const first = (message ?? '').split(/\r?\n/)[0];
  return (first ? `${name}: ${first}` : name).slice(0, 200);
}

const args = process.argv.slice(2);
if (args.length !== 4 || !args[0] || !args[1]) usage();
const [baseURL, checkpoint] = args;
const grants = countArg(args[2]);
const revokes = countArg(args[3]);
// This SDK sends the admin key for these endpoints and refuses without one.
// No maxRetries: the SDK's defaults are what this benchmark measures.
const client = new OpenAI({ apiKey: 'sk-bench', adminAPIKey: 'sk-admin-bench', baseURL });
const permissions = client.fineTuning.checkpoints.permissions;

let listed = 0;
let granted = 0;
let revoked = 0;
const ids = [];
let error = null;
const started = performance.now();
try {
  for await (const permission of permissions.list(checkpoint, { limit: LIMIT })) {
    listed += 1;
    ids.push(permission.id);
  }
  for (let first = 0; first < grants; first += BATCH) {
    const projectIds = [];
    for (let i = first; i < Math.min(first + BATCH, grants); i += 1) {
      projectIds.push(`proj_bench_${String(i).padStart(6, '0')}`);
    }
    const page = await permissions.create(checkpoint, { project_ids: projectIds });
    granted += page.data.length;
  }
  for (const permissionId of ids.slice(0, revokes)) {
    await permissions.delete(permissionId, { fine_tuned_model_checkpoint: checkpoint });
    revoked += 1;
  }
} catch (caught) {
  error = describe(caught);
}
const wallMs = performance.now() - started;
console.log(JSON.stringify({
  client: 'node-sdk',
  completed: error === null,
  listed,
  granted,
  revoked,
  wall_ms: wallMs,
  error,
}));
