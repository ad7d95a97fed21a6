// users_durability.test.js -- acknowledged profile changes survive a clean
// restart (SIGTERM) and a crash (SIGKILL, then journal replay), including a
// crash in the middle of concurrent /users/track load.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

const REPLAYED_RE = /engine: replayed (\d+) journal rows/;

// Changes of every kind (track, alias/new, identify, delete, rename,
// remove). Returns the identifiers whose users a snapshot exports.
async function populate(api, tag) {
  const x = (s) => `${tag}-${s}`;
  await api.trackOk(
    {
      attributes: [
        {
          external_id: x('u1'),
          first_name: 'Zoë',
          email: `${tag}-u1@example.com`,
          dob: '1990-01-02',
          gender: 'F',
          country: 'France',
          current_location: { longitude: 2.35, latitude: 48.85 },
          s: 'str 😀',
          i: 1,
          f: 2.5,
          b: false,
          t: '2020-05-28T10:11:12.345Z',
          arr: ['a', 'b', 'a', 'c'],
          obj: { k: { j: 1 } },
          pets: [{ id: 1, n: 'dog' }, { id: 2, n: 'cat' }],
        },
        { external_id: x('u2'), n: { inc: 5 } },
        { external_id: x('gone'), a: 1 },
        { external_id: x('ren'), a: 1 },
        { email: `${tag}-anon@example.com`, first_name: 'EmailOnly' },
        { user_alias: { alias_name: x('al'), alias_label: 'web' }, _update_existing_only: false, last_name: 'Visitor', v: 1 },
      ],
      events: [
        { external_id: x('u1'), name: 'play', time: '2021-01-01T00:00:00Z', properties: { level: 3 } },
        { external_id: x('u1'), name: 'play', time: '2021-02-01T00:00:00Z' },
        { user_alias: { alias_name: x('al'), alias_label: 'web' }, name: 'play', time: '2020-12-01T00:00:00Z' },
      ],
      purchases: [{ external_id: x('u1'), product_id: 'sku', currency: 'EUR', price: 1.25, quantity: 4, time: '2021-03-01T00:00:00Z' }],
    },
    { attributes_processed: 6, events_processed: 3, purchases_processed: 1, message: 'success' },
  );
  await api.trackOk(
    {
      attributes: [
        { external_id: x('u1'), _merge_objects: true, arr: { add: ['a', 'd'], remove: ['b'] }, obj: { k: { m: 2 } }, pets: { $remove: [{ $identifier_key: 'id', $identifier_value: 2 }] } },
        { external_id: x('u2'), n: { inc: -2 } },
      ],
    },
    { attributes_processed: 2, message: 'success' },
  );
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: x('u1'), alias_name: x('u1al'), alias_label: 'crm' }, { alias_name: x('solo'), alias_label: 'crm' }] }, { aliases_processed: 2, message: 'success' });
  await api.ok('/users/identify', { aliases_to_identify: [{ external_id: x('u2'), user_alias: { alias_name: x('al'), alias_label: 'web' } }] }, { aliases_processed: 1, message: 'success' });
  await api.ok('/users/delete', { external_ids: [x('gone')] }, { deleted: 1, message: 'success' });
  await api.ok('/users/external_ids/rename', { external_id_renames: [{ current_external_id: x('ren'), new_external_id: x('ren2') }] });
  await api.ok('/users/external_ids/rename', { external_id_renames: [{ current_external_id: x('ren2'), new_external_id: x('ren3') }] });
  await api.ok('/users/external_ids/remove', { external_ids: [x('ren')] });
  return {
    external_ids: ['u1', 'u2', 'gone', 'ren', 'ren2', 'ren3'].map(x),
    user_aliases: [
      { alias_name: x('u1al'), alias_label: 'crm' },
      { alias_name: x('solo'), alias_label: 'crm' },
      { alias_name: x('al'), alias_label: 'web' },
    ],
    emails: [`${tag}-u1@example.com`, `${tag}-anon@example.com`],
  };
}

// Everything the identifiers name, as exported (volatile fields included:
// created_at, braze_id and random_bucket must survive too).
async function snapshot(api, ids) {
  const out = { ids: await api.ok('/users/export/ids', { external_ids: ids.external_ids, user_aliases: ids.user_aliases }) };
  for (const e of ids.emails) out[e] = await api.ok('/users/export/ids', { email_address: e });
  return out;
}

