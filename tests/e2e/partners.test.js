// partners.test.js -- Partner Cohort Import the way Heap, Amplitude,
// Tinyclues or Segment use it: data import keys from the CLI and the admin
// API, every refused request (status and exact body), Braze's matching
// rules, the issue's "Done when" scripts (Heap; Tinyclues after invalidating
// and regenerating its key), the export's cohorts, and durability across
// SIGKILL.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const CHANGES_MSG =
  'cohort_changes must be an array of objects each with key user_ids and/or device_ids mapping to an array of strings, or an aliases object';
const MAX_MSG = 'Only 1,000 user_ids, device_ids, and aliases are allowed per request';
const CREATED_AT = '2021-01-21T19:20:30+05:00';

// Membership is checked user by user through /users/export/ids: its Braze
// limit (250 / min) is lifted for these servers.
const SERVE_ARGS = ['--rate-limit', 'users.export.ids=0'];

const srv = h.fileServer({ args: SERVE_ARGS });

// ---- helpers -----------------------------------------------------------------

// `brasa partners key NAME [args]` on the server's data dir: the key alone on
// one line of stdout.
function cliKey(s, name, ...args) {
  const r = h.cli(['partners', 'key', name, ...args], { dir: s.dir });
  assert.equal(r.status, 0, `partners key ${name}: ${r.status} ${r.stderr}`);
  assert.match(r.stdout, /^[0-9a-f-]{36}\n$/, `the key alone on one line: ${JSON.stringify(r.stdout)}`);
  const key = r.stdout.trim();
  assert.match(key, h.UUID4_RE);
  return key;
}

const partnerPost = (s, partner, suffix, body, opts = {}) =>
  h.request(s, 'POST', `/partners/${partner}/cohorts${suffix}`, { body, ...opts });

async function nameCall(s, partner, secret, cohortId, name, extra = {}) {
  const res = await partnerPost(s, partner, '', {
    partner_api_key: 'braze-issued-partner-key',
    client_secret: secret,
    cohort_id: cohortId,
    name,
    created_at: CREATED_AT,
    ...extra,
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { message: 'success' });
}

// A users call that must succeed; returns {added, removed, unchanged, unmatched}.
async function usersCall(s, partner, secret, cohortId, changes) {
  const res = await partnerPost(s, partner, '/users', {
    partner_api_key: 'braze-issued-partner-key',
    client_secret: secret,
    cohort_id: cohortId,
    cohort_changes: changes,
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(Object.keys(res.json), ['added', 'removed', 'unchanged', 'unmatched', 'message'], res.text);
  assert.equal(res.json.message, 'success');
  const { message, ...counts } = res.json;
  return counts;
}

// /users/track attributes in batches of 75.
async function trackAll(s, attributes) {
  for (let i = 0; i < attributes.length; i += 75) {
    const res = await h.request(s, 'POST', '/users/track', { key: s.key, body: { attributes: attributes.slice(i, i + 75) } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.attributes_processed, Math.min(75, attributes.length - i), res.text);
  }
}

async function adminCohorts(s, partner) {
  const res = await h.request(s, 'GET', `/admin/cohorts${partner ? `?partner=${partner}` : ''}`, { key: s.key });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.message, 'success');
  return res.json.cohorts;
}

async function cohortOf(s, partner, id) {
  const c = (await adminCohorts(s, partner)).find((x) => x.cohort_id === id);
  assert.ok(c, `cohort ${partner}/${id} is listed`);
  return c;
}

// The cohorts field of each exported user, in request order.
async function exportCohorts(s, body) {
  const res = await h.request(s, 'POST', '/users/export/ids', {
    key: s.key,
    body: { ...body, fields_to_export: ['external_id', 'user_aliases', 'cohorts'] },
  });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.invalid_user_ids, undefined, res.text);
  return res.json.users;
}

const ref = (partner, cohortId, name) => [{ partner, cohort_id: cohortId, name }];

// Asserts the membership of every external id in ids (50 per export).
async function assertMembers(s, ids, expected, isMember) {
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = ids.slice(i, i + 50);
    const users = await exportCohorts(s, { external_ids: chunk });
    assert.equal(users.length, chunk.length);
    users.forEach((u, j) => {
      assert.equal(u.external_id, chunk[j]);
      assert.deepEqual(u.cohorts, isMember(chunk[j]) ? expected : [], `cohorts of ${chunk[j]}`);
    });
  }
}

// ---- data import keys: CLI ------------------------------------------------------

test('CLI: partners key prints a new data import key once; a second one needs --rotate', () => {
  const key = cliKey(srv, 'amplitude');
  const again = h.cli(['partners', 'key', 'amplitude'], { dir: srv.dir });
  assert.equal(again.status, 1);
  assert.equal(again.stdout, '');
  assert.match(again.stderr, /amplitude already has a valid data import key; --rotate makes a new one, --invalidate ends it/);
  const json = h.cli(['partners', 'key', 'census', '--json'], { dir: srv.dir });
  assert.equal(json.status, 0, json.stderr);
  const o = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(o), ['partner', 'id', 'key', 'created_at', 'previous_keys', 'previous_keys_expire_at']);
  assert.equal(o.partner, 'census');
  assert.match(o.key, h.UUID4_RE);
  assert.equal(o.previous_keys, 0);
  assert.equal(o.previous_keys_expire_at, null);
  assert.notEqual(o.key, key);
  // Upper case is the same partner (path segments are normalised).
  const upper = h.cli(['partners', 'key', 'Census'], { dir: srv.dir });
  assert.equal(upper.status, 1, upper.stdout);
});

