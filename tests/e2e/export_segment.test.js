// export_segment.test.js -- POST /users/export/segment end to end: the job is
// queued durably and answered with Braze's object_prefix and a URL; the
// file appears at GET /exports/<name> (zip of NDJSON members of 5,000 users,
// or one gzip stream) with exactly the segment's users and the fields asked
// for; the callback_endpoint is told; one export per segment at a time
// (429); every bad input is a 400; downloads resist path tricks; files
// expire; a job cut short by SIGKILL is run again at the next start.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const zlib = require('node:zlib');
const h = require('./harness.js');

const PREFIX_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-(\d+)$/;
const NOT_READY = 'Not Found: this export is not ready yet, has expired, or does not exist';
const FIELDS = ['external_id', 'first_name', 'email', 'custom_attributes'];

const byId = (a, b) => (a.external_id < b.external_id ? -1 : a.external_id > b.external_id ? 1 : 0);

const { unzip, ndjson, callbackServer } = h;

let srv;
const segs = {};
const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });
const exportSegment = (body, key = srv.key, s = srv) => h.request(s, 'POST', '/users/export/segment', { key, body });

async function createSegment(name, definition, s = srv) {
  const res = await h.request(s, 'POST', '/admin/segments', { key: s.key, body: { name, definition } });
  assert.equal(res.status, 201, res.text);
  return res.json.segment.id;
}

// Requires a 201 with exactly Braze's keys; returns the body.
async function exportOk(body, s = srv) {
  const res = await exportSegment(body, s.key, s);
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(Object.keys(res.json), ['message', 'object_prefix', 'url']);
  assert.equal(res.json.message, 'success');
  const m = PREFIX_RE.exec(res.json.object_prefix);
  assert.ok(m, res.json.object_prefix);
  assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 60, 'the prefix ends with the request time in unix seconds');
  return res.json;
}

// Polls the URL until the file is there; returns {res, buf}.
async function download(url, deadlineMs = 30000) {
  let res;
  await h.poll(async () => {
    res = await fetch(url);
    if (res.status === 200) return true;
    const body = await res.json();
    assert.equal(res.status, 404, JSON.stringify(body));
    assert.deepEqual(body, { message: NOT_READY });
    return false;
  }, { deadlineMs, intervalMs: 50 });
  assert.equal(res.status, 200, `${url} never became ready`);
  return { res, buf: Buffer.from(await res.arrayBuffer()) };
}

async function track(s, attributes) {
  const api = h.usersApi(s);
  const batches = [];
  for (let i = 0; i < attributes.length; i += 75) batches.push(attributes.slice(i, i + 75));
  for (let i = 0; i < batches.length; i += 8) await Promise.all(batches.slice(i, i + 8).map((b) => api.trackOk({ attributes: b })));
}

// The user objects the seed gives for FIELDS.
function expectedUser(i) {
  const u = { external_id: `u${i}`, first_name: `F${i}` };
  if (i % 2 === 0) u.email = `u${i}@example.com`;
  u.custom_attributes = { tier: i % 3 ? 'silver' : 'gold', n: i };
  return u;
}

before(async () => {
  srv = await h.startServer({ keepDir: true });
  const attributes = [];
  for (let i = 0; i < 30; i++) {
    const a = { external_id: `u${i}`, first_name: `F${i}`, tier: i % 3 ? 'silver' : 'gold', n: i };
    if (i % 2 === 0) a.email = `u${i}@example.com`;
    attributes.push(a);
  }
  await track(srv, attributes);
  segs.gold = await createSegment('gold', { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'gold' });
  segs.silver = await createSegment('silver', { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'silver' });
  segs.low = await createSegment('low n', { type: 'custom_attribute', name: 'n', op: 'less_than', value: 4 });
  segs.none = await createSegment('nobody', { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'platinum' });
});
after(async () => {
  if (srv) await srv.cleanup();
});