function assertSnapshotSane(snap, tag) {
  const x = (s) => `${tag}-${s}`;
  // The deleted user and the removed deprecated id are gone; the rest exists.
  // A user named by several identifiers is listed once (u1 also by its
  // alias, u2 by the alias merged into it, ren3 also by its old id ren2).
  assert.deepEqual(snap.ids.invalid_user_ids, [x('gone'), x('ren')], JSON.stringify(snap.ids));
  assert.equal(snap.ids.users.length, 4);
  const u1 = snap.ids.users[0];
  assert.deepEqual(u1.custom_attributes, {
    s: 'str 😀',
    i: 1,
    f: 2.5,
    b: false,
    t: '2020-05-28T10:11:12.345Z',
    arr: ['c', 'a', 'd'],
    obj: { k: { j: 1, m: 2 } },
    pets: [{ id: 1, n: 'dog' }],
  });
  assert.equal(u1.country, 'FR');
  assert.equal(u1.total_revenue, 5);
  const u2 = snap.ids.users[1];
  assert.equal(u2.external_id, x('u2'));
  assert.deepEqual(u2.custom_attributes, { n: 3, v: 1 });
  assert.equal(u2.last_name, 'Visitor');
  assert.deepEqual(u2.custom_events, [{ name: 'play', first: '2020-12-01T00:00:00.000Z', last: '2020-12-01T00:00:00.000Z', count: 1 }]);
  assert.equal(snap.ids.users[2].external_id, x('ren3'));
  assert.deepEqual(snap.ids.users[3].user_aliases, [{ alias_name: x('solo'), alias_label: 'crm' }]);
}

test('profiles survive a SIGTERM restart unchanged', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true })); // also when the test fails
  let srv = await h.startServer({ dir });
  const boot = srv.key;
  let before;
  let ids;
  try {
    const api = h.usersApi(srv, boot);
    ids = await populate(api, 'term');
    before = await snapshot(api, ids);
    assertSnapshotSane(before, 'term');
  } finally {
    await srv.stop();
  }
  srv = await h.startServer({ dir });
  try {
    const api = h.usersApi(srv, boot);
    assert.deepEqual(await snapshot(api, ids), before);
    // Work goes on from the stored state.
    await api.trackOk({ attributes: [{ external_id: 'term-u2', n: { inc: 10 } }] }, { attributes_processed: 1, message: 'success' });
    assert.equal((await api.user('term-u2', ['custom_attributes'])).custom_attributes.n, 13);
  } finally {
    await srv.stop();
  }
});

test('profiles survive SIGKILL restarts (journal replay), also on top of a checkpoint', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true })); // also when the test fails
  let srv = await h.startServer({ dir });
  const boot = srv.key;
  let snap1;
  let ids1;
  try {
    const api = h.usersApi(srv, boot);
    ids1 = await populate(api, 'kill1');
    snap1 = await snapshot(api, ids1);
    assertSnapshotSane(snap1, 'kill1');
    await srv.kill9();
  } finally {
    await srv.cleanup();
  }

  // First restart: everything comes back from the journal.
  srv = await h.startServer({ dir });
  let snap2;
  let ids2;
  try {
    assert.equal(srv.key, null, 'no new bootstrap key after a crash');
    const m = REPLAYED_RE.exec(srv.stderr());
    assert.ok(m && Number(m[1]) >= 8, `expected a journal replay in the log:\n${h.tail(srv.stderr())}`);
    const api = h.usersApi(srv, boot);
    assert.deepEqual(await snapshot(api, ids1), snap1);
    // More changes on top of the replayed (and checkpointed) state.
    ids2 = await logged(srv, () => populate(api, 'kill2'));
    await api.trackOk({ attributes: [{ external_id: 'kill1-u2', n: { inc: 100 } }] }, { attributes_processed: 1, message: 'success' });
    await api.ok('/users/delete', { user_aliases: [{ alias_name: 'kill1-solo', alias_label: 'crm' }] }, { deleted: 1, message: 'success' });
    snap1 = await snapshot(api, ids1);
    assert.equal(snap1.ids.users[1].custom_attributes.n, 103);
    assert.equal(snap1.ids.users.length, 3);
    snap2 = await snapshot(api, ids2);
    assertSnapshotSane(snap2, 'kill2');
    await srv.kill9();
  } finally {
    await srv.cleanup();
  }

  // Second restart: the checkpoint of the first replay plus a new journal tail.
  srv = await h.startServer({ dir });
  try {
    assert.match(srv.stderr(), REPLAYED_RE);
    const api = h.usersApi(srv, boot);
    assert.deepEqual(await snapshot(api, ids1), snap1);
    assert.deepEqual(await snapshot(api, ids2), snap2);
  } finally {
    await srv.stop();
  }

  // And after a clean stop, once more (nothing left to replay).
  srv = await h.startServer({ dir });
  try {
    const api = h.usersApi(srv, boot);
    assert.deepEqual(await snapshot(api, ids1), snap1);
    assert.deepEqual(await snapshot(api, ids2), snap2);
    const hz = await h.request(srv, 'GET', '/healthz');
    assert.equal(hz.status, 200, hz.text);
  } finally {
    await srv.stop();
  }
});