test('CLI: partners list shows partners and key state, never key text', () => {
  const key = cliKey(srv, 'mixpanel');
  const r = h.cli(['partners', 'list', '--json'], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stdout.includes(key));
  const list = JSON.parse(r.stdout);
  const names = list.map((p) => p.partner);
  assert.deepEqual(names, [...names].sort());
  const mp = list.find((p) => p.partner === 'mixpanel');
  assert.deepEqual(Object.keys(mp), ['partner', 'valid_keys', 'keys', 'partner_api_key', 'cohorts']);
  assert.equal(mp.valid_keys, 1);
  assert.equal(mp.keys.length, 1);
  assert.deepEqual(Object.keys(mp.keys[0]), ['id', 'created_at', 'expires_at', 'valid']);
  assert.equal(mp.keys[0].expires_at, null);
  assert.equal(mp.keys[0].valid, true);
  assert.equal(mp.partner_api_key, 'any');
  const table = h.cli(['partners', 'list'], { dir: srv.dir });
  assert.equal(table.status, 0);
  assert.match(table.stdout, /^PARTNER +VALID KEYS/);
  assert.match(table.stdout, /\nmixpanel +1 +1 +any +0 /);
});

test('CLI: usage errors exit 2 with a message', () => {
  const cases = [
    [['partners'], /usage: brasa partners key/],
    [['partners', 'key'], /partners key needs a partner NAME/],
    [['partners', 'list', 'heap'], /partners list takes no NAME/],
    [['partners', 'key', 'he ap'], /'he ap' is not a partner name/],
    [['partners', 'key', '-x'], /unknown option|is not a partner name/],
    [['partners', 'key', 'heap', '--rotate', '--invalidate'], /--rotate and --invalidate exclude each other/],
    [['partners', 'key', 'heap', '--overlap', '1h'], /--overlap goes with --rotate/],
    [['partners', 'key', 'heap', '--rotate', '--overlap', '1w'], /--overlap takes N\[s\|m\|h\|d\]/],
    [['partners', 'set', 'heap'], /needs a non-empty --partner-api-key or --any-partner-api-key/],
    [['partners', 'set', 'heap', '--partner-api-key', 'a', '--any-partner-api-key'], /needs a non-empty/],
    [['partners', 'frob'], /unknown partners command 'frob'/],
    [['cohorts'], /usage: brasa cohorts list/],
    [['cohorts', 'list', '--partner', 'a b'], /'a b' is not a partner name/],
    [['cohorts', 'drop'], /unknown cohorts command 'drop'/],
  ];
  for (const [args, re] of cases) {
    const r = h.cli(args, { dir: srv.dir });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.status} ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
  const none = h.cli(['partners', 'key', 'nobody-yet', '--invalidate'], { dir: srv.dir });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /nobody-yet has no valid data import key/);
});

// ---- authentication of partner requests -----------------------------------------

test('partner requests: 401 for a missing, unknown or other partner\'s client secret (exact bodies)', async () => {
  const heap = cliKey(srv, 'hightouch');
  const body = { partner_api_key: 'p', cohort_id: 'c', name: 'n', created_at: CREATED_AT };
  for (const suffix of ['', '/users']) {
    let res = await partnerPost(srv, 'hightouch', suffix, body);
    h.assertError(res, 401, 'Invalid client secret');
    res = await partnerPost(srv, 'hightouch', suffix, { ...body, client_secret: 'not-a-key' });
    h.assertError(res, 401, 'Invalid client secret');
    res = await partnerPost(srv, 'hightouch', suffix, { ...body, client_secret: 12345 });
    h.assertError(res, 401, 'Invalid client secret');
    res = await partnerPost(srv, 'hightouch', suffix, { ...body, client_secret: '' });
    h.assertError(res, 401, 'Invalid client secret');
    // A valid key of another partner (also for a partner nobody set up, or
    // a path segment no partner can have).
    for (const other of ['growthloop', 'Not%20A%20Name']) {
      res = await partnerPost(srv, other, suffix, { ...body, client_secret: heap });
      h.assertError(res, 401, `Partner not enabled for client with client secret: ${heap}`);
    }
    // A REST API key is not a data import key, in the body or the header.
    res = await partnerPost(srv, 'hightouch', suffix, { ...body, client_secret: srv.key }, { key: srv.key });
    h.assertError(res, 401, 'Invalid client secret');
    // No rate-limit headers: these endpoints are not rate limited.
    assert.equal(res.headers.get('x-ratelimit-limit'), null);
  }
  const res = await partnerPost(srv, 'hightouch', '', { ...body, client_secret: 'k'.repeat(5000) });
  h.assertError(res, 401, 'Invalid client secret');
});

test('partner requests: the body must be a JSON object; malformed JSON is 400', async () => {
  const key = cliKey(srv, 'segment');
  h.assertError(await partnerPost(srv, 'segment', '', [key]), 400, 'Bad Request: the body must be a JSON object');
  h.assertError(await partnerPost(srv, 'segment', '/users', 'x'), 400, 'Bad Request: the body must be a JSON object');
  const res = await partnerPost(srv, 'segment', '', undefined, { raw: '{"client_secret":', headers: { 'content-type': 'application/json' } });
  h.assertError(res, 400, /^Invalid JSON in request body: /);
  h.assertError(await h.request(srv, 'POST', '/partners/segment/cohorts', {}), 400, 'Bad Request: the body must be a JSON object');
  // Wrong method and paths: the usual JSON 405 / 404.
  const get = await h.request(srv, 'GET', '/partners/segment/cohorts');
  h.assertError(get, 405, 'Method Not Allowed');
  assert.equal(get.headers.get('allow'), 'POST');
  h.assertError(await h.request(srv, 'POST', '/partners/segment', { body: {} }), 404, 'Not Found');
  h.assertError(await h.request(srv, 'POST', '/partners/segment/cohorts/users/x', { body: {} }), 404, 'Not Found');
});