test('zip export: exactly the segment\'s users with the fields asked for, and the callback is told', async () => {
  const cb = await callbackServer();
  try {
    const out = await exportOk({ segment_id: segs.gold, fields_to_export: FIELDS, callback_endpoint: cb.url });
    assert.equal(out.url, `${srv.url}/exports/${out.object_prefix}.zip`);
    const { res, buf } = await download(out.url);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.equal(Number(res.headers.get('content-length')), buf.length);
    const members = unzip(buf);
    assert.deepEqual(members.map((m) => m.name), [`${out.object_prefix}-00001.json`]);
    const users = ndjson(members[0].text).sort(byId);
    const gold = [...Array(30).keys()].filter((i) => i % 3 === 0).map(expectedUser).sort(byId);
    assert.deepEqual(users, gold);
    for (const u of users) assert.deepEqual(Object.keys(u), Object.keys(expectedUser(Number(u.external_id.slice(1)))));

    const call = await cb.next(1);
    assert.equal(call.method, 'POST');
    assert.equal(call.url, '/hook?x=1');
    assert.match(call.headers['content-type'], /^application\/json/);
    assert.deepEqual(call.body, { success: true, url: out.url });

    // The exporter's idle polling (each second) is no failed write.
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await h.request(srv, 'GET', '/healthz')).json.store.failed, 0);

    // The same file again (no key needed: the name is the credential).
    const again = await fetch(out.url);
    assert.equal(again.status, 200);
    assert.deepEqual(Buffer.from(await again.arrayBuffer()), buf);
  } finally {
    await cb.close();
  }
});

test('gzip export: one .json.gz stream of the same user objects; other fields; empty segments', async () => {
  const out = await exportOk({ segment_id: segs.low, fields_to_export: ['external_id', 'braze_id', 'custom_events'], output_format: 'gzip' });
  assert.equal(out.url, `${srv.url}/exports/${out.object_prefix}.json.gz`);
  const { res, buf } = await download(out.url);
  assert.equal(res.headers.get('content-type'), 'application/gzip');
  const users = ndjson(zlib.gunzipSync(buf).toString('utf8')).sort(byId);
  assert.deepEqual(users.map((u) => u.external_id), ['u0', 'u1', 'u2', 'u3']);
  for (const u of users) {
    assert.deepEqual(Object.keys(u), ['external_id', 'braze_id', 'custom_events']);
    assert.match(u.braze_id, h.BRAZE_ID_RE);
    assert.deepEqual(u.custom_events, []);
  }
  // The export's user object is /users/export/ids' one.
  const viaIds = await h.usersApi(srv).user('u2', ['external_id', 'braze_id', 'custom_events']);
  assert.deepEqual(users[2], viaIds);

  // "zip" spelled out is the default; an empty segment is an archive with one empty member.
  const empty = await exportOk({ segment_id: segs.none, fields_to_export: ['external_id'], output_format: 'zip' });
  const members = unzip((await download(empty.url)).buf);
  assert.deepEqual(members, [{ name: `${empty.object_prefix}-00001.json`, text: '' }]);
  const emptyGz = await exportOk({ segment_id: segs.none, fields_to_export: ['email'], output_format: 'gzip', callback_endpoint: null });
  assert.equal(zlib.gunzipSync((await download(emptyGz.url)).buf).length, 0);
});

