// email_state.test.js -- the global email state over the REST API:
// /email/status on every user of an address and kept for a user who gets
// the address later, /email/blocklist (and /email/blacklist), a broadcast
// through a real SMTP server skipping both, /email/unsubscribes,
// /email/spam/remove, the GlobalStateChange events, every refusal and the
// permissions.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');
const { smtpReceiver, parseEmail } = require('./smtp_receiver.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });
const today = () => new Date().toISOString().slice(0, 10);

function sql(dir, q) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', path.join(dir, 'brasa.db'), q], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const stateEvents = (dir) => h.outboxEvents(dir, 'users.behaviors.subscription.GlobalStateChange', 'outbox');

async function states(srv, ids) {
  const res = await post(srv, '/users/export/ids', { external_ids: ids, fields_to_export: ['external_id', 'email_subscribe'] });
  assert.equal(res.status, 201, res.text);
  return Object.fromEntries(res.json.users.map((u) => [u.external_id, u.email_subscribe]));
}

async function done(srv, id) {
  let d;
  await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 30000, intervalMs: 100 });
  return d;
}

test('/email/status and /email/blocklist: every user of the address, kept for a later user, skipped by a broadcast', async (t) => {
  const rx = await smtpReceiver();
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url } });
  try {
    const api = h.usersApi(srv);
    await api.trackOk({ attributes: [
      { external_id: 'ann', email: 'ann@example.com', time_zone: 'Europe/Paris' },
      { external_id: 'ann2', email: 'ANN@example.com' }, // the same address, another user
      { external_id: 'bob', email: 'bob@example.com' },
      { external_id: 'carl', email: 'carl@example.com',
        subscription_groups: [{ subscription_group_id: 'grp-1', subscription_state: 'subscribed' }] },
    ] });
    let res = await post(srv, '/email/status', { email: 'Ann@Example.com', subscription_state: 'unsubscribed' });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json, { message: 'success' });
    res = await post(srv, '/email/blocklist', { email: ['bob@example.com'] });
    assert.deepEqual([res.status, res.json], [201, { message: 'success' }]);
    assert.deepEqual(await states(srv, ['ann', 'ann2', 'bob', 'carl']),
      { ann: 'unsubscribed', ann2: 'unsubscribed', bob: 'unsubscribed', carl: 'subscribed' });
    // blocklisted: also hard-bounced
    res = await get(srv, `/email/hard_bounces?start_date=${today()}&end_date=${today()}`);
    assert.deepEqual(res.json.emails.map((e) => e.email), ['bob@example.com']);

    // An address no user has: its state waits for the user who gets it.
    res = await post(srv, '/email/status', { email: ['future@example.com', 'later@example.com', 'event@example.com'], subscription_state: 'unsubscribed' });
    assert.equal(res.status, 201, res.text);
    await post(srv, '/email/status', { email: 'optin@example.com', subscription_state: 'opted_in' });
    await api.trackOk({ attributes: [
      { external_id: 'fut', email: 'Future@example.com' },
      { external_id: 'own', email: 'later@example.com', email_subscribe: 'subscribed' }, // its own state wins
      { external_id: 'opt', first_name: 'O' },
    ] });
    await api.trackOk({ attributes: [{ external_id: 'opt', email: 'optin@example.com' }] }); // an existing user gets it
    // a user made by an event for the address
    await api.trackOk({ events: [{ email: 'event@example.com', name: 'x', time: new Date().toISOString() }] });
    assert.deepEqual(await states(srv, ['fut', 'own', 'opt']), { fut: 'unsubscribed', own: 'subscribed', opt: 'opted_in' });
    res = await post(srv, '/users/export/ids', { email_address: 'event@example.com', fields_to_export: ['email_subscribe'] });
    assert.deepEqual(res.json.users.map((u) => u.email_subscribe), ['unsubscribed']);

    // /users/track email_subscribe reaches every user of the address too, and is listed.
    await api.trackOk({ attributes: [{ external_id: 'carl2', email: 'carl@example.com', email_subscribe: 'unsubscribed' }] });
    assert.deepEqual(await states(srv, ['carl', 'carl2']), { carl: 'unsubscribed', carl2: 'unsubscribed' });
    await api.trackOk({ attributes: [{ external_id: 'carl', email_subscribe: 'subscribed' }] });
    assert.deepEqual(await states(srv, ['carl', 'carl2']), { carl: 'subscribed', carl2: 'subscribed' });

    // A broadcast to everyone with an address skips the unsubscribed.
    const seg = await post(srv, '/admin/segments', { name: 'with email', definition: { type: 'email', op: 'exists' } });
    assert.equal(seg.status, 201, seg.text);
    const c = (await post(srv, '/admin/campaigns', { name: 'News', kind: 'api', variations: [{ name: 'v', channel: 'email' }] })).json;
    res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, segment_id: seg.json.segment.id, broadcast: true,
      messages: { email: { app_id: 'a', message_variation_id: c.variations[0].id, from: 'news@brand.example',
        subject: 'Hi {{subscribed_state.${email_global}}} {{subscribed_state.${grp-1} | default: "none"}}',
        body: '<p>News</p>' } } });
    assert.equal(res.status, 201, res.text);
    const d = await done(srv, res.json.dispatch_id);
    const got = rx.got.map((m) => m.rcpt_tos[0].toLowerCase()).sort();
    assert.deepEqual(got, ['carl@example.com', 'carl@example.com', 'later@example.com', 'optin@example.com']);
    assert.equal(d.sent, 4, JSON.stringify(d));
    // Liquid: subscribed_state.${email_global} and subscribed_state.${<group id>}
    const subjects = rx.got.map((m) => parseEmail(m.data).headers.subject[0]).sort();
    assert.deepEqual(subjects, ['Hi opted_in none', 'Hi subscribed none', 'Hi subscribed none', 'Hi subscribed subscribed']);

    // Subscribed again, ann gets the next one.
    res = await post(srv, '/email/status', { email: 'ann@example.com', subscription_state: 'subscribed' });
    assert.equal(res.status, 201);
    assert.deepEqual(await states(srv, ['ann', 'ann2']), { ann: 'subscribed', ann2: 'subscribed' });

    // /email/unsubscribes: the addresses whose state is unsubscribed.
    const uns = async (q) => (await get(srv, `/email/unsubscribes${q}`));
    res = await uns(`?start_date=${today()}&end_date=${today()}&sort_direction=asc`);
    assert.equal(res.status, 200, res.text);
    // later@ and carl@ were subscribed again since; oldest first, then by address
    assert.deepEqual(res.json.emails.map((e) => e.email), ['bob@example.com', 'event@example.com', 'future@example.com']);
    assert.match(res.json.emails[0].unsubscribed_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$/);
    const desc = (await uns(`?start_date=${today()}&end_date=${today()}`)).json.emails.map((e) => e.email);
    assert.deepEqual(desc, ['event@example.com', 'future@example.com', 'bob@example.com']);
    assert.deepEqual((await uns(`?email=BOB@example.com&end_date=${today()}`)).json.emails.map((e) => e.email), ['bob@example.com']);
    assert.deepEqual((await uns(`?email=ann@example.com&end_date=${today()}`)).json, { emails: [], message: 'success' });
    assert.deepEqual((await uns(`?start_date=${today()}&end_date=${today()}&limit=1&offset=1`)).json.emails.length, 1);
    assert.deepEqual((await uns('?start_date=2020-01-01&end_date=2020-01-02')).json, { emails: [], message: 'success' });

    // The events: one per user whose state changed, with Braze's fields.
    const ev = stateEvents(dir);
    const annEv = ev.filter((e) => e.external_user_id === 'ann');
    assert.deepEqual(annEv.map((e) => e.subscription_status), ['Unsubscribed', 'Subscribed']);
    const e0 = annEv[0];
    assert.deepEqual([e0.channel, e0.channel_identifier, e0.email_address, e0.state_change_source, e0.timezone],
      ['email', 'ann@example.com', 'ann@example.com', 'REST API', 'Europe/Paris']);
    assert.match(e0.user_id, /^[0-9a-f]{24}$/);
    assert.equal(typeof e0.time, 'number');
    assert.ok(ev.some((e) => e.external_user_id === 'fut' && e.subscription_status === 'Unsubscribed'), 'the kept state applied');
    assert.ok(ev.some((e) => e.external_user_id === 'opt' && e.subscription_status === 'Opted In'));
    assert.equal(ev.filter((e) => e.external_user_id === 'own').length, 0, 'subscribed by its own object: no change');
    assert.equal(new Set(ev.map((e) => e.id)).size, ev.length, 'event ids are unique');

    // Kept states survive a restart.
    await srv.stop();
    const again = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url } });
    again.key = srv.key; // the boot key is printed once, by the first start
    try {
      await h.usersApi(again).trackOk({ attributes: [{ external_id: 'late', email: 'future@example.com' }] });
      assert.deepEqual(await states(again, ['late']), { late: 'unsubscribed' });
    } finally {
      await again.stop();
    }
  } finally {
    await srv.stop().catch(() => {});
    rx.close();
  }
});