test('partner_api_key: any value until the operator sets one; then only that one (exact bodies)', async () => {
  const key = cliKey(srv, 'heap-pak');
  const call = (pak) =>
    partnerPost(srv, 'heap-pak', '', {
      ...(pak === undefined ? {} : { partner_api_key: pak }),
      client_secret: key,
      cohort_id: 'pak',
      name: 'P',
      created_at: CREATED_AT,
    });
  assert.equal((await call('anything')).status, 201);
  assert.equal((await call(undefined)).status, 201);
  let r = h.cli(['partners', 'set', 'heap-pak', '--partner-api-key', 'braze-heap-us'], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'heap-pak: the partner_api_key is now required\n');
  // The CLI writes the store; the server sees it within its key cache time.
  const refused = await h.poll(async () => (await call('anything')).status === 401, { deadlineMs: 3000 });
  assert.ok(refused, 'the partner_api_key is required within ~1 s');
  h.assertError(await call('anything'), 401, 'Invalid Partner API key');
  h.assertError(await call(undefined), 401, 'Invalid Partner API key');
  h.assertError(await call(7), 401, 'Invalid Partner API key');
  // Checked before the client secret, as Braze lists them.
  const both = await partnerPost(srv, 'heap-pak', '', { partner_api_key: 'x', client_secret: 'y', cohort_id: 'c', name: 'n', created_at: CREATED_AT });
  h.assertError(both, 401, 'Invalid Partner API key');
  assert.equal((await call('braze-heap-us')).status, 201);
  const listed = JSON.parse(h.cli(['partners', 'list', '--json'], { dir: srv.dir }).stdout).find((p) => p.partner === 'heap-pak');
  assert.equal(listed.partner_api_key, 'configured');
  r = h.cli(['partners', 'set', 'heap-pak', '--any-partner-api-key'], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'heap-pak: any partner_api_key is accepted\n');
  assert.ok(await h.poll(async () => (await call('anything')).status === 201, { deadlineMs: 3000 }));
});

// ---- bad input: every 400, exact bodies ------------------------------------------

test('name call: 400 for a bad cohort_id, name or created_at (exact bodies)', async () => {
  const key = cliKey(srv, 'tinyclues-bad');
  const base = { partner_api_key: 'p', client_secret: key, cohort_id: 'c1', name: 'N', created_at: CREATED_AT };
  const cases = [
    [{ cohort_id: undefined }, "cohort_id must be a valid string: 'cohort_id' is required"],
    [{ cohort_id: null }, "cohort_id must be a valid string: 'cohort_id' is required"],
    [{ cohort_id: 42 }, "cohort_id must be a valid string: 'cohort_id' is not a string"],
    [{ cohort_id: '' }, "cohort_id must be a valid string: 'cohort_id' is empty"],
    [{ cohort_id: 'x'.repeat(256) }, "cohort_id must be a valid string: 'cohort_id' is longer than 255 bytes"],
    [{ name: undefined }, "name must be a non-empty string: 'name' is required"],
    [{ name: '' }, "name must be a non-empty string: 'name' is empty"],
    [{ name: ['N'] }, "name must be a non-empty string: 'name' is not a string"],
    [{ name: 'n'.repeat(1001) }, "name must be a non-empty string: 'name' is longer than 1000 bytes"],
    [{ created_at: undefined }, "created_at must be a valid time as an ISO-8601 string: 'created_at' is required"],
    [{ created_at: 'yesterday' }, 'created_at must be a valid time as an ISO-8601 string: got "yesterday"'],
    [{ created_at: '06/28/2021' }, 'created_at must be a valid time as an ISO-8601 string: got "06/28/2021"'],
    [{ created_at: '2021-02-30T00:00:00Z' }, 'created_at must be a valid time as an ISO-8601 string: got "2021-02-30T00:00:00Z"'],
    [{ created_at: 1611256830 }, 'created_at must be a valid time as an ISO-8601 string: got 1611256830'],
  ];
  for (const [patch, msg] of cases) {
    const body = { ...base, ...patch };
    for (const k of Object.keys(patch)) if (patch[k] === undefined) delete body[k];
    h.assertError(await partnerPost(srv, 'tinyclues-bad', '', body), 400, msg);
  }
  // None of them created a cohort.
  assert.deepEqual(await adminCohorts(srv, 'tinyclues-bad'), []);
});

