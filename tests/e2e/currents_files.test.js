// currents_files.test.js -- files connectors (POST /admin/currents, type
// files) end to end: events tracked through /users/track land in Avro
// object container files and NDJSON files in Braze's storage layout, read
// back the way a consumer would (Apache's python3-avro and avro-c's
// avrocat, by currents_files_read.py), every profile event type brasa
// writes field by field as the outbox holds it; SIGKILL with files still open loses
// nothing; a restart goes on with new names; a sink that fails to finish
// its files is opened again and loses nothing; bad settings are refused.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');

const FAST = { BRASA_CURRENTS_BACKOFF_MS: '20', BRASA_CURRENTS_BACKOFF_MAX_MS: '200' };
const call = (srv, method, p, body) => h.request(srv, method, p, { key: srv.key, body });
const READER = path.join(__dirname, 'currents_files_read.py');

async function connector(srv, body) {
  const res = await call(srv, 'POST', '/admin/currents', body);
  assert.equal(res.status, 201, res.text);
  return res.json.id;
}

async function show(srv, id) {
  const res = await call(srv, 'GET', `/admin/currents/${id}`);
  assert.equal(res.status, 200, res.text);
  return res.json.connector;
}

async function until(fn, what, deadlineMs = 30000) {
  const ok = await h.poll(fn, { deadlineMs, intervalMs: 50 });
  assert.ok(ok, `timed out waiting for ${what}`);
}