test('bad input: a 400 naming the field, and nothing queued', async () => {
  const ok = { segment_id: segs.silver, fields_to_export: ['external_id'] };
  const cases = [
    [[ok], 'Bad Request: the body must be a JSON object'],
    [{ fields_to_export: ['email'] }, "Bad Request: 'segment_id' is required"],
    [{ ...ok, segment_id: null }, "Bad Request: 'segment_id' is required"],
    [{ ...ok, segment_id: 5 }, "Bad Request: 'segment_id' must be a non-empty string"],
    [{ ...ok, segment_id: '' }, "Bad Request: 'segment_id' must be a non-empty string"],
    [{ ...ok, segment_id: ['x'] }, "Bad Request: 'segment_id' must be a non-empty string"],
    [{ ...ok, segment_id: 'nope' }, "Bad Request: no segment with id 'nope'"],
    [{ ...ok, segment_id: 'x'.repeat(100) }, `Bad Request: no segment with id '${'x'.repeat(64)}...'`],
    [{ segment_id: segs.silver }, "Bad Request: 'fields_to_export' is required: an array of field names such as [\"external_id\", \"email\"]"],
    [{ ...ok, fields_to_export: null }, "Bad Request: 'fields_to_export' is required: an array of field names such as [\"external_id\", \"email\"]"],
    [{ ...ok, fields_to_export: [] }, "Bad Request: 'fields_to_export' must name at least one field"],
    [{ ...ok, fields_to_export: 'email' }, "Bad Request: 'fields_to_export' must be an array of strings"],
    [{ ...ok, fields_to_export: ['email', 'shoe_size'] }, "Bad Request: 'fields_to_export' has an unknown field 'shoe_size'"],
    [{ ...ok, fields_to_export: [7] }, "Bad Request: 'fields_to_export' has an unknown field '7'"],
    [{ ...ok, callback_endpoint: 'ftp://example.com/x' }, "Bad Request: 'callback_endpoint' must be an http:// or https:// URL"],
    [{ ...ok, callback_endpoint: 'example.com/hook' }, "Bad Request: 'callback_endpoint' must be an http:// or https:// URL"],
    [{ ...ok, callback_endpoint: 'http://exa mple.com/' }, "Bad Request: 'callback_endpoint' must be an http:// or https:// URL"],
    [{ ...ok, callback_endpoint: '' }, "Bad Request: 'callback_endpoint' must be an http:// or https:// URL"],
    [{ ...ok, callback_endpoint: 42 }, "Bad Request: 'callback_endpoint' must be an http:// or https:// URL"],
    [{ ...ok, output_format: 'csv' }, "Bad Request: 'output_format' must be 'zip' or 'gzip'"],
    [{ ...ok, output_format: 'ZIP' }, "Bad Request: 'output_format' must be 'zip' or 'gzip'"],
    [{ ...ok, output_format: 1 }, "Bad Request: 'output_format' must be 'zip' or 'gzip'"],
  ];
  for (const [body, message] of cases) h.assertError(await exportSegment(body), 400, message);
  h.assertError(await h.request(srv, 'POST', '/users/export/segment', { key: srv.key, raw: '{"segment_id":', headers: { 'content-type': 'application/json' } }),
    400, /^Invalid JSON in request body/);

  // Archived segments are refused like unknown ones.
  const arch = await createSegment('archived', { type: 'custom_attribute', name: 'n', op: 'less_than', value: 2 });
  assert.equal((await admin('POST', `/admin/segments/${arch}`, { archived: true })).status, 200);
  h.assertError(await exportSegment({ segment_id: arch, fields_to_export: ['email'] }), 400, `Bad Request: segment '${arch}' is archived`);

  // None of the refused requests queued anything: silver is free.
  const out = await exportOk(ok);
  const users = ndjson(unzip((await download(out.url)).buf)[0].text);
  assert.equal(users.length, 20);
});

test('keys: 401 without or with a bad key, 403 without users.export.segment; the download needs none', async () => {
  const body = { segment_id: segs.gold, fields_to_export: ['email'] };
  h.assertError(await h.request(srv, 'POST', '/users/export/segment', { body }), 401, 'Invalid API key: ');
  h.assertError(await exportSegment(body, 'not-a-key'), 401, 'Invalid API key: not-a-key');
  const idsOnly = (await h.createKey(srv, srv.key, { name: 'ids-only', permissions: ['users.export.ids'] })).key;
  h.assertError(await exportSegment(body, idsOnly), 403, "Access Denied: this API key does not have the 'users.export.segment' permission");
  const segKey = (await h.createKey(srv, srv.key, { name: 'seg-export', permissions: ['users.export.segment'] })).key;
  const res = await exportSegment(body, segKey);
  assert.equal(res.status, 201, res.text);
  // Rate-limit group "default" (Braze's 250,000 / hour).
  assert.equal(res.headers.get('x-ratelimit-limit'), '250000');
  assert.equal((await download(res.json.url)).res.status, 200);
  // Legacy api_key in the body works too.
  const legacy = await h.request(srv, 'POST', '/users/export/segment', { body: { ...body, api_key: segKey } });
  assert.equal(legacy.status, 201, legacy.text);
  await download(legacy.json.url);
});

test('one export per segment at a time: 429 while queued or running; jobs run oldest first', async () => {
  const hang = await callbackServer({ hold: true });
  try {
    // The exporter is held in the first job's callback: the next jobs stay queued.
    const first = await exportOk({ segment_id: segs.gold, fields_to_export: ['external_id'], callback_endpoint: hang.url });
    await hang.next(1);
    const second = await exportOk({ segment_id: segs.silver, fields_to_export: ['external_id'], output_format: 'gzip' });
    const third = await exportOk({ segment_id: segs.gold, fields_to_export: ['email'] }); // gold's first job is done
    const busy = await exportSegment({ segment_id: segs.silver, fields_to_export: ['email'] });
    h.assertError(busy, 429, `An export of this segment is already in progress: segment '${segs.silver}' has export '${second.object_prefix}' queued or running; retry once it has finished`);
    assert.equal(busy.headers.get('retry-after'), null, 'not a rate limit: no Retry-After');
    h.assertError(await exportSegment({ segment_id: segs.gold, fields_to_export: ['email'] }), 429, new RegExp(third.object_prefix));
    // Queued: not ready.
    const r = await fetch(second.url);
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { message: NOT_READY });
    assert.equal((await fetch(first.url)).status, 200);

    hang.release();
    await download(second.url);
    await download(third.url);
    // Done: the segment is free again.
    await exportOk({ segment_id: segs.silver, fields_to_export: ['email'] });
  } finally {
    hang.release();
    await hang.close();
  }
});