test('users call: 400 for an unknown cohort, malformed changes, mixed identifier types, empty arrays, over 1,000 ids (exact bodies)', async () => {
  const key = cliKey(srv, 'amplitude-bad');
  await nameCall(srv, 'amplitude-bad', key, 'known', 'Known');
  const call = (changes, cohortId = 'known') =>
    partnerPost(srv, 'amplitude-bad', '/users', { partner_api_key: 'p', client_secret: key, cohort_id: cohortId, cohort_changes: changes });
  const ok = [{ user_ids: ['nobody'] }];
  h.assertError(await call(ok, 'never-named'), 400,
    "cohort_id must be a valid string: no cohort 'never-named' for partner 'amplitude-bad'; create it with POST /partners/amplitude-bad/cohorts first");
  // Another partner's cohort of the same id is another cohort.
  const other = cliKey(srv, 'amplitude-other');
  h.assertError(
    await partnerPost(srv, 'amplitude-other', '/users', { client_secret: other, cohort_id: 'known', cohort_changes: ok }),
    400,
    "cohort_id must be a valid string: no cohort 'known' for partner 'amplitude-other'; create it with POST /partners/amplitude-other/cohorts first",
  );
  h.assertError(await call(ok, 7), 400, "cohort_id must be a valid string: 'cohort_id' is not a string");
  h.assertError(await call(ok, ''), 400, "cohort_id must be a valid string: 'cohort_id' is empty");
  const noChanges = await partnerPost(srv, 'amplitude-bad', '/users', { client_secret: key, cohort_id: 'known' });
  h.assertError(noChanges, 400, `${CHANGES_MSG}: 'cohort_changes' is required`);
  const cases = [
    [{ user_ids: ['a'] }, "'cohort_changes' is not an array"],
    ['a', "'cohort_changes' is not an array"],
    [['a'], 'cohort_changes[0] is not an object'],
    [[{ user_ids: ['a'] }, null], 'cohort_changes[1] is not an object'],
    [[{ user_ids: 'a' }], 'cohort_changes[0].user_ids is not an array'],
    [[{ user_ids: ['a', 5] }], 'cohort_changes[0].user_ids[1] is not a string'],
    [[{ device_ids: [null] }], 'cohort_changes[0].device_ids[0] is not a string'],
    [[{ aliases: { alias_name: 'n', alias_label: 'l' } }], 'cohort_changes[0].aliases is not an array'],
    [[{ aliases: [{ alias_name: 'n' }] }], 'cohort_changes[0].aliases[0] is not an object with string alias_name and alias_label'],
    [[{ aliases: [{ alias_name: 'n', alias_label: 3 }] }], 'cohort_changes[0].aliases[0] is not an object with string alias_name and alias_label'],
    [[{ user_ids: ['a'], should_remove: 'true' }], 'cohort_changes[0].should_remove is not a boolean'],
    [[{ external_ids: ['a'] }], 'cohort_changes[0] has none of user_ids, device_ids, aliases'],
    // Mixed identifier types in one change: an alias among external ids, an
    // id among aliases, an alias among device ids.
    [[{ user_ids: ['a', { alias_name: 'n', alias_label: 'l' }] }], 'cohort_changes[0].user_ids[1] is not a string'],
    [[{ aliases: [{ alias_name: 'n', alias_label: 'l' }, 'ext-1'] }], 'cohort_changes[0].aliases[1] is not an object with string alias_name and alias_label'],
    [[{ user_ids: ['a'], device_ids: [{ alias_name: 'n', alias_label: 'l' }] }], 'cohort_changes[0].device_ids[0] is not a string'],
    // Changes that name nobody at all. (An empty list is a valid no-op:
    // see the Segment test below.)
    [[{ user_ids: [], device_ids: [], aliases: [] }], 'no user_ids, device_ids or aliases were given'],
    [[{ user_ids: [] }, { aliases: [], should_remove: true }], 'no user_ids, device_ids or aliases were given'],
  ];
  for (const [changes, detail] of cases) h.assertError(await call(changes), 400, `${CHANGES_MSG}: ${detail}`);

  // At most 1,000 ids, counted over every change and kind.
  const ids = (n, p) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  const aliases = Array.from({ length: 100 }, (_, i) => ({ alias_name: `n${i}`, alias_label: 'l' }));
  const at = (extra) => [{ user_ids: ids(600, 'u') }, { device_ids: ids(300 + extra, 'd'), aliases, should_remove: true }];
  h.assertError(await call(at(1)), 400, `${MAX_MSG}: this request has 1001`);
  h.assertError(await call([{ user_ids: ids(5000, 'u') }]), 400, `${MAX_MSG}: this request has 5000`);
  assert.deepEqual(await usersCall(srv, 'amplitude-bad', key, 'known', at(0)), { added: 0, removed: 0, unchanged: 0, unmatched: 1000 });

  // The refused calls changed nothing; the accepted one is the last import.
  const c = await cohortOf(srv, 'amplitude-bad', 'known');
  assert.equal(c.size, 0);
  assert.deepEqual({ ...c.last_import, at: undefined }, { at: undefined, added: 0, removed: 0, unchanged: 0, unmatched: 1000 });
});

// ---- matching rules ----------------------------------------------------------------

// Segment's Braze Cohorts destination checks its settings by posting an
// empty change list for a placeholder cohort: a good key gets a 2xx, a bad
// one a 401, and nothing is created.
test('Segment destination set-up: an empty cohort_changes is a no-op 201 for any cohort id; 401 for a bad key', async () => {
  const key = cliKey(srv, 'segment-setup');
  const check = { partner_api_key: 'segment-pk', client_secret: key, cohort_id: 'will_add_in_constant', cohort_changes: [] };
  const res = await partnerPost(srv, 'segment-setup', '/users', check);
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { added: 0, removed: 0, unchanged: 0, unmatched: 0, message: 'success' });
  h.assertError(await partnerPost(srv, 'segment-setup', '/users', { ...check, client_secret: 'nope' }), 401, 'Invalid client secret');
  assert.deepEqual(await adminCohorts(srv, 'segment-setup'), []);
});

