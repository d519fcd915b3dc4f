// Runs the official OpenAI Node SDK against a permissions emulator.
//
// Usage: node sdk_conformance.mjs BASE_URL ADMIN_KEY READ_ONLY_KEY OWNED_CHECKPOINT OWNER_PROJECT [SCRIPTED_429S]
//
// BASE_URL is the emulator's base URL (http://127.0.0.1:PORT/v1). The emulator must be
// fresh, know ADMIN_KEY with both scopes and READ_ONLY_KEY with the read scope only,
// and have OWNED_CHECKPOINT owned by OWNER_PROJECT. SCRIPTED_429S (0 to 2, default 0)
// is the number of 429 faults scripted for its next requests: the first call, made
// with two retries, must succeed after exactly that many retries. Exits 0 when every
// check passes and prints one JSON line {"requests": N, "checks": M} at the end, N
// being the number of HTTP requests the SDK sent (retries included).
import OpenAI from 'openai';

const CHECKPOINT = 'ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd';
const OTHER = 'ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:ckpt-step-88';
const ID = /^cp_[A-Za-z0-9]{24}$/;

let checks = 0;
let requestsSent = 0;

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  checks += 1;
}

const countingFetch = (url, init) => {
  requestsSent += 1;
  return fetch(url, init);
};

// This SDK sends the admin key for these endpoints (and refuses without one).
function makeClient(baseURL, adminKey, maxRetries = 0) {
  return new OpenAI({ apiKey: 'sk-unused', adminAPIKey: adminKey, baseURL, maxRetries, timeout: 30_000, fetch: countingFetch });
}

