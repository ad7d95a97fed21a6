// journal_v1.test.js -- a data directory written by the previous journal
// format (request bodies, format 1) replays on this version to exactly the
// answers that version gave (tests/e2e/fixtures/journal-v1/README.md).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const FIX = path.join(__dirname, 'fixtures', 'journal-v1');
const KEY = '66183ac9-f2a0-46a4-af40-3d0fde831e79';
const QUERIES = [
  { external_ids: ['ann', 'robert', 'carol', 'dan'], user_aliases: [{ alias_name: 'solo', alias_label: 'crm' }] },
  { external_ids: ['bob'] }, // robert's deprecated id
  { email_address: 'ann@example.com' },
  { phone: '+15555550100' },
  { device_id: 'dev-1' },
];

function restore(dir) {
  for (const db of ['brasa', 'profiles']) {
    const r = spawnSync('sqlite3', [path.join(dir, `${db}.db`)], { input: fs.readFileSync(path.join(FIX, `${db}.sql`)) });
    assert.equal(r.status, 0, String(r.stderr));
  }
}

async function answers(srv) {
  const out = [];
  for (const q of QUERIES) out.push((await h.request(srv, 'POST', '/users/export/ids', { key: KEY, body: q })).json);
  return out;
}

test('a format-1 journal from the previous version replays to the same answers', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  restore(dir);
  const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8'));
  let srv = await h.startServer({ dir });
  try {
    assert.equal(srv.key, null, 'an existing store gets no bootstrap key');
    assert.match(srv.stderr(), /engine: replayed 9 journal rows/);
    assert.match(srv.stderr(), /applied migration 006_journal_format/);
    assert.deepEqual(await answers(srv), expected);
    const c = await h.request(srv, 'GET', '/admin/cohorts', { key: KEY });
    assert.equal(c.json.cohorts.length, 1);
    assert.equal(c.json.cohorts[0].size, 2);
    assert.deepEqual({ ...c.json.cohorts[0].last_import, at: 0 }, { at: 0, added: 3, removed: 0, unchanged: 0, unmatched: 1 });
    // New writes go on top, as change records.
    const w = await h.request(srv, 'POST', '/users/track', { key: KEY, body: { attributes: [{ external_id: 'ann', visits: { inc: 1 } }] } });
    assert.equal(w.status, 201, w.text);
    await srv.kill9();
  } finally {
    await srv.cleanup();
  }
  // From the start-up checkpoint plus a format-2 tail.
  srv = await h.startServer({ dir });
  try {
    const now = await answers(srv);
    expected[0].users[0].custom_attributes.visits += 1; // ann, by id
    expected[2].users[0].custom_attributes.visits += 1; // ann, by email
    assert.deepEqual(now, expected);
  } finally {
    await srv.stop();
  }
});