test('matching: external ids and aliases for identified users, device ids for anonymous users only; never creates users', async () => {
  const key = cliKey(srv, 'mixpanel-m');
  await trackAll(srv, [
    { external_id: 'm-ident', push_tokens: [{ app_id: 'app', token: 'm-t0', device_id: 'm-dev-ident' }] },
    { external_id: 'm-plain' },
    { user_alias: { alias_name: 'm-alias', alias_label: 'mp' }, _update_existing_only: false },
    { email: 'm-anon@example.com', push_tokens: [{ app_id: 'app', token: 'm-t1', device_id: 'm-dev-anon' }] },
    // Anonymous now, identified below: its device must stop matching.
    { user_alias: { alias_name: 'm-later', alias_label: 'mp' }, _update_existing_only: false,
      push_tokens: [{ app_id: 'app', token: 'm-t2', device_id: 'm-dev-later' }] },
  ]);
  await nameCall(srv, 'mixpanel-m', key, 'mc', 'Matched');
  // Before identification the anonymous user is found by its device.
  assert.deepEqual(await usersCall(srv, 'mixpanel-m', key, 'mc', [{ device_ids: ['m-dev-later'] }]),
    { added: 1, removed: 0, unchanged: 0, unmatched: 0 });
  assert.deepEqual(await usersCall(srv, 'mixpanel-m', key, 'mc', [{ device_ids: ['m-dev-later'], should_remove: true }]),
    { added: 0, removed: 1, unchanged: 0, unmatched: 0 });
  const idf = await h.request(srv, 'POST', '/users/identify', {
    key: srv.key,
    body: { aliases_to_identify: [{ external_id: 'm-later-ext', user_alias: { alias_name: 'm-later', alias_label: 'mp' } }] },
  });
  assert.equal(idf.status, 201, idf.text);
  const counts = await usersCall(srv, 'mixpanel-m', key, 'mc', [
    { user_ids: ['m-ident', 'm-nobody'], device_ids: [], aliases: [] },
    { device_ids: ['m-dev-anon', 'm-dev-ident', 'm-dev-later', 'm-dev-nobody'] },
    { aliases: [{ alias_name: 'm-alias', alias_label: 'mp' }, { alias_name: 'm-alias', alias_label: 'other' }] },
  ]);
  assert.deepEqual(counts, { added: 3, removed: 0, unchanged: 0, unmatched: 5 });
  const c = await cohortOf(srv, 'mixpanel-m', 'mc');
  assert.equal(c.size, 3);
  const expected = ref('mixpanel-m', 'mc', 'Matched');
  assert.deepEqual((await exportCohorts(srv, { external_ids: ['m-ident', 'm-plain', 'm-later-ext'] })).map((u) => u.cohorts),
    [expected, [], []]);
  assert.deepEqual((await exportCohorts(srv, { device_id: 'm-dev-anon' }))[0].cohorts, expected);
  assert.deepEqual((await exportCohorts(srv, { user_aliases: [{ alias_name: 'm-alias', alias_label: 'mp' }] }))[0].cohorts, expected);
  // Ids that matched nobody created nobody.
  const none = await h.request(srv, 'POST', '/users/export/ids', { key: srv.key, body: { external_ids: ['m-nobody'] } });
  assert.deepEqual(none.json.invalid_user_ids, ['m-nobody']);
  const dev = await h.request(srv, 'POST', '/users/export/ids', { key: srv.key, body: { device_id: 'm-dev-nobody' } });
  assert.deepEqual(dev.json.invalid_user_ids, ['m-dev-nobody']);
});

test('export: cohorts only for members in a full export; [] when asked for by name; rename shows the new name', async () => {
  const key = cliKey(srv, 'growthloop-x');
  await trackAll(srv, [{ external_id: 'x-in', a: 1 }, { external_id: 'x-out', a: 1 }]);
  await nameCall(srv, 'growthloop-x', key, 'x1', 'First');
  await nameCall(srv, 'growthloop-x', key, 'x2', 'Second');
  await usersCall(srv, 'growthloop-x', key, 'x2', [{ user_ids: ['x-in'] }]);
  await usersCall(srv, 'growthloop-x', key, 'x1', [{ user_ids: ['x-in'] }]);
  const full = await h.request(srv, 'POST', '/users/export/ids', { key: srv.key, body: { external_ids: ['x-in', 'x-out'] } });
  assert.equal(full.status, 201, full.text);
  const [uin, uout] = full.json.users;
  // Creation order of the cohorts, the key last.
  assert.deepEqual(uin.cohorts, [
    { partner: 'growthloop-x', cohort_id: 'x1', name: 'First' },
    { partner: 'growthloop-x', cohort_id: 'x2', name: 'Second' },
  ]);
  assert.equal(Object.keys(uin).at(-1), 'cohorts');
  assert.ok(!('cohorts' in uout), 'no cohorts key for a user in none');
  const named = await exportCohorts(srv, { external_ids: ['x-out'] });
  assert.deepEqual(named[0], { external_id: 'x-out', user_aliases: [], cohorts: [] });
  const without = await h.request(srv, 'POST', '/users/export/ids', { key: srv.key, body: { external_ids: ['x-in'], fields_to_export: ['external_id'] } });
  assert.deepEqual(without.json.users, [{ external_id: 'x-in' }]);
  // The name call again renames; the creation time stays.
  const was = await cohortOf(srv, 'growthloop-x', 'x1');
  await nameCall(srv, 'growthloop-x', key, 'x1', 'First, renamed', { created_at: '2030-01-01T00:00:00Z' });
  const now = await cohortOf(srv, 'growthloop-x', 'x1');
  assert.equal(now.name, 'First, renamed');
  assert.equal(now.created_at, '2021-01-21T14:20:30.000Z');
  assert.equal(now.created_at, was.created_at);
  assert.ok(now.updated_at >= was.updated_at);
  assert.equal((await exportCohorts(srv, { external_ids: ['x-in'] }))[0].cohorts[0].name, 'First, renamed');
  // Every partner's cohorts, as a table.
  const all = h.cli(['cohorts', 'list'], { dir: srv.dir });
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /^PARTNER +COHORT ID +SIZE +UPDATED +LAST IMPORT/);
  assert.match(all.stdout, /\ngrowthloop-x +x1 +1 +\S+ +1\/0\/0\/0 +First, renamed\n/);
  assert.match(all.stdout, /\ngrowthloop-x +x2 +1 /);
});

test('a deleted user leaves every cohort; a new user with the same external id is not a member', async () => {
  const key = cliKey(srv, 'census-d');
  await trackAll(srv, [{ external_id: 'd-1' }, { external_id: 'd-2' }]);
  await nameCall(srv, 'census-d', key, 'a', 'A');
  await nameCall(srv, 'census-d', key, 'b', 'B');
  await usersCall(srv, 'census-d', key, 'a', [{ user_ids: ['d-1', 'd-2'] }]);
  await usersCall(srv, 'census-d', key, 'b', [{ user_ids: ['d-1'] }]);
  const del = await h.request(srv, 'POST', '/users/delete', { key: srv.key, body: { external_ids: ['d-1'] } });
  assert.equal(del.status, 201, del.text);
  assert.deepEqual((await adminCohorts(srv, 'census-d')).map((c) => [c.cohort_id, c.size]), [['a', 1], ['b', 0]]);
  // The table the CLI reads follows at once (written with the delete).
  const cli = JSON.parse(h.cli(['cohorts', 'list', '--partner', 'census-d', '--json'], { dir: srv.dir }).stdout);
  assert.deepEqual(cli.map((c) => [c.cohort_id, c.size]), [['a', 1], ['b', 0]]);
  await trackAll(srv, [{ external_id: 'd-1' }]);
  assert.deepEqual((await exportCohorts(srv, { external_ids: ['d-1', 'd-2'] })).map((u) => u.cohorts.length), [0, 1]);
});