async function expectError(cls, status, what, call) {
  let error;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`${what}: expected ${cls.name}, got success`);
  if (!(error instanceof cls)) throw new Error(`${what}: expected ${cls.name}, got ${error?.constructor?.name}: ${error}`);
  check(error.status === status, `${what}: status ${error.status}`);
  check(typeof error.error === 'object' && typeof error.error.message === 'string', `${what}: body ${JSON.stringify(error.error)}`);
  check(typeof error.type === 'string', `${what}: error type`);
  check(typeof error.requestID === 'string' && error.requestID.startsWith('req_'), `${what}: request id ${error.requestID}`);
  return error;
}

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function main(baseURL, adminKey, readOnlyKey, ownedCheckpoint, ownerProject, scripted429s) {
  const client = makeClient(baseURL, adminKey);
  const permissions = client.fineTuning.checkpoints.permissions;

  // 1. Retries: the emulator answers the first requests 429 with retry-after-ms.
  const retrying = makeClient(baseURL, adminKey, 2);
  const fresh = await retrying.fineTuning.checkpoints.permissions.list(CHECKPOINT);
  check(fresh.data.length === 0, 'fresh emulator');
  check(requestsSent === scripted429s + 1, `${scripted429s} 429s retried: ${requestsSent} requests`);

  // 2. create: one permission per project, as one page that does not paginate.
  const projects = Array.from({ length: 25 }, (_, i) => `proj_${String(i).padStart(2, '0')}`);
  const created = await permissions.create(CHECKPOINT, { project_ids: projects });
  check(created.data.length === 25, `created ${created.data.length}`);
  check(created.data.map((p) => p.project_id).join() === projects.join(), 'created in request order');
  check(created.data.every((p) => ID.test(p.id)), 'ids look real');
  check(created.data.every((p) => p.object === 'checkpoint.permission' && p.created_at > 1_600_000_000), 'objects');
  check(!created.hasNextPage(), 'create does not paginate');
  const createdIds = created.data.map((p) => p.id);
  const again = await permissions.create(CHECKPOINT, { project_ids: ['proj_03'] });
  check(again.data.map((p) => p.id).join() === createdIds[3], 'duplicate grant returns the existing one');

  // 3. list: auto-pagination over three pages, in both orders; the project filter.
  const ascending = await permissions.list(CHECKPOINT, { limit: 10, order: 'ascending' });
  const pages = await collect(ascending.iterPages());
  check(pages.length === 3, `${pages.length} pages`);
  check(pages.map((p) => p.data.length).join() === '10,10,5', 'page sizes');
  const ascendingIds = (await collect(permissions.list(CHECKPOINT, { limit: 10, order: 'ascending' }))).map((p) => p.id);
  check(ascendingIds.join() === createdIds.join(), 'ascending order is creation order');
  const descendingIds = (await collect(permissions.list(CHECKPOINT, { limit: 10, order: 'descending' }))).map((p) => p.id);
  check(descendingIds.join() === [...createdIds].reverse().join(), 'descending is the reverse');
  const byDefault = await permissions.list(CHECKPOINT);
  check(byDefault.data.length === 10 && byDefault.data[0].id === createdIds[24], 'defaults: 10, descending');
  check(byDefault.hasNextPage(), 'default page has more');
  const filtered = await collect(permissions.list(CHECKPOINT, { project_id: 'proj_07', order: 'ascending' }));
  check(filtered.map((p) => p.id).join() === createdIds[7], 'project_id filter');
  const after = await permissions.list(CHECKPOINT, { after: createdIds[19], order: 'ascending', limit: 100 });
  check(after.data.map((p) => p.id).join() === createdIds.slice(20).join(), 'after is exclusive');
  check(after.data.length > 0 && !after.hasNextPage(), 'last page');

  // 4. retrieve (deprecated): one page with first_id/last_id/has_more.
  const retrieved = await permissions.retrieve(CHECKPOINT, { limit: 5, order: 'ascending' });
  check(retrieved.data.map((p) => p.id).join() === createdIds.slice(0, 5).join(), 'retrieve data');
  check(retrieved.first_id === createdIds[0] && retrieved.last_id === createdIds[4], 'retrieve ids');
  check(retrieved.has_more === true && retrieved.object === 'list', 'retrieve has_more');

  // 5. delete, the request id of a success, and a second delete's 404.
  const { data: deleted, response, request_id: requestId } = await permissions
    .delete(createdIds[0], { fine_tuned_model_checkpoint: CHECKPOINT })
    .withResponse();
  check(deleted.id === createdIds[0] && deleted.deleted === true && deleted.object === 'checkpoint.permission', 'delete');
  check(response.status === 200 && typeof requestId === 'string' && requestId.startsWith('req_'), `delete request id ${requestId}`);
  const remaining = (await collect(permissions.list(CHECKPOINT, { order: 'ascending', limit: 100 }))).map((p) => p.id);
  check(remaining.join() === createdIds.slice(1).join(), 'deleted permission is gone');
  await expectError(OpenAI.NotFoundError, 404, 'deleted twice', () =>
    permissions.delete(createdIds[0], { fine_tuned_model_checkpoint: CHECKPOINT }));
  await expectError(OpenAI.NotFoundError, 404, "another checkpoint's permission", () =>
    permissions.delete(createdIds[1], { fine_tuned_model_checkpoint: OTHER }));

  // 6. The SDK's own error classes.
  let e = await expectError(OpenAI.BadRequestError, 400, 'limit 0', () => permissions.list(CHECKPOINT, { limit: 0 }));
  check(e.param === 'limit', `param ${e.param}`);
  await expectError(OpenAI.BadRequestError, 400, 'empty project_ids', () => permissions.create(CHECKPOINT, { project_ids: [] }));
  e = await expectError(OpenAI.BadRequestError, 400, 'unknown field', () =>
    permissions.create(CHECKPOINT, { project_ids: ['p'], bogus: 1 }));
  check(e.param === 'bogus', `param ${e.param}`);
  await expectError(OpenAI.AuthenticationError, 401, 'malformed key', () =>
    makeClient(baseURL, 'not a key').fineTuning.checkpoints.permissions.list(CHECKPOINT));
  await expectError(OpenAI.PermissionDeniedError, 403, 'project key', () =>
    makeClient(baseURL, 'sk-proj-0123456789').fineTuning.checkpoints.permissions.list(CHECKPOINT));

  // 7. The real API's refusals: the owning project, and a key without the write scope.
  e = await expectError(OpenAI.BadRequestError, 400, 'owning project', () =>
    permissions.create(ownedCheckpoint, { project_ids: ['proj_guest', ownerProject] }));
  check(e.message.includes(`Cannot modify checkpoint permissions for the owning project: ${ownerProject}`), e.message);
  const reader = makeClient(baseURL, readOnlyKey).fineTuning.checkpoints.permissions;
  check((await reader.list(CHECKPOINT, { limit: 1 })).data.length === 1, 'a read-only key lists');
  e = await expectError(OpenAI.AuthenticationError, 401, 'missing write scope', () =>
    reader.create(CHECKPOINT, { project_ids: ['proj_new'] }));
  check(e.message.includes('Missing scopes: api.fine_tuning.checkpoints.write'), e.message);
  await expectError(OpenAI.AuthenticationError, 401, 'missing write scope on delete', () =>
    reader.delete(createdIds[1], { fine_tuned_model_checkpoint: CHECKPOINT }));

  // Nothing above wrote anything it should not have.
  const final = (await collect(permissions.list(CHECKPOINT, { order: 'ascending', limit: 100 }))).map((p) => p.id);
  check(final.join() === createdIds.slice(1).join(), 'no side effects from refused requests');
  check((await collect(permissions.list(OTHER))).length === 0, 'other checkpoint untouched');
  check((await collect(permissions.list(ownedCheckpoint))).length === 0, 'owned checkpoint untouched');

  console.log(JSON.stringify({ requests: requestsSent, checks }));
}

const args = process.argv.slice(2);
if (args.length < 5 || args.length > 6) {
  console.error('usage: node sdk_conformance.mjs BASE_URL ADMIN_KEY READ_ONLY_KEY OWNED_CHECKPOINT OWNER_PROJECT [SCRIPTED_429S]');
  process.exit(2);
}
main(args[0], args[1], args[2], args[3], args[4], Number(args[5] ?? 0)).catch((error) => {
  console.error(error);
  process.exit(1);
});