// What a consumer finds under root: {files: [{path, schema, records}], tmp,
// other}; tmp: and "pending", the records in the .tmp files (null when one
// was caught mid-write).
function readBack(root, tmp) {
  if (!fs.existsSync(root)) return { files: [], tmp: [], other: [], pending: [] };
  const r = spawnSync('/usr/bin/python3', [READER, root, ...(tmp ? ['--tmp'] : [])], { encoding: 'utf8' });
  if (tmp && r.status === 3) return null;
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const records = (doc) => doc.files.flatMap((f) => f.records.map((r) => ({ ...r, file: f.path })));

// Custom events and purchases for users u0..u(n-1), names and prices numbered from k.
async function track(srv, n, k) {
  const events = [], purchases = [];
  for (let i = 0; i < n; i++) {
    events.push({ external_id: `u${i}`, name: `played-${k + i}`, time: '2026-12-01T00:00:00Z', properties: { k: k + i, s: 'é/"x"' } });
    purchases.push({ external_id: `u${i}`, product_id: `sku-${k + i}`, price: 1.5 + k + i, currency: 'EUR', time: '2026-12-01T00:00:00Z' });
  }
  await h.usersApi(srv).trackOk({ events, purchases });
}

test('avro and ndjson files in the storage layout, read back with python3-avro and avrocat', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-currents-files-'));
  const srv = await h.startServer({ env: FAST });
  try {
    const avro = await connector(srv, { name: 'lake', type: 'files', dir: out, prefix: 'exports/brasa', cluster: 'eu-1', max_age_seconds: 1 });
    const nd = await connector(srv, { name: 'lines', type: 'files', dir: out, format: 'ndjson', max_age_seconds: 1 });
    await track(srv, 3, 0);
    await track(srv, 2, 10);
    const aroot = path.join(out, 'exports/brasa', `dataexport.eu-1.Local.integration.${avro}`);
    const nroot = path.join(out, `dataexport.brasa-01.Local.integration.${nd}`);
    // 5 custom events and 5 purchases each, in finished files (max_age_seconds: 1)
    const done = (root) => () => {
      const d = readBack(root);
      return d.tmp.length === 0 && records(d).length === 10 ? d : null;
    };
    await until(done(aroot), 'the Avro files');
    await until(done(nroot), 'the NDJSON files');
    const a = readBack(aroot), n = readBack(nroot);
    assert.deepEqual(a.other, ['.offset']);

    // layout: event_type=<type>/date=<UTC hour>/dataexport.<cluster>.Local.integration.<id>+0+<10 digits>.avro
    for (const f of a.files) {
      assert.match(f.path, new RegExp(`^event_type=users\\.behaviors\\.(CustomEvent|Purchase)/date=\\d{4}-\\d\\d-\\d\\d-\\d\\d/` +
        `dataexport\\.eu-1\\.Local\\.integration\\.${avro}\\+0\\+\\d{10}\\.avro$`), f.path);
      const type = f.path.split('/')[0].slice('event_type='.length);
      assert.equal(f.schema.type, 'record');
      assert.equal(f.schema.name, type.split('.').pop());
      assert.equal(f.schema.namespace, 'dataexport.Local.inner.users.behaviors');
      assert.deepEqual(f.schema.fields.slice(0, 4).map((x) => [x.name, x.type]),
        [['id', 'string'], ['user_id', 'string'], ['external_user_id', ['null', 'string']], ['time', 'int']]);
    }
    for (const f of n.files) assert.match(f.path, /^event_type=users\.behaviors\.(CustomEvent|Purchase)\/date=[\d-]{13}\/dataexport\.brasa-01\.Local\.integration\.[0-9a-f]{24}\+0\+\d{10}\.ndjson$/);
    // offsets: the count of events before each file, so names sort and never repeat
    const offsets = a.files.map((f) => Number(f.path.slice(-15, -5))).sort((x, y) => x - y);
    assert.equal(new Set(offsets).size, offsets.length);
    assert.equal(offsets[0], 0);

    // the records, as a consumer reads them
    const ce = records(a).filter((r) => r.name !== undefined).sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(ce.map((r) => [r.name, r.external_user_id, JSON.parse(r.properties).k]),
      [['played-0', 'u0', 0], ['played-1', 'u1', 1], ['played-10', 'u0', 10], ['played-11', 'u1', 11], ['played-2', 'u2', 2]]);
    assert.equal(JSON.parse(ce[0].properties).s, 'é/"x"');
    assert.equal(ce[0].time, Date.parse('2026-12-01T00:00:00Z') / 1000);
    assert.equal(ce[0].timezone, null);
    const pu = records(a).filter((r) => r.product_id !== undefined).sort((x, y) => x.price - y.price);
    assert.deepEqual(pu.map((r) => [r.product_id, r.price, r.currency]),
      [['sku-0', 1.5, 'EUR'], ['sku-1', 2.5, 'EUR'], ['sku-2', 3.5, 'EUR'], ['sku-10', 11.5, 'EUR'], ['sku-11', 12.5, 'EUR']]);

    // NDJSON: the records exactly as the outbox holds them, the same events as the Avro files
    const stored = h.outboxEvents(srv.dir, 'users.behaviors.', 'outbox');
    const byId = (l) => Object.fromEntries(l.map((r) => [r.id, r]));
    const lines = records(n).map(({ file, ...r }) => r);
    assert.deepEqual(byId(lines), byId(stored));
    assert.deepEqual(Object.keys(byId(records(a))).sort(), Object.keys(byId(stored)).sort());

    const c = await show(srv, avro);
    assert.equal(c.sent, 10);
    assert.equal(c.lag.events, 0);
  } finally {
    await srv.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('every profile event type brasa writes fits its Avro schema: each field as the outbox holds it', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-currents-files-'));
  const srv = await h.startServer({ env: FAST });
  try {
    const id = await connector(srv, { name: 'all', type: 'files', dir: out, max_age_seconds: 1, start: 'earliest' });
    const root = path.join(out, `dataexport.brasa-01.Local.integration.${id}`);
    const api = h.usersApi(srv);
    const g = await call(srv, 'POST', '/admin/subscription_groups', { name: 'News', channel: 'email' });
    assert.equal(g.status, 201, g.text);
    await api.trackOk({ attributes: [
      { external_id: 'x-1', email: 'x1@example.com', time_zone: 'Europe/Paris' },
      { external_id: 'x-2', email: 'x2@example.com' },
      { external_id: 'x-3' },
    ] });
    const sub = await call(srv, 'POST', '/subscription/status/set',
      { subscription_group_id: g.json.subscription_group_id, subscription_state: 'subscribed', external_id: ['x-2'] });
    assert.equal(sub.status, 201, sub.text);
    await track(srv, 2, 0);
    await api.trackOk({ attributes: [{ external_id: 'x-1', email_subscribe: 'unsubscribed' }] });
    const r = h.cli(['partners', 'key', 'heap'], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    const base = { partner_api_key: 'p', client_secret: r.stdout.trim(), cohort_id: 'vip' };
    const partner = (suffix, body) => h.request(srv, 'POST', `/partners/heap/cohorts${suffix}`, { body });
    assert.equal((await partner('', { ...base, name: 'VIP', created_at: '2024-01-01T00:00:00Z' })).status, 201);
    assert.equal((await partner('/users', { ...base, cohort_changes: [{ user_ids: ['x-1', 'x-2'] }] })).status, 201);
    await api.ok('/users/delete', { external_ids: ['x-1'] });
    assert.equal((await api.post('/users/merge', { merge_updates: [{ identifier_to_merge: { external_id: 'x-2' }, identifier_to_keep: { external_id: 'x-3' } }] })).status, 202);

    const want = ['brasa.cohorts.Change', 'users.UserDeleteRequest', 'users.UserOrphan', 'users.behaviors.CustomEvent',
      'users.behaviors.Purchase', 'users.behaviors.subscription.GlobalStateChange', 'users.behaviors.subscriptiongroup.StateChange'];
    let stored;
    await until(async () => {
      stored = [...h.outboxEvents(srv.dir, 'users.', 'outbox'), ...h.outboxEvents(srv.dir, 'brasa.', 'outbox')];
      return [...new Set(stored.map((e) => e.event_type))].sort().join() === want.join();
    }, 'an event of every type in the outbox');
    let d;
    await until(async () => {
      d = readBack(root);
      return d.tmp.length === 0 && records(d).length === stored.length;
    }, 'every event in finished files');
    const byId = Object.fromEntries(stored.map((e) => [e.id, e]));
    for (const f of d.files) {
      const type = f.path.split('/')[0].slice('event_type='.length);
      for (const rec of f.records) {
        const e = byId[rec.id];
        assert.ok(e && e.event_type === type, `${rec.id} in ${f.path}`);
        for (const { name, type: t } of f.schema.fields) {
          const want = e[name] === undefined ? null : e[name];
          if ((t === 'float' || t[1] === 'float') && want !== null) assert.ok(Math.abs(rec[name] - want) < 1e-4, `${type}.${name}`);
          else assert.deepEqual(rec[name], want, `${type}.${name}`);
        }
      }
    }
  } finally {
    await srv.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('SIGKILL with files still open: their events come again after the restart, under new names', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-currents-files-'));
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir, env: FAST });
  try {
    // an hour: nothing is finished until the server stops
    const id = await connector(srv, { name: 'lake', type: 'files', dir: out, max_age_seconds: 3600 });
    const root = path.join(out, `dataexport.brasa-01.Local.integration.${id}`);
    await track(srv, 3, 0);
    await until(async () => readBack(root, true)?.pending.length === 6, 'the events in .tmp files');
    let d = readBack(root);
    assert.equal(d.files.length, 0); // not durable yet: hidden from readers as *.tmp
    assert.equal(d.tmp.length, 2);
    await srv.kill9();

    const key = srv.key; // printed at the first start only
    srv = await h.startServer({ dir, env: FAST });
    srv.key = key;
    await track(srv, 2, 10);
    // the .tmp files of the killed run are gone; the events come again
    await until(async () => readBack(root, true)?.pending.length === 10, 'the events again, and the new ones');
    await srv.stop(); // SIGTERM: the open files are finished
    d = readBack(root);
    assert.equal(d.tmp.length, 0);
    const got = records(d);
    const names = got.filter((r) => r.name).map((r) => r.name).sort();
    assert.deepEqual([...new Set(names)], ['played-0', 'played-1', 'played-10', 'played-11', 'played-2']);
    assert.equal(new Set(got.map((r) => r.id)).size, 10);

    // a third run goes on counting: new files never take an old name
    srv = await h.startServer({ dir, env: FAST });
    srv.key = key;
    await track(srv, 1, 20);
    await until(async () => readBack(root, true)?.pending.length === 2, 'the third run');
    await srv.stop();
    const d2 = readBack(root);
    for (const f of d.files) assert.deepEqual(d2.files.find((g) => g.path === f.path), f, `${f.path} unchanged`);
    assert.equal(d2.files.length, d.files.length + 2);
    const last = Math.max(...d.files.map((f) => Number(f.path.slice(-15, -5))));
    for (const f of d2.files.filter((g) => !d.files.some((x) => x.path === g.path)))
      assert.ok(Number(f.path.slice(-15, -5)) > last, f.path);
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('finishing the files fails (.offset made a directory): the sink is opened again and the events come again', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-currents-files-'));
  const srv = await h.startServer({ env: FAST });
  try {
    const id = await connector(srv, { name: 'lake', type: 'files', dir: out, max_age_seconds: 1 });
    const root = path.join(out, `dataexport.brasa-01.Local.integration.${id}`);
    const offset = path.join(root, '.offset');
    await until(async () => fs.existsSync(offset), 'the sink opened');
    fs.rmSync(offset);
    fs.mkdirSync(path.join(offset, 'x'), { recursive: true });
    await track(srv, 2, 0);
    // the rename onto .offset fails: the open files are dropped, and the
    // sink cannot open again while .offset is not a count
    await until(async () => /does not hold an event count/.test((await show(srv, id)).last_error || ''), 'the error shown');
    let d = readBack(root);
    assert.deepEqual([d.files.length, d.tmp.length], [0, 0]);
    assert.ok((await show(srv, id)).lag.events >= 4);
    fs.rmSync(offset, { recursive: true });
    await until(async () => {
      d = readBack(root);
      return d.tmp.length === 0 && records(d).length === 4;
    }, 'the events in finished files');
    assert.deepEqual(records(d).filter((r) => r.name).map((r) => r.name).sort(), ['played-0', 'played-1']);
    await until(async () => (await show(srv, id)).lag.events === 0, 'the cursor past them');
  } finally {
    await srv.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('files connectors: bad settings refused, a directory that cannot be made shown as the last error', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-currents-files-'));
  const srv = await h.startServer({ env: FAST });
  try {
    const bad = async (body, msg) =>
      h.assertError(await call(srv, 'POST', '/admin/currents', body), 400, typeof msg === 'string' ? `Bad Request: ${msg}` : msg);
    await bad({ name: 'a', type: 'files', dir: 'relative/dir' }, "a files connector needs 'dir', an absolute directory");
    await bad({ name: 'a', type: 'files', dir: out, format: 'parquet' }, "'format' must be avro or ndjson");
    await bad({ name: 'a', type: 'files', dir: out, url: 'http://x.example/' }, "'url' does not apply to a files connector");
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', dir: out }, "'dir' does not apply to a custom_http connector");
    await bad({ name: 'a', type: 'files', dir: out, max_age_seconds: 0 }, "'max_age_seconds' must be an integer from 1 to 86400");
    await bad({ name: 'a', type: 'files', dir: out, cluster: 'a/b' }, "'cluster' must be lowercase letters, digits and '-'");

    // a regular file where the directory should be: the connector exists,
    // delivers nothing, and says why; events wait for it
    const file = path.join(out, 'file');
    fs.writeFileSync(file, 'x');
    const id = await connector(srv, { name: 'blocked', type: 'files', dir: path.join(file, 'sub') });
    await track(srv, 1, 0);
    await until(async () => /Not a directory: cannot create/.test((await show(srv, id)).last_error || ''), 'the error shown');
    const c = await show(srv, id);
    assert.equal(c.sent, 0);
    assert.ok(c.lag.events >= 2, JSON.stringify(c.lag));
  } finally {
    await srv.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
});