// ---- admin API ---------------------------------------------------------------------

test('admin: generate, rotate with an overlap, invalidate at once; errors (exact bodies)', async () => {
  const post = (p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
  let res = await post('/admin/partners/Braze-Admin/keys', {});
  assert.equal(res.status, 201, res.text);
  const k1 = res.json.key;
  assert.equal(k1.partner, 'braze-admin');
  assert.match(k1.key, h.UUID4_RE);
  assert.equal(k1.previous_keys, 0);
  h.assertError(await post('/admin/partners/braze-admin/keys', {}), 409,
    'Already exists: braze-admin has a valid data import key; rotate or invalidate it');
  await nameCall(srv, 'braze-admin', k1.key, 'adm', 'Adm');

  // Rotation: the old key keeps working for the overlap, then stops.
  res = await post('/admin/partners/braze-admin/keys', { rotate: true, overlap_seconds: 2 });
  assert.equal(res.status, 201, res.text);
  const k2 = res.json.key;
  assert.equal(k2.previous_keys, 1);
  const ends = Date.parse(k2.previous_keys_expire_at);
  assert.ok(ends > Date.now() && ends <= Date.now() + 3000, k2.previous_keys_expire_at);
  await nameCall(srv, 'braze-admin', k1.key, 'adm', 'Adm');
  await nameCall(srv, 'braze-admin', k2.key, 'adm', 'Adm');
  await new Promise((r) => setTimeout(r, Math.max(0, ends - Date.now()) + 50));
  const old = await partnerPost(srv, 'braze-admin', '', { client_secret: k1.key, cohort_id: 'adm', name: 'Adm', created_at: CREATED_AT });
  h.assertError(old, 401, 'Invalid client secret');
  await nameCall(srv, 'braze-admin', k2.key, 'adm', 'Adm');

  // Invalidation through the server: immediate (no cache delay).
  res = await post('/admin/partners/braze-admin/keys/invalidate');
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { message: 'success', invalidated: 1 });
  const gone = await partnerPost(srv, 'braze-admin', '', { client_secret: k2.key, cohort_id: 'adm', name: 'Adm', created_at: CREATED_AT });
  h.assertError(gone, 401, 'Invalid client secret');
  h.assertError(await post('/admin/partners/braze-admin/keys/invalidate'), 404, 'Not Found: braze-admin has no valid data import key');

  // The listing shows both keys, neither valid, and never their text.
  res = await h.request(srv, 'GET', '/admin/partners', { key: srv.key });
  assert.equal(res.status, 200, res.text);
  const p = res.json.partners.find((x) => x.partner === 'braze-admin');
  assert.equal(p.valid_keys, 0);
  assert.equal(p.keys.length, 2);
  assert.ok(p.keys.every((k) => k.valid === false && k.expires_at));
  assert.equal(p.cohorts, 1);
  assert.ok(!res.text.includes(k1.key) && !res.text.includes(k2.key));

  // Bad requests.
  h.assertError(await post('/admin/partners/-x/keys', {}), 400,
    "Bad Request: the partner name must be 1-64 characters of a-z, 0-9, '.', '_' or '-'");
  h.assertError(await post('/admin/partners/-x/keys/invalidate'), 400,
    "Bad Request: the partner name must be 1-64 characters of a-z, 0-9, '.', '_' or '-'");
  h.assertError(await post('/admin/partners/ok/keys', { rotate: 'yes' }), 400, "Bad Request: 'rotate' must be a boolean");
  h.assertError(await post('/admin/partners/ok/keys', { overlap_seconds: -1 }), 400,
    "Bad Request: 'overlap_seconds' must be an integer from 0 to 31536000");
  h.assertError(await post('/admin/partners/ok/keys', [1]), 400, 'Bad Request: the body must be a JSON object');
  h.assertError(await h.request(srv, 'GET', '/admin/cohorts?partner=a%20b', { key: srv.key }), 400,
    "Bad Request: 'partner' must be 1-64 characters of a-z, 0-9, '.', '_' or '-'");
  // brasa.keys is required to change keys; reading partners and cohorts
  // needs brasa.marketing (which brasa.keys implies).
  const limited = await h.createKey(srv, srv.key, { name: 'no-admin', permissions: ['users.track'] });
  for (const [m, p2, perm] of [['GET', '/admin/cohorts', 'brasa.marketing'], ['GET', '/admin/partners', 'brasa.marketing'],
    ['POST', '/admin/partners/heap/keys', 'brasa.keys'], ['POST', '/admin/partners/heap/keys/invalidate', 'brasa.keys']]) {
    h.assertError(await h.request(srv, m, p2, { key: limited.key, body: m === 'POST' ? {} : undefined }), 403,
      `Access Denied: this API key does not have the '${perm}' permission`);
    h.assertError(await h.request(srv, m, p2, { body: m === 'POST' ? {} : undefined }), 401, 'Invalid API key: ');
  }
});

// ---- the issue's "Done when" scripts -----------------------------------------------