// Adds the server's log to an error (a crash shows as "fetch failed").
async function logged(srv, fn) {
  try {
    return await fn();
  } catch (e) {
    e.message += `\nbrasa stderr (exit ${JSON.stringify(srv.exited())}):\n${h.tail(srv.stderr(), 3000)}`;
    throw e;
  }
}

// The journal is emptied by every checkpoint (one runs at start-up and at
// shutdown): rows written afterwards must still be replayed after a crash.
test('changes acknowledged after a restart survive a later SIGKILL', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true })); // also when the test fails
  let srv = await h.startServer({ dir });
  const boot = srv.key;
  try {
    const api = h.usersApi(srv, boot);
    for (let i = 1; i <= 5; i++) await api.trackOk({ attributes: [{ external_id: 'seq-1', a: i }] }, { attributes_processed: 1, message: 'success' });
  } finally {
    await srv.stop();
  }
  srv = await h.startServer({ dir });
  try {
    const api = h.usersApi(srv, boot);
    await api.trackOk({ attributes: [{ external_id: 'seq-1', a: 100 }, { external_id: 'seq-2', b: 1 }] }, { attributes_processed: 2, message: 'success' });
    await api.ok('/users/alias/new', { user_aliases: [{ alias_name: 'seq-al', alias_label: 'l' }] }, { aliases_processed: 1, message: 'success' });
    await srv.kill9();
  } finally {
    await srv.cleanup();
  }
  srv = await h.startServer({ dir });
  try {
    const api = h.usersApi(srv, boot);
    const res = await api.ok('/users/export/ids', {
      external_ids: ['seq-1', 'seq-2'],
      user_aliases: [{ alias_name: 'seq-al', alias_label: 'l' }],
      fields_to_export: ['external_id', 'user_aliases', 'custom_attributes'],
    });
    assert.deepEqual(
      res,
      {
        users: [
          { external_id: 'seq-1', user_aliases: [], custom_attributes: { a: 100 } },
          { external_id: 'seq-2', user_aliases: [], custom_attributes: { b: 1 } },
          { user_aliases: [{ alias_name: 'seq-al', alias_label: 'l' }], custom_attributes: {} },
        ],
        message: 'success',
      },
      'changes acknowledged after the restart were lost by the SIGKILL',
    );
  } finally {
    await srv.stop();
  }
});

test('events are accepted after a restart (no clash with what earlier requests stored)', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true })); // also when the test fails
  let srv = await h.startServer({ dir });
  const boot = srv.key;
  const ev = (id, name) => ({ events: [{ external_id: id, name, time: '2021-01-01T00:00:00Z' }], purchases: [{ external_id: id, product_id: 'p', currency: 'USD', price: 1, time: '2021-01-01T00:00:00Z' }] });
  try {
    const api = h.usersApi(srv, boot);
    for (let i = 0; i < 3; i++) await api.trackOk(ev('evr-1', 'first_life'), { events_processed: 1, purchases_processed: 1, message: 'success' });
  } finally {
    await srv.stop();
  }
  for (let life = 2; life <= 3; life++) {
    srv = await h.startServer({ dir });
    try {
      const api = h.usersApi(srv, boot);
      await logged(srv, () => api.trackOk(ev('evr-1', `life_${life}`), { events_processed: 1, purchases_processed: 1, message: 'success' }));
      await logged(srv, () => api.trackOk(ev(`evr-${life}`, 'e'), { events_processed: 1, purchases_processed: 1, message: 'success' }));
      const u = await logged(srv, () => api.user('evr-1', ['purchases']));
      assert.deepEqual(u.purchases, [{ name: 'p', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 3 + life - 1 }]);
    } catch (e) {
      await srv.cleanup(); // report this error, not the failed stop
      throw e;
    }
    await srv.stop();
  }
});

