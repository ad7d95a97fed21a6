// durability.test.js -- what the server acknowledged survives kill -9.
//
// A 201 is sent only after the key's transaction is durable, so every key
// whose create got a 201 must authenticate after a SIGKILL and a restart.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

test('a key acknowledged just before kill -9 works after restart', async () => {
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir });
  let k;
  try {
    k = await h.createKey(srv, srv.key, { name: 'one', permissions: ['brasa.keys'] });
    await srv.kill9();
  } finally {
    await srv.cleanup();
  }
  srv = await h.startServer({ dir });
  try {
    assert.equal(srv.key, null, 'no new bootstrap key after a crash');
    const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.keys.some((r) => r.id === k.id && r.name === 'one'));
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a revocation acknowledged just before kill -9 holds after restart', async () => {
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir });
  let k;
  try {
    k = await h.createKey(srv, srv.key, { name: 'gone', permissions: ['brasa.keys'] });
    const rv = await h.request(srv, 'POST', '/admin/keys/revoke', { key: srv.key, body: { id: k.id } });
    assert.equal(rv.status, 201, rv.text);
    await srv.kill9();
  } finally {
    await srv.cleanup();
  }
  srv = await h.startServer({ dir });
  try {
    h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: k.key }), 401, `Invalid API key: ${k.key}`);
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('50 concurrent creators, kill -9 mid-load: every 201 survives', async (t) => {
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir });
  const boot = srv.key;
  const acked = [];
  let failures = 0;
  let killed = false;
  try {
    const WORKERS = 50;
    const KILL_AFTER = 120; // acknowledged creates before the kill
    let seq = 0;
    let killing = null;
    const worker = async (w) => {
      while (!killed) {
        const name = `load-${w}-${seq++}`;
        try {
          const res = await h.request(srv, 'POST', '/admin/keys', { key: boot, body: { name, permissions: ['brasa.keys'] } });
          if (res.status === 201) {
            assert.equal(res.json.key.name, name);
            acked.push(res.json.key);
          } else {
            assert.fail(`create ${name} answered ${res.status} ${res.text}`);
          }
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          failures++; // connection refused/reset by the kill
          if (killed) return;
          if (!killing) throw e;
        }
        if (acked.length >= KILL_AFTER && !killing) {
          // Kill while the other workers still have requests in flight.
          killing = srv.kill9().then(() => {
            killed = true;
          });
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    await killing;
  } finally {
    await srv.cleanup();
  }
  assert.ok(acked.length >= 120, `only ${acked.length} creates acknowledged`);
  t.diagnostic(`${acked.length} creates acknowledged, ${failures} cut off by the kill`);

  srv = await h.startServer({ dir });
  try {
    const res = await h.request(srv, 'GET', '/admin/keys', { key: boot });
    assert.equal(res.status, 200, res.text);
    const ids = new Set(res.json.keys.map((k) => k.id));
    const missing = acked.filter((k) => !ids.has(k.id));
    assert.deepEqual(missing.map((k) => k.name), [], `acknowledged keys missing after kill -9 (${acked.length} acked, ${failures} requests failed)`);
    // Each acknowledged key authenticates (in parallel batches).
    const refused = [];
    for (let i = 0; i < acked.length; i += 25) {
      const batch = acked.slice(i, i + 25);
      const rs = await Promise.all(batch.map((k) => h.request(srv, 'GET', '/admin/keys', { key: k.key })));
      rs.forEach((r, j) => {
        if (r.status !== 200) refused.push(`${batch[j].name}: ${r.status} ${r.text.slice(0, 100)}`);
      });
    }
    assert.deepEqual(refused, [], 'acknowledged keys refused after restart');
    // Ids are unique and names match what was acknowledged.
    const byId = new Map(res.json.keys.map((k) => [k.id, k]));
    for (const k of acked) assert.equal(byId.get(k.id).name, k.name);
    const hz = await h.request(srv, 'GET', '/healthz');
    assert.equal(hz.json.store.failed, 0, hz.text);
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