test('Heap: create "Test cohort", add 10,000 by external id, 100 by alias, 50 anonymous by device id, remove 1,000', async () => {
  const P = 'heap';
  const ext = Array.from({ length: 10000 }, (_, i) => `heap-u${i}`);
  const aliases = Array.from({ length: 100 }, (_, i) => ({ alias_name: `heap-a${i}`, alias_label: 'heap_user_id' }));
  const devices = Array.from({ length: 50 }, (_, i) => `heap-dev-${i}`);
  await trackAll(srv, [
    ...ext.map((id) => ({ external_id: id, plan: 'pro' })),
    ...Array.from({ length: 100 }, (_, i) => ({ external_id: `heap-bystander-${i}` })),
    ...aliases.map((a) => ({ user_alias: a, _update_existing_only: false })),
    ...devices.map((d, i) => ({ email: `heap-anon-${i}@example.com`, push_tokens: [{ app_id: 'web', token: `heap-tok-${i}`, device_id: d }] })),
    { external_id: 'heap-identified-with-device', push_tokens: [{ app_id: 'web', token: 'heap-tok-x', device_id: 'heap-dev-identified' }] },
  ]);
  const key = cliKey(srv, P);
  await nameCall(srv, P, key, 'heap-cohort-42', 'Test cohort');
  await nameCall(srv, 'Heap', key, 'heap-cohort-42', 'Test cohort'); /* the path segment is case-insensitive */

  for (let i = 0; i < ext.length; i += 1000) {
    assert.deepEqual(await usersCall(srv, P, key, 'heap-cohort-42', [{ user_ids: ext.slice(i, i + 1000), device_ids: [], aliases: [] }]),
      { added: 1000, removed: 0, unchanged: 0, unmatched: 0 });
  }
  assert.deepEqual(await usersCall(srv, P, key, 'heap-cohort-42', [{ aliases }]), { added: 100, removed: 0, unchanged: 0, unmatched: 0 });
  // The device of an identified user and an unknown device match nobody.
  assert.deepEqual(await usersCall(srv, P, key, 'heap-cohort-42', [{ device_ids: [...devices, 'heap-dev-identified', 'heap-dev-unknown'] }]),
    { added: 50, removed: 0, unchanged: 0, unmatched: 2 });
  const removed = ext.slice(0, 1000);
  assert.deepEqual(await usersCall(srv, P, key, 'heap-cohort-42', [{ user_ids: removed, should_remove: true }]),
    { added: 0, removed: 1000, unchanged: 0, unmatched: 0 });
  // Replay safety: the same batch again changes nothing.
  assert.deepEqual(await usersCall(srv, P, key, 'heap-cohort-42', [{ user_ids: removed, should_remove: true }]),
    { added: 0, removed: 0, unchanged: 1000, unmatched: 0 });
  assert.deepEqual(await usersCall(srv, P, key, 'heap-cohort-42', [{ aliases }]), { added: 0, removed: 0, unchanged: 100, unmatched: 0 });

  // Exactly the right members: the size, and every user's export.
  const c = await cohortOf(srv, P, 'heap-cohort-42');
  assert.equal(c.size, 9000 + 100 + 50);
  assert.equal(c.name, 'Test cohort');
  assert.deepEqual({ ...c.last_import, at: undefined }, { at: undefined, added: 0, removed: 0, unchanged: 100, unmatched: 0 });
  assert.ok(c.memory_bytes > 0 && c.memory_bytes < 64 * 1024, `memory_bytes ${c.memory_bytes}`);
  const expected = ref(P, 'heap-cohort-42', 'Test cohort');
  const gone = new Set(removed);
  await assertMembers(srv, ext, expected, (id) => !gone.has(id));
  await assertMembers(srv, Array.from({ length: 100 }, (_, i) => `heap-bystander-${i}`), expected, () => false);
  await assertMembers(srv, ['heap-identified-with-device'], expected, () => false);
  for (let i = 0; i < aliases.length; i += 50) {
    const users = await exportCohorts(srv, { user_aliases: aliases.slice(i, i + 50) });
    assert.equal(users.length, 50);
    for (const u of users) assert.deepEqual(u.cohorts, expected);
  }
  for (const d of devices) assert.deepEqual((await exportCohorts(srv, { device_id: d }))[0].cohorts, expected, d);
  // The CLI lists the same.
  const r = h.cli(['cohorts', 'list', '--partner', P], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\nheap +heap-cohort-42 +9150 +\S+ +0\/0\/100\/0 +Test cohort\n/);
});