// Concurrent clients each send /users/track requests in a loop: 9 new users
// per request plus one "counter" user per block of BLOCK consecutive
// requests of that client, incremented with {"inc": 1} and given an event
// and a purchase. After KILL_AFTER acknowledged requests the server gets
// SIGKILL while other requests are in flight.
test('SIGKILL in the middle of concurrent /users/track load: every acknowledged change survives', async (t) => {
  const WORKERS = 8;
  const KILL_AFTER = 200; // acknowledged requests before the kill
  const MAX_PER_WORKER = 400; // hard bounds on the loop
  const DEADLINE_MS = 30000;
  const BLOCK = 5;
  const NEW_PER_REQ = 9;
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let srv = await h.startServer({ dir });
  const boot = srv.key;
  const newId = (w, r, i) => `load-w${w}-r${r}-${i}`;
  const counterId = (w, r) => `cnt-w${w}-b${Math.floor(r / BLOCK)}`;
  const body = (w, r) => ({
    attributes: [
      ...Array.from({ length: NEW_PER_REQ }, (_, i) => ({ external_id: newId(w, r, i), w, r, i, tag: `req ${w}/${r} ✓` })),
      { external_id: counterId(w, r), cnt: { inc: 1 }, last_r: r },
    ],
    events: [
      { external_id: counterId(w, r), name: 'tick', time: '2021-01-01T00:00:00Z', properties: { r } },
      { external_id: newId(w, r, 0), name: 'born', time: '2021-01-02T00:00:00Z' },
    ],
    purchases: [{ external_id: counterId(w, r), product_id: 'unit', currency: 'USD', price: 1, time: '2021-01-03T00:00:00Z' }],
  });
  const acked = Array.from({ length: WORKERS }, () => []); // r of each 201
  const unknown = Array.from({ length: WORKERS }, () => []); // r of requests cut off by the kill
  let total = 0;
  let killing = null;
  let killed = false;
  const deadline = Date.now() + DEADLINE_MS;
  try {
    const worker = async (w) => {
      for (let r = 0; r < MAX_PER_WORKER && !killed && Date.now() < deadline; r++) {
        let res;
        try {
          res = await h.request(srv, 'POST', '/users/track', { key: boot, body: body(w, r) });
        } catch (e) {
          // Connection refused/reset by the kill: the outcome is unknown.
          if (!killing) throw e;
          unknown[w].push(r);
          return;
        }
        assert.equal(res.status, 201, `request ${w}/${r}: ${res.status} ${res.text}`);
        assert.deepEqual(res.json, { attributes_processed: NEW_PER_REQ + 1, events_processed: 2, purchases_processed: 1, message: 'success' });
        acked[w].push(r);
        if (++total >= KILL_AFTER && !killing) {
          killing = srv.kill9().then(() => {
            killed = true;
          });
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    if (!killing) killing = srv.kill9().then(() => (killed = true));
    await killing;
  } finally {
    await srv.cleanup();
  }
  assert.ok(total >= KILL_AFTER, `only ${total} requests acknowledged before the deadline`);
  t.diagnostic(`${total} requests acknowledged, ${unknown.flat().length} cut off by the kill`);

  srv = await h.startServer({ dir });
  try {
    const api = h.usersApi(srv, boot);
    const exportMap = async (ids, fields) => {
      const found = new Map();
      for (let i = 0; i < ids.length; i += 50) {
        const res = await api.ok('/users/export/ids', { external_ids: ids.slice(i, i + 50), fields_to_export: fields });
        for (const u of res.users) found.set(u.external_id, u);
      }
      return found;
    };

    // 1. Every user of an acknowledged request exists with its values.
    const ackedIds = [];
    for (let w = 0; w < WORKERS; w++) for (const r of acked[w]) for (let i = 0; i < NEW_PER_REQ; i++) ackedIds.push([w, r, i]);
    const found = await exportMap(ackedIds.map(([w, r, i]) => newId(w, r, i)), ['external_id', 'custom_attributes', 'custom_events']);
    const missing = [];
    for (const [w, r, i] of ackedIds) {
      const u = found.get(newId(w, r, i));
      if (!u) {
        missing.push(newId(w, r, i));
        continue;
      }
      assert.deepEqual(u.custom_attributes, { w, r, i, tag: `req ${w}/${r} ✓` }, newId(w, r, i));
      const born = i === 0 ? [{ name: 'born', first: '2021-01-02T00:00:00.000Z', last: '2021-01-02T00:00:00.000Z', count: 1 }] : [];
      assert.deepEqual(u.custom_events, born, newId(w, r, i));
    }
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} users of acknowledged requests missing after kill -9`);

    // 2. A request cut off by the kill applied entirely or not at all.
    const applied = new Map(); // "w/r" -> bool
    for (let w = 0; w < WORKERS; w++) {
      for (const r of unknown[w]) {
        const ids = Array.from({ length: NEW_PER_REQ }, (_, i) => newId(w, r, i));
        const got = await exportMap(ids, ['external_id', 'custom_attributes']);
        assert.ok(got.size === 0 || got.size === NEW_PER_REQ, `request ${w}/${r} half applied: ${got.size} of ${NEW_PER_REQ} users`);
        for (const [id, u] of got) assert.deepEqual(u.custom_attributes, { w, r, i: Number(id.split('-').pop()), tag: `req ${w}/${r} ✓` });
        applied.set(`${w}/${r}`, got.size === NEW_PER_REQ);
      }
    }
    t.diagnostic(`${[...applied.values()].filter(Boolean).length} of ${applied.size} cut-off requests had been applied`);

    // 3. Counters: exactly the acknowledged increments for blocks only
    // acknowledged requests touched; plus the cut-off request if (and only
    // if) its users exist.
    const blocks = new Map(); // counter id -> {acked: [r], cut: [r]}
    for (let w = 0; w < WORKERS; w++) {
      for (const r of acked[w]) {
        const b = blocks.get(counterId(w, r)) || { acked: [], cut: [] };
        b.acked.push(r);
        blocks.set(counterId(w, r), b);
      }
      for (const r of unknown[w]) {
        const b = blocks.get(counterId(w, r)) || { acked: [], cut: [] };
        b.cut.push({ r, applied: applied.get(`${w}/${r}`) });
        blocks.set(counterId(w, r), b);
      }
    }
    const counters = await exportMap([...blocks.keys()], ['external_id', 'custom_attributes', 'custom_events', 'purchases', 'total_revenue']);
    let exact = 0;
    for (const [id, b] of blocks) {
      const rs = [...b.acked, ...b.cut.filter((c) => c.applied).map((c) => c.r)];
      const u = counters.get(id);
      if (rs.length === 0) {
        assert.equal(u, undefined, `${id} exists although its only request was not applied`);
        continue;
      }
      assert.ok(u, `counter ${id} missing`);
      if (b.cut.length === 0) exact++;
      const n = rs.length;
      assert.deepEqual(u.custom_attributes, { cnt: n, last_r: Math.max(...rs) }, `${id}: acked ${b.acked}, cut ${JSON.stringify(b.cut)}`);
      assert.deepEqual(u.custom_events, [{ name: 'tick', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: n }], id);
      assert.deepEqual(u.purchases, [{ name: 'unit', first: '2021-01-03T00:00:00.000Z', last: '2021-01-03T00:00:00.000Z', count: n }], id);
      assert.equal(u.total_revenue, n, id);
    }
    assert.ok(exact > 0, 'no counter was touched by acknowledged requests only');
    t.diagnostic(`${ackedIds.length} users and ${blocks.size} counters checked (${exact} exactly)`);

    // 4. The server works on: the counters go on from their values.
    const someW = acked.findIndex((a) => a.length > 0);
    const cid = counterId(someW, 0);
    const before = counters.get(cid).custom_attributes.cnt;
    await api.trackOk({ attributes: [{ external_id: cid, cnt: { inc: 1 } }] }, { attributes_processed: 1, message: 'success' });
    assert.equal((await api.user(cid, ['custom_attributes'])).custom_attributes.cnt, before + 1);
    const hz = await h.request(srv, 'GET', '/healthz');
    assert.equal(hz.json.store.failed, 0, hz.text);
  } finally {
    await srv.stop();
  }
});
