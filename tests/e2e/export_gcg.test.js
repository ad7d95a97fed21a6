// export_gcg.test.js -- POST /users/export/global_control_group: the users
// of the Global Control Group (brasa serve --global-control-group P: the
// random buckets of a range of P x 100) exported as segment exports are,
// with Braze's answer, the callback, every 400, the permission, one export
// at a time, and a server without a group.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const zlib = require('node:zlib');
const h = require('./harness.js');

const { unzip, ndjson, callbackServer } = h;
const NOT_READY = 'Not Found: this export is not ready yet, has expired, or does not exist';
const ARGS = ['--rate-limit', 'users.export.ids=100000/60s', '--global-control-group', '10'];
const NO_GROUP = 'Bad Request: this server has no Global Control Group (brasa serve --global-control-group PERCENT sets one)';

let srv;
let key;
const buckets = {}; // external_id -> random_bucket
const byId = (a, b) => (a.external_id < b.external_id ? -1 : a.external_id > b.external_id ? 1 : 0);
const exportGcg = (body, k = key, s = srv) => h.request(s, 'POST', '/users/export/global_control_group', { key: k, body });

async function exportOk(body, s = srv) {
  const res = await exportGcg(body, key, s);
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(Object.keys(res.json), ['message', 'object_prefix', 'url']);
  assert.equal(res.json.message, 'success');
  assert.equal(res.json.url, `${s.url}/exports/${res.json.object_prefix}${body.output_format === 'gzip' ? '.json.gz' : '.zip'}`);
  return res.json;
}

async function download(url) {
  let res;
  await h.poll(async () => {
    res = await fetch(url);
    if (res.status === 200) return true;
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { message: NOT_READY });
    return false;
  }, { deadlineMs: 30000, intervalMs: 50 });
  assert.equal(res.status, 200, `${url} never became ready`);
  return Buffer.from(await res.arrayBuffer());
}

// The users whose bucket is in [lo, hi] (inclusive), as {external_id, random_bucket}.
const members = (lo, hi) =>
  Object.entries(buckets)
    .filter(([, b]) => b >= lo && b <= hi)
    .map(([external_id, random_bucket]) => ({ external_id, random_bucket }))
    .sort(byId);

before(async () => {
  srv = await h.startServer({ args: ARGS, keepDir: true });
  key = srv.key;
  const api = h.usersApi(srv);
  for (let start = 0; start < 300; start += 50) {
    const ids = Array.from({ length: 50 }, (_, i) => `g${start + i}`);
    await api.trackOk({ attributes: ids.map((external_id) => ({ external_id, first_name: `F-${external_id}` })) });
    const res = await api.ok('/users/export/ids', { external_ids: ids, fields_to_export: ['external_id', 'random_bucket'] });
    for (const u of res.users) buckets[u.external_id] = u.random_bucket;
  }
  assert.ok(members(9000, 9999).length > 0, 'no user in the top 10% of buckets');
});
after(async () => {
  if (srv) await srv.stop();
  if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
});

test('zip: exactly the group\'s users (random buckets 9000-9999 for 10%), and the callback is told', async () => {
  const cb = await callbackServer();
  try {
    const out = await exportOk({ fields_to_export: ['external_id', 'random_bucket'], callback_endpoint: cb.url });
    const files = unzip(await download(out.url));
    assert.deepEqual(files.map((f) => f.name), [`${out.object_prefix}-00001.json`]);
    assert.deepEqual(ndjson(files[0].text).sort(byId), members(9000, 9999));
    assert.deepEqual((await cb.next(1)).body, { success: true, url: out.url });
  } finally {
    await cb.close();
  }
});

test('gzip, other fields; users that join the group later are in the next export', async () => {
  let out = await exportOk({ fields_to_export: ['external_id', 'first_name'], output_format: 'gzip' });
  let users = ndjson(zlib.gunzipSync(await download(out.url)).toString('utf8')).sort(byId);
  assert.deepEqual(users, members(9000, 9999).map((u) => ({ external_id: u.external_id, first_name: `F-${u.external_id}` })));
  // Deleting one of them: gone from the next file (Braze: the group when the file is made).
  const gone = users[0].external_id;
  await h.usersApi(srv).ok('/users/delete', { external_ids: [gone] });
  delete buckets[gone];
  out = await exportOk({ fields_to_export: ['external_id'], output_format: 'gzip' });
  users = ndjson(zlib.gunzipSync(await download(out.url)).toString('utf8')).sort(byId);
  assert.deepEqual(users, members(9000, 9999).map((u) => ({ external_id: u.external_id })));
});