test('Tinyclues: invalidate its key (CLI), regenerate, carry on: exactly the right members', async () => {
  const P = 'tinyclues';
  await trackAll(srv, Array.from({ length: 300 }, (_, i) => ({ external_id: `tc-${i}` })));
  const key1 = cliKey(srv, P);
  await nameCall(srv, P, key1, 'tc-buyers', 'Likely buyers');
  assert.deepEqual(await usersCall(srv, P, key1, 'tc-buyers', [{ user_ids: Array.from({ length: 200 }, (_, i) => `tc-${i}`) }]),
    { added: 200, removed: 0, unchanged: 0, unmatched: 0 });

  const inv = h.cli(['partners', 'key', P, '--invalidate'], { dir: srv.dir });
  assert.equal(inv.status, 0, inv.stderr);
  assert.equal(inv.stdout, 'invalidated 1 data import key of tinyclues\n');
  // The server reads the store again within its key cache time (1 s): the
  // poll gives it three.
  const refused = await h.poll(async () => {
    const res = await partnerPost(srv, P, '', { client_secret: key1, cohort_id: 'tc-buyers', name: 'Likely buyers', created_at: CREATED_AT });
    return res.status === 401 ? res : null;
  }, { deadlineMs: 3000, intervalMs: 100 });
  assert.ok(refused, 'the invalidated key stops working');
  h.assertError(refused, 401, 'Invalid client secret');

  const key2 = cliKey(srv, P);
  assert.notEqual(key2, key1);
  const listed = JSON.parse(h.cli(['partners', 'list', '--json'], { dir: srv.dir }).stdout).find((p) => p.partner === P);
  assert.equal(listed.valid_keys, 1);
  assert.equal(listed.keys.length, 2);
  assert.deepEqual(await usersCall(srv, P, key2, 'tc-buyers', [
    { user_ids: Array.from({ length: 100 }, (_, i) => `tc-${i}`), should_remove: true },
    { user_ids: Array.from({ length: 50 }, (_, i) => `tc-${250 + i}`) },
  ]), { added: 50, removed: 100, unchanged: 0, unmatched: 0 });
  const c = await cohortOf(srv, P, 'tc-buyers');
  assert.equal(c.size, 150);
  const expected = ref(P, 'tc-buyers', 'Likely buyers');
  await assertMembers(srv, Array.from({ length: 300 }, (_, i) => `tc-${i}`), expected, (id) => {
    const n = Number(id.slice(3));
    return (n >= 100 && n < 200) || n >= 250;
  });
  // The old key still does not work (it is no secret of any partner now).
  const res = await partnerPost(srv, P, '', { client_secret: key1, cohort_id: 'tc-buyers', name: 'x', created_at: CREATED_AT });
  h.assertError(res, 401, 'Invalid client secret');
  // Rotation from the CLI with no overlap ends the previous key too.
  const rot = h.cli(['partners', 'key', P, '--rotate', '--overlap', '0', '--json'], { dir: srv.dir });
  assert.equal(rot.status, 0, rot.stderr);
  const key3 = JSON.parse(rot.stdout);
  assert.equal(key3.previous_keys, 1);
  assert.ok(await h.poll(async () => (await partnerPost(srv, P, '', { client_secret: key2, cohort_id: 'tc-buyers', name: 'Likely buyers', created_at: CREATED_AT })).status === 401));
  await nameCall(srv, P, key3.key, 'tc-buyers', 'Likely buyers');
});

// ---- durability ----------------------------------------------------------------------

test('durability: cohorts, members and deletions survive SIGKILL (journal replay) and a clean restart; no secret on disk', async () => {
  let s = await h.startServer({ keepDir: true, args: SERVE_ARGS });
  const dir = s.dir;
  const restart = async () => {
    const boot = s.key;
    s = await h.startServer({ dir, keepDir: true, args: SERVE_ARGS });
    s.key = boot; /* printed at the first start only */
  };
  try {
    await trackAll(s, [
      ...Array.from({ length: 120 }, (_, i) => ({ external_id: `k-${i}` })),
      { user_alias: { alias_name: 'k-al', alias_label: 'l' }, _update_existing_only: false },
      { email: 'k-anon@example.com', push_tokens: [{ app_id: 'a', token: 'k-t', device_id: 'k-dev' }] },
    ]);
    const key = cliKey(s, 'heap');
    await nameCall(s, 'heap', key, 'k1', 'Kill me');
    await nameCall(s, 'heap', key, 'k2', 'Second');
    await usersCall(s, 'heap', key, 'k1', [{ user_ids: Array.from({ length: 100 }, (_, i) => `k-${i}`), aliases: [{ alias_name: 'k-al', alias_label: 'l' }], device_ids: ['k-dev'] }]);
    await usersCall(s, 'heap', key, 'k1', [{ user_ids: ['k-0', 'k-1'], should_remove: true }]);
    await usersCall(s, 'heap', key, 'k2', [{ user_ids: ['k-5', 'k-6'] }]);
    await nameCall(s, 'heap', key, 'k2', 'Second, renamed');
    assert.equal((await h.request(s, 'POST', '/users/delete', { key: s.key, body: { external_ids: ['k-5'] } })).status, 201);
    const before = await adminCohorts(s, 'heap');
    assert.deepEqual(before.map((c) => [c.cohort_id, c.name, c.size]), [['k1', 'Kill me', 99], ['k2', 'Second, renamed', 1]]);

    await s.kill9();
    await restart();
    assert.match(s.stderr(), /engine: replayed \d+ journal rows/);
    const strip = (list) => list.map(({ memory_bytes, ...c }) => c);
    assert.deepEqual(strip(await adminCohorts(s, 'heap')), strip(before));
    const expected = ref('heap', 'k1', 'Kill me');
    const live = Array.from({ length: 120 }, (_, i) => `k-${i}`).filter((id) => id !== 'k-5' && id !== 'k-6'); /* deleted; in both (below) */
    await assertMembers(s, live, expected, (id) => {
      const n = Number(id.slice(2));
      return n >= 2 && n < 100;
    });
    assert.deepEqual((await exportCohorts(s, { device_id: 'k-dev' }))[0].cohorts, expected);
    assert.deepEqual((await exportCohorts(s, { external_ids: ['k-6'] }))[0].cohorts,
      [...expected, { partner: 'heap', cohort_id: 'k2', name: 'Second, renamed' }]);
    // The key still works after the restart; more changes, then a clean stop.
    await usersCall(s, 'heap', key, 'k1', [{ user_ids: ['k-110'] }]);
    await s.stop();
    await restart();
    assert.doesNotMatch(s.stderr(), /engine: replayed/);
    assert.equal((await cohortOf(s, 'heap', 'k1')).size, 100);
    assert.deepEqual((await exportCohorts(s, { external_ids: ['k-110'] }))[0].cohorts, expected);
    // Neither the data import key nor the partner_api_key is stored in clear.
    await s.stop();
    for (const f of fs.readdirSync(dir)) {
      const bytes = fs.readFileSync(path.join(dir, f));
      assert.ok(!bytes.includes(key), `${f} holds the data import key`);
      assert.ok(!bytes.includes('braze-issued-partner-key'), `${f} holds the partner_api_key`);
    }
    s = null;
  } finally {
    if (s) await s.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