test('a failed export answers 404 for good and calls back {"success": false}', async () => {
  const hang = await callbackServer({ hold: true });
  const cb = await callbackServer();
  try {
    await exportOk({ segment_id: segs.low, fields_to_export: ['external_id'], callback_endpoint: hang.url });
    await hang.next(1);
    const out = await exportOk({ segment_id: segs.gold, fields_to_export: ['external_id'], output_format: 'gzip', callback_endpoint: cb.url });
    // A disk failure: a directory where the exporter writes its gzip stream.
    fs.mkdirSync(path.join(srv.dir, 'exports', `${out.object_prefix}.json.gz.part`));
    hang.release();
    const call = await cb.next(1);
    assert.deepEqual(call.body, { success: false });
    const r = await fetch(out.url);
    assert.equal(r.status, 404);
    fs.rmdirSync(path.join(srv.dir, 'exports', `${out.object_prefix}.json.gz.part`));
    // gold is free again after a failure.
    await download((await exportOk({ segment_id: segs.gold, fields_to_export: ['external_id'] })).url);
  } finally {
    hang.release();
    await hang.close();
    await cb.close();
  }
});

test('GET /exports/{name}: 404 for anything but an export\'s exact name, never another file', async () => {
  const out = await exportOk({ segment_id: segs.low, fields_to_export: ['external_id'] });
  await download(out.url);
  const p = out.object_prefix;
  const bad = [
    'x', 'brasa.db', 'brasa.lock', '.', `${p}`, `${p}.ZIP`, `${p}.json`, `${p}.gz`, `${p}.zip.part`, `${p}.part`,
    `${p}.zip%00`, `${p}.zip%0a`, `%2e%2e%2fbrasa.db`, `..%2Fbrasa.db`, `${p}.zip%2f..%2f..%2fbrasa.db`, `${p.toUpperCase()}.zip`,
    `x${p}.zip`, `${p.slice(0, -1)}.zip`,
  ];
  for (const name of bad) {
    const res = await h.rawRequest(srv.port, `GET /exports/${name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    h.assertRawError(res, 404, /^Not Found/);
    assert.ok(!res.text.includes('SQLite'), name);
  }
  for (const raw of ['/exports/../brasa.db', '/exports/', '/exports', `/exports/${p}.zip/../../brasa.db`, `/exports//${p}.zip`, `/exports/./${p}.zip`]) {
    const res = await h.rawRequest(srv.port, `GET ${raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.notEqual(res.status, 200, raw);
    assert.ok(!res.text.includes('SQLite'), raw);
  }
  // A well-formed name that is no export, or a link planted in the directory.
  h.assertRawError(await h.rawRequest(srv.port, `GET /exports/${p.replace(/^./, p[0] === 'a' ? 'b' : 'a')}.zip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), 404, NOT_READY);
  const fake = '00000000-0000-4000-8000-000000000000-1700000000.zip';
  fs.symlinkSync(path.join(srv.dir, 'brasa.db'), path.join(srv.dir, 'exports', fake));
  h.assertError(await h.request(srv, 'GET', `/exports/${fake}`), 404, NOT_READY);
  fs.unlinkSync(path.join(srv.dir, 'exports', fake));
  h.assertError(await h.request(srv, 'POST', `/exports/${p}.zip`, { key: srv.key, body: {} }), 405, /^Method Not Allowed/);
  assert.equal((await fetch(out.url)).status, 200);
});

test('files older than --export-ttl are deleted, then answer 404', async () => {
  const out = await exportOk({ segment_id: segs.low, fields_to_export: ['external_id'] });
  await download(out.url);
  const file = path.join(srv.dir, 'exports', `${out.object_prefix}.zip`);
  const old = new Date(Date.now() - 25 * 3600 * 1000); // default TTL: 24 h
  fs.utimesSync(file, old, old);
  const gone = await h.poll(async () => (await fetch(out.url)).status === 404, { deadlineMs: 10000, intervalMs: 100 });
  assert.ok(gone, 'an expired export is still served');
  assert.ok(!fs.existsSync(file));
});

const BIG = 5100;

test('more than 5,000 users: one member per 5,000; SIGKILL mid-export, and the restart completes it', async () => {
  const attributes = [];
  for (let i = 0; i < BIG; i++) attributes.push({ external_id: `big${i}`, band: 'big', first_name: `B${i}` });
  // The first batch alone: track() sends batches in parallel, and big0 must
  // be the first row whichever request the server takes first.
  await track(srv, attributes.slice(0, 75));
  await track(srv, attributes.slice(75));
  const big = await createSegment('big', { type: 'custom_attribute', name: 'band', op: 'equals', value: 'big' });
  const want = attributes.map((a) => a.external_id).sort();

  const out = await exportOk({ segment_id: big, fields_to_export: ['external_id', 'first_name'] });
  const members = unzip((await download(out.url)).buf);
  assert.deepEqual(members.map((m) => m.name), [`${out.object_prefix}-00001.json`, `${out.object_prefix}-00002.json`]);
  const first = ndjson(members[0].text), second = ndjson(members[1].text);
  assert.equal(first.length, 5000);
  assert.equal(second.length, BIG - 5000);
  assert.deepEqual([...first, ...second].map((u) => u.external_id).sort(), want);
  assert.deepEqual(first[0], { external_id: 'big0', first_name: 'B0' });

  // Kill while the job runs: its staging directory exists only then.
  const cb = await callbackServer();
  try {
    const job = await exportOk({ segment_id: big, fields_to_export: FIELDS, callback_endpoint: cb.url });
    const staging = path.join(srv.dir, 'exports', `${job.object_prefix}.part`);
    const end = Date.now() + 20000;
    while (!fs.existsSync(staging) && Date.now() < end) { /* spin: the window is short */ }
    srv.proc.kill('SIGKILL');
    await srv.kill9();
    assert.ok(fs.existsSync(staging), 'the export was not seen running');
    const q = spawnSync('sqlite3', [path.join(srv.dir, 'brasa.db'), `SELECT state FROM exports WHERE prefix = '${job.object_prefix}'`], { encoding: 'utf8' });
    assert.equal(q.stdout.trim(), 'running', q.stderr);
    assert.ok(!fs.existsSync(path.join(srv.dir, 'exports', `${job.object_prefix}.zip`)));

    srv = await h.startServer({ dir: srv.dir }); // on another port: the URL's path is what holds
    const { buf } = await download(`${srv.url}/exports/${job.object_prefix}.zip`);
    const users = unzip(buf).flatMap((m) => ndjson(m.text));
    assert.equal(users.length, BIG);
    assert.deepEqual(users.map((u) => u.external_id).sort(), want);
    assert.ok(!fs.existsSync(staging), 'staging files are removed');
    assert.deepEqual((await cb.next(1)).body, { success: true, url: job.url });
  } finally {
    await cb.close();
  }
  const dir = srv.dir;
  await srv.stop();
  srv = null;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--public-url / BRASA_PUBLIC_URL set the download base; bad option values are refused', async () => {
  const s = await h.startServer({ env: { BRASA_PUBLIC_URL: 'https://brasa.example.com/' } });
  try {
    await track(s, [{ external_id: 'p1', t: 'x' }]);
    const seg = await createSegment('all', { type: 'custom_attribute', name: 't', op: 'equals', value: 'x' }, s);
    const out = await exportOk({ segment_id: seg, fields_to_export: ['external_id'] }, s);
    assert.equal(out.url, `https://brasa.example.com/exports/${out.object_prefix}.zip`);
    const { buf } = await download(`${s.url}/exports/${out.object_prefix}.zip`);
    assert.deepEqual(ndjson(unzip(buf)[0].text), [{ external_id: 'p1' }]);
  } finally {
    await s.stop();
  }
  const dir = h.makeDataDir();
  try {
    let r = h.cli(['serve', '--port', '0', '--public-url', 'ftp://x'], { dir });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--public-url must be an http:\/\/ or https:\/\/ URL/);
    r = h.cli(['serve', '--port', '0', '--export-ttl', 'soon'], { dir });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--export-ttl must be an integer/);
    r = h.cli(['serve', '--help']);
    assert.match(r.stdout, /--public-url V .*\[\$BRASA_PUBLIC_URL\]/);
    assert.match(r.stdout, /--export-ttl V .*\(default: 24\) \[\$BRASA_EXPORT_TTL\]/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
