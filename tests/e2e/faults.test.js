// faults.test.js -- the server when its disk fails, through the fault
// injection of test builds (BRASA_FAULT, src/store/fault.h): a failed
// commit is never acknowledged, the server stops instead of answering from
// memory the disk lacks, and a restart has every acknowledged write; a read
// error at start-up refuses the start and changes nothing.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

const STORAGE = 'Internal Server Error: storage failure';

async function count(srv, key) {
  const r = await h.request(srv, 'POST', '/users/export/ids', { key, body: { external_ids: ['f'], fields_to_export: ['custom_attributes'] } });
  assert.equal(r.status, 201, r.text);
  return r.json.users.length ? r.json.users[0].custom_attributes.n : 0;
}

for (const [what, spec] of [
  ['an fsync that fails during the group commit', 'sync:brasa.db-wal:30'],
  // the nth write comes after start-up's (migrations included: about 330 today)
  ['a full disk while journaling', 'write:brasa.db-wal:420:0:full'],
]) {
  test(`${what}: 500 and no acknowledgement, the server exits 1, a restart has every acknowledged write`, async (t) => {
    const dir = h.makeDataDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    let srv = await h.startServer({ dir, env: { BRASA_FAULT: spec } });
    const key = srv.key;
    let acked = 0;
    try {
      let failed = null;
      for (let i = 0; i < 500 && !failed; i++) {
        const r = await h.request(srv, 'POST', '/users/track', { key, body: { attributes: [{ external_id: 'f', n: { inc: 1 } }] } });
        if (r.status === 201) acked++;
        else failed = r;
      }
      assert.ok(failed, 'the fault never fired');
      h.assertError(failed, 500, STORAGE);
      // Nothing is answered from memory now: reads fail too, until the
      // server is gone.
      const after = await h.request(srv, 'POST', '/users/export/ids', { key, body: { external_ids: ['f'] } }).catch(() => null);
      if (after) h.assertError(after, 500, STORAGE);
      await h.poll(() => srv.exited(), { deadlineMs: 10000, intervalMs: 20 });
      assert.equal(srv.exited().code, 1, h.tail(srv.stderr()));
      assert.match(srv.stderr(), /the store failed/);
      assert.match(srv.stderr(), /http: 500 on POST \/users\/track: /); // every 5xx logs its cause
      h.assertNoSanitizerReport(srv.stderr());
    } finally {
      await srv.cleanup();
    }
    srv = await h.startServer({ dir });
    try {
      const n = await count(srv, key);
      // The failed commit was never acknowledged; whether its bytes reached
      // the disk is the disk's business. Every acknowledged one is there.
      assert.ok(n === acked || n === acked + 1, `n=${n}, acknowledged ${acked}`);
      t.diagnostic(`acknowledged ${acked}, found ${n}`);
    } finally {
      await srv.stop();
    }
  });
}

test('a read error at start-up: the server refuses to start and changes nothing', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let srv = await h.startServer({ dir });
  const key = srv.key;
  try {
    for (let i = 0; i < 5; i++) {
      const r = await h.request(srv, 'POST', '/users/track', { key, body: { attributes: [{ external_id: 'f', n: { inc: 1 } }] } });
      assert.equal(r.status, 201, r.text);
    }
  } finally {
    await srv.stop();
  }
  const r = h.cli(['serve', '--port', '0', '--listen', '127.0.0.1'], { dir, env: { BRASA_FAULT: 'read:profiles.db:2' } });
  assert.equal(r.status, 1, r.stderr);
  assert.doesNotMatch(r.stdout, /listening/);
  assert.match(r.stderr, /I\/O error|disk I\/O/);
  srv = await h.startServer({ dir });
  try {
    assert.equal(await count(srv, key), 5);
  } finally {
    await srv.stop();
  }
});
