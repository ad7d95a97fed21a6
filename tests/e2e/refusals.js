// refusals.js -- helpers for the error-path tests of the messaging and
// campaign endpoints (messaging_errors.test.js, campaigns_errors.test.js):
// send a request that must be refused, check its status and exact error
// body, and check that it changed nothing the server stores (dispatches,
// schedules, send ids, campaigns, apps, the profile journal), read from the
// data directory's brasa.db with the sqlite3 CLI while the server runs.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');

// What an error must leave as it was.
const SNAPSHOT_SQL = `SELECT json_object(
  'dispatches', (SELECT json_group_array(id) FROM (SELECT id FROM dispatches ORDER BY seq)), -- progress moves on its own
  'schedules', (SELECT json_group_array(json_array(id, state, at, updated_at, request)) FROM (SELECT * FROM schedules ORDER BY id)),
  'send_ids', (SELECT json_group_array(json_array(campaign_id, send_id)) FROM (SELECT * FROM send_ids ORDER BY 1, 2)),
  'campaigns', (SELECT json_group_array(json_array(id, updated_at, archived, doc)) FROM (SELECT * FROM campaigns ORDER BY seq)),
  'apps', (SELECT count(*) FROM apps),
  'journal', ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0))`;

function snapshot(srv) {
  const r = spawnSync('sqlite3', [path.join(srv.dir, 'brasa.db'), SNAPSHOT_SQL], { encoding: 'utf8' });
  assert.equal(r.status, 0, `sqlite3: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// A body sent as is (not JSON.stringify'd): raw('[]'), raw('"x"').
class Raw {
  constructor(text) {
    this.text = text;
  }
}
const raw = (text) => new Raw(text);

async function send(srv, method, p, body, key) {
  if (body instanceof Raw) return h.request(srv, method, p, { key, raw: body.text, headers: { 'content-type': 'application/json' } });
  return h.request(srv, method, p, { key, body });
}

// Sends the request, requires the error answer (status, exact message or
// RegExp) and an unchanged store. Returns the response.
async function refused(srv, method, p, body, status, message, { key = srv.key } = {}) {
  const before = snapshot(srv);
  const res = await send(srv, method, p, body, key);
  h.assertError(res, status, message);
  assert.deepEqual(snapshot(srv), before, `${method} ${p} ${JSON.stringify(body)}: refused, yet the store changed`);
  return res;
}

// Runs a table of cases [name, body, status, message] against one route, a
// subtest each.
async function table(t, srv, method, p, cases, opts) {
  for (const [name, body, status, message] of cases)
    await t.test(name, () => refused(srv, method, p, body, status, message, opts));
}

// A value as a short case name.
const show = (v) => {
  const s = String(JSON.stringify(v));
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
};

// A JSON object of about n bytes.
const bigObject = (n) => ({ blob: 'x'.repeat(n) });

module.exports = { snapshot, raw, send, refused, table, show, bigObject };