test('bad input: 400 naming the field, nothing queued', async () => {
  const cases = [
    [{}, 'Bad Request: \'fields_to_export\' is required: an array of field names such as ["external_id", "email"]'],
    [{ fields_to_export: [] }, "Bad Request: 'fields_to_export' must name at least one field"],
    [{ fields_to_export: ['external_id', 'nope'] }, "Bad Request: 'fields_to_export' has an unknown field 'nope'"],
    [{ fields_to_export: 'external_id' }, "Bad Request: 'fields_to_export' must be an array of strings"],
    [{ fields_to_export: ['email'], callback_endpoint: 'ftp://x/y' }, "Bad Request: 'callback_endpoint' must be an http:// or https:// URL"],
    [{ fields_to_export: ['email'], output_format: 'tar' }, "Bad Request: 'output_format' must be 'zip' or 'gzip'"],
  ];
  for (const [body, message] of cases) h.assertError(await exportGcg(body), 400, message);
  h.assertError(await exportGcg(['x']), 400, 'Bad Request: the body must be a JSON object');
});

test('permission users.export.global_control_group; the default rate-limit group', async () => {
  const seg = await h.createKey(srv, key, { name: 'segment-exporter', permissions: ['users.export.segment'] });
  h.assertError(await exportGcg({ fields_to_export: ['email'] }, seg.key), 403,
    "Access Denied: this API key does not have the 'users.export.global_control_group' permission");
  h.assertError(await exportGcg({ fields_to_export: ['email'] }, 'not-a-key'), 401, 'Invalid API key: not-a-key');
  const g = await h.createKey(srv, key, { name: 'gcg-exporter', permissions: ['users.export.global_control_group'] });
  const res = await exportGcg({ fields_to_export: ['external_id'] }, g.key);
  assert.equal(res.status, 201, res.text);
  assert.equal(res.headers.get('x-ratelimit-limit'), '250000');
  await download(res.json.url);
});

test('one export of the group at a time: 429 while one is queued or running', async () => {
  const hang = await callbackServer({ hold: true });
  try {
    await exportOk({ fields_to_export: ['external_id'], callback_endpoint: hang.url });
    await hang.next(1); // the exporter is held in that job's callback
    const queued = await exportOk({ fields_to_export: ['external_id'] });
    const busy = await exportGcg({ fields_to_export: ['email'] });
    h.assertError(busy, 429,
      `An export of this segment is already in progress: the Global Control Group has export '${queued.object_prefix}' queued or running; retry once it has finished`);
    hang.release();
    await download(queued.url);
    await download((await exportOk({ fields_to_export: ['email'] })).url); // free again; done before the next test
  } finally {
    hang.release();
    await hang.close();
  }
});

test('the range can start anywhere and wraps; without a group: 400, and a queued job fails', async () => {
  const hang = await callbackServer({ hold: true });
  const cb = await callbackServer();
  try {
    // A job queued behind a held one, then a restart without the group: it fails and says so.
    await exportOk({ fields_to_export: ['external_id'], callback_endpoint: hang.url });
    await hang.next(1);
    await new Promise((r) => setTimeout(r, 100));
    const stranded = await exportOk({ fields_to_export: ['external_id'], callback_endpoint: cb.url });
    await srv.kill9();
    hang.release();
    srv = await h.startServer({ dir: srv.dir, args: ['--rate-limit', 'users.export.ids=100000/60s'] });
    assert.deepEqual((await cb.next(1)).body, { success: false });
    assert.equal((await fetch(`${srv.url}/exports/${stranded.object_prefix}.zip`)).status, 404); // the old URL had the old port
    h.assertError(await exportGcg({ fields_to_export: ['email'] }), 400, NO_GROUP);
    await srv.stop();
    // 5% from bucket 9800: 9800-9999 and 0-299.
    srv = await h.startServer({ dir: srv.dir, args: [...ARGS.slice(0, 2), '--global-control-group', '5', '--global-control-group-start', '9800'] });
    assert.match(srv.stderr(), /Global Control Group: 5% of users, random buckets 9800 to 299/);
    const out = await exportOk({ fields_to_export: ['external_id', 'random_bucket'] });
    const got = ndjson(unzip(await download(out.url))[0].text).sort(byId);
    assert.deepEqual(got, [...members(9800, 9999), ...members(0, 299)].sort(byId));
  } finally {
    hang.release();
    await hang.close();
    await cb.close();
  }
});

test('bad option values are refused at start', () => {
  for (const [args, message] of [
    [['--global-control-group', '16'], "the Global Control Group percentage must be 0 (none) to 15 (got '16')"],
    [['--global-control-group', 'ten'], "the Global Control Group percentage must be 0 (none) to 15 (got 'ten')"],
    [['--global-control-group', '5', '--global-control-group-start', '10000'], "the Global Control Group's first bucket must be 0 to 9999 (got '10000')"],
  ]) {
    const dir = h.makeDataDir();
    try {
      const r = h.cli(['serve', '--port', '0', ...args], { dir });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`brasa: ${message.replace(/[()]/g, '\\$&')}`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