test('/email/blacklist (the legacy name) and /email/spam/remove really remove', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const srv = await h.startServer({ dir });
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'x', email: 'x@example.com' }] });
    let res = await post(srv, '/email/blacklist', { email: 'x@example.com' });
    assert.deepEqual([res.status, res.json], [201, { message: 'success' }]);
    assert.deepEqual(await states(srv, ['x']), { x: 'unsubscribed' });
    sql(dir, `INSERT INTO email_spam (address, at) VALUES ('spam@example.com', ${Date.now()}), ('keep@example.com', ${Date.now()})`);
    res = await post(srv, '/email/spam/remove', { email: ['Spam@example.com', 'never@example.com'] });
    assert.deepEqual([res.status, res.json], [201, { message: 'success' }]);
    assert.equal(sql(dir, 'SELECT group_concat(address) FROM email_spam'), 'keep@example.com');
  } finally {
    await srv.stop();
  }
});

test('the email state endpoints: every refusal, and the permissions', async () => {
  const srv = await h.startServer();
  try {
    const many = Array.from({ length: 51 }, (_, i) => `a${i}@x.org`);
    for (const p of ['/email/status', '/email/spam/remove', '/email/blocklist', '/email/blacklist']) {
      const extra = p === '/email/status' ? { subscription_state: 'unsubscribed' } : {};
      for (const [body, msg] of [
        [[], 'the body must be a JSON object'],
        [{ ...extra }, "'email' is required: an address or an array of at most 50"],
        [{ email: [], ...extra }, "'email' is required: an address or an array of at most 50"],
        [{ email: 'x', ...extra }, "'email' must be an email address or an array of them"],
        [{ email: [5], ...extra }, "'email' must be an email address or an array of them"],
        [{ email: many, ...extra }, "'email' may list at most 50 addresses"],
        [{ email: 'a@x.org', emails: [], ...extra }, "unknown field 'emails'"],
      ]) h.assertError(await post(srv, p, body), 400, `Bad Request: ${msg}`);
    }
    for (const st of [undefined, 'gone', 5]) {
      h.assertError(await post(srv, '/email/status', { email: 'a@x.org', subscription_state: st }), 400,
        "Bad Request: 'subscription_state' must be 'subscribed', 'unsubscribed' or 'opted_in'");
    }
    const un = (q) => get(srv, `/email/unsubscribes${q}`);
    for (const [q, msg] of [
      ['', "'end_date' is required (a date such as 2026-12-24)"],
      ['?end_date=tomorrow', "'end_date' must be a date such as 2026-12-24"],
      ['?end_date=2026-12-01', "give 'start_date' or 'email'"],
      ['?end_date=2026-12-01&start_date=2026-13-01', "'start_date' must be a date such as 2026-12-24"],
      ['?end_date=2026-12-01&start_date=2026-12-05', "'start_date' must not be after 'end_date'"],
      ['?end_date=2026-12-01&email=nope', "'email' must be an email address"],
      ['?end_date=2026-12-01&start_date=2026-11-01&limit=0', "'limit' must be an integer from 1 to 500"],
      ['?end_date=2026-12-01&start_date=2026-11-01&offset=x', "'offset' must be a non-negative integer"],
      ['?end_date=2026-12-01&start_date=2026-11-01&sort_direction=up', "'sort_direction' must be 'asc' or 'desc'"],
    ]) h.assertError(await un(q), 400, `Bad Request: ${msg}`);

    const weak = (await h.createKey(srv, srv.key, { name: 'weak', permissions: ['messages.send'] })).key;
    for (const [method, p, perm, body] of [
      ['GET', '/email/unsubscribes?end_date=2026-12-01&start_date=2026-11-01', 'email.unsubscribe'],
      ['POST', '/email/status', 'email.status', { email: 'a@x.org', subscription_state: 'subscribed' }],
      ['POST', '/email/spam/remove', 'email.spam.remove', { email: 'a@x.org' }],
      ['POST', '/email/blocklist', 'email.blacklist', { email: 'a@x.org' }],
      ['POST', '/email/blacklist', 'email.blacklist', { email: 'a@x.org' }],
    ]) {
      h.assertError(await h.request(srv, method, p, { key: weak, body }), 403,
        `Access Denied: this API key does not have the '${perm}' permission`);
    }
    const ok = (await h.createKey(srv, srv.key, { name: 'ok', permissions: ['email.status'] })).key;
    const res = await h.request(srv, 'POST', '/email/status', { key: ok, body: { email: 'a@x.org', subscription_state: 'opted_in' } });
    assert.equal(res.status, 201, res.text);
  } finally {
    await srv.stop();
  }
});
