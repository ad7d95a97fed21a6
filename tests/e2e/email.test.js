// email.test.js -- the email channel end to end, through a real SMTP
// server (aiosmtpd, tests/e2e/smtp_receiver.py): a campaign email to users
// who can and cannot get it (no address, unsubscribed), rendered per user
// and parsed clean by Python's email package; a 5xx recorded as a hard
// bounce that later sends skip until /email/bounce/remove lifts it; a 4xx
// retried, then a soft bounce; the counters, the Currents events; and the
// server without a relay refusing email.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { smtpReceiver, parseEmail } = require('./smtp_receiver.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });
const today = () => new Date().toISOString().slice(0, 10);


async function done(srv, id) {
  let d;
  await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 30000, intervalMs: 100 });
  return d;
}

test('campaign email: rendered per user, parsed clean, bounces hard and soft, skips who cannot get it', async () => {
  const rx = await smtpReceiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url, BRASA_SMTP_ATTEMPTS: '2', BRASA_SMTP_BACKOFF_MS: '50' } });
  try {
    await h.usersApi(srv).trackOk({ attributes: [
      { external_id: 'ann', email: 'ann@example.com', first_name: 'Ann' },
      { external_id: 'bob', email: 'bounce-bob@example.com', first_name: 'Bob' },
      { external_id: 'carl', email: 'soft-carl@example.com', first_name: 'Carl' },
      { external_id: 'dora', email: 'dora@example.com', first_name: 'Dora', email_subscribe: 'unsubscribed' },
      { external_id: 'eve', first_name: 'Eve' },
      { external_id: 'fay', email: 'softonce-fay@example.com', first_name: 'Fay', email_subscribe: 'opted_in' },
    ] });
    const c = (await post(srv, '/admin/campaigns', { name: 'Spring', kind: 'api', variations: [{ name: 'Main', channel: 'email' }] })).json;
    const vid = c.variations[0].id;
    const email = (extra = {}) => ({
      app_id: 'app', message_variation_id: vid, from: 'Brand Ünï <news@brand.example>', reply_to: 'help@brand.example',
      subject: 'Hi {{${first_name}}} ✓',
      body: '<html><body><h1>Hello {{${first_name}}}</h1><p>Our <a href="https://brand.example/sale">spring sale</a> is on.</p>' +
            `<p>${'Long line of text that goes on. '.repeat(40)}</p></body></html>`,
      preheader: 'Up to 50% off',
      headers: { 'X-Campaign': '{{campaign.${api_id}}}' }, extras: { segment: 'vip' },
      ...extra,
    });
    let res = await post(srv, '/messages/send', {
      campaign_id: c.campaign_id, external_user_ids: ['ann', 'bob', 'carl', 'dora', 'eve', 'fay'], messages: { email: email() } });
    assert.equal(res.status, 201, res.text);
    const d = await done(srv, res.json.dispatch_id);
    // ann and fay (after one 451) delivered; bob bounced, carl soft-bounced; dora (unsubscribed) and eve (no address) skipped
    assert.deepEqual([d.total, d.sent, d.errors, d.skipped], [6, 2, 2, 2], JSON.stringify(d));

    const got = rx.got; // only what the server accepted
    const to = got.map((m) => m.rcpt_tos[0]).sort();
    assert.deepEqual(to, ['ann@example.com', 'softonce-fay@example.com']);
    const ann = got.find((m) => m.rcpt_tos[0] === 'ann@example.com');
    assert.equal(ann.mail_from, 'news@brand.example');
    const m = parseEmail(ann.data);
    assert.deepEqual(m.defects, []);
    assert.ok(m.max_line <= 998, `a line of ${m.max_line} octets`);
    assert.equal(m.content_type, 'multipart/alternative');
    assert.deepEqual(m.headers.subject, ['Hi Ann ✓']);
    assert.deepEqual(m.headers.from, ['Brand Ünï <news@brand.example>']);
    assert.deepEqual(m.headers.to, ['ann@example.com']);
    assert.deepEqual(m.headers['reply-to'], ['help@brand.example']);
    assert.deepEqual(m.headers['x-campaign'], [c.campaign_id]);
    assert.deepEqual(JSON.parse(m.headers['x-smtpapi'][0]), { unique_args: { segment: 'vip' } });
    assert.match(m.headers['message-id'][0], new RegExp(`^<${res.json.dispatch_id}-[0-9a-f]{24}-email@brand\\.example>$`));
    assert.ok(m.headers.date, 'a Date header');
    assert.match(m.html, /<h1>Hello Ann<\/h1>/);
    assert.match(m.html, /Up to 50% off/);
    assert.match(m.text, /Hello Ann/);
    assert.match(m.text, /spring sale \(https:\/\/brand\.example\/sale\)/);

    // The hard bounce is listed, and the next send skips the address.
    res = await get(srv, `/email/hard_bounces?start_date=${today()}&end_date=${today()}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.emails.map((e) => e.email), ['bounce-bob@example.com']);
    assert.match(res.json.emails[0].hard_bounced_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$/);
    const before = rx.got.length;
    res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, external_user_ids: ['bob'], messages: { email: email() } });
    assert.deepEqual([(await done(srv, res.json.dispatch_id)).skipped], [1]);
    // Lifted, it is sent to (and bounces again).
    res = await post(srv, '/email/bounce/remove', { email: ['bounce-bob@example.com'] });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual((await get(srv, `/email/hard_bounces?email=bounce-bob@example.com&end_date=${today()}`)).json.emails, []);
    res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, external_user_ids: ['bob'], messages: { email: email() } });
    const again = await done(srv, res.json.dispatch_id);
    assert.deepEqual([again.errors, again.skipped], [1, 0]);
    assert.equal(rx.got.length, before, 'a refused recipient leaves no message');

    // recipient_subscription_state: all reaches the unsubscribed; opted_in only the opted in.
    res = await post(srv, '/messages/send', { external_user_ids: ['dora', 'ann', 'fay'], recipient_subscription_state: 'all',
      messages: { email: email({ message_variation_id: undefined }) } });
    assert.deepEqual([(await done(srv, res.json.dispatch_id)).sent], [3]);
    res = await post(srv, '/messages/send', { external_user_ids: ['dora', 'ann', 'fay'], recipient_subscription_state: 'opted_in',
      messages: { email: email({ message_variation_id: undefined }) } });
    const opted = await done(srv, res.json.dispatch_id);
    assert.deepEqual([opted.sent, opted.skipped], [1, 2]);

    // Counters of the campaign's email row, and the Currents events.
    const s = (await get(srv, `/campaigns/data_series?campaign_id=${c.campaign_id}&length=1`)).json.data[0].messages.email[0];
    // offered: ann, fay, carl (soft), bob twice (hard); accepted: ann, fay
    assert.deepEqual([s.sent, s.delivered, s.bounces], [5, 2, 2], JSON.stringify(s));
    const ev = h.outboxEvents(dir, 'users.messages.email.');
    const count = (t) => ev.filter((e) => e.event_type === `users.messages.email.${t}`).length;
    assert.deepEqual([count('Send'), count('Delivery'), count('Bounce'), count('SoftBounce')], [9, 6, 2, 1]);
    const bounce = ev.find((e) => e.event_type === 'users.messages.email.Bounce');
    assert.equal(bounce.email_address, 'bounce-bob@example.com');
    assert.match(bounce.bounce_reason, /550/);
    assert.equal(bounce.dispatch_id.length, 24);
  } finally {
    await srv.stop();
    rx.close();
  }
});

test('a rendered subject or header cannot add headers; a from that renders to no address aborts that message', async () => {
  const rx = await smtpReceiver();
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
  try {
    await h.usersApi(srv).trackOk({ attributes: [
      { external_id: 'u1', email: 'u1@example.com', first_name: 'X\r\nBcc: victim@evil.example' },
      { external_id: 'u2', email: 'u2@example.com', first_name: 'nobody' },
    ] });
    let res = await post(srv, '/messages/send', { external_user_ids: ['u1'], messages: { email: {
      app_id: 'a', from: 'news@brand.example', subject: 'Hi {{${first_name}}}', body: '<p>x</p>',
      headers: { 'X-Name': '{{${first_name}}}' } } } });
    assert.equal(res.status, 201, res.text);
    await rx.wait(1);
    const m = parseEmail(rx.got[0].data);
    assert.deepEqual(m.defects, []);
    assert.equal(m.headers.bcc, undefined);
    assert.deepEqual(rx.got[0].rcpt_tos, ['u1@example.com']);
    assert.ok(!/^Bcc:/im.test(rx.got[0].data.toString('latin1')), 'no Bcc line on the wire');

    res = await post(srv, '/messages/send', { external_user_ids: ['u2'], messages: { email: {
      app_id: 'a', from: '{{${first_name}}}', subject: 's', body: '<p>x</p>' } } });
    const d = await done(srv, res.json.dispatch_id);
    assert.deepEqual([d.sent, d.aborted], [0, 1]);
  } finally {
    await srv.stop();
    rx.close();
  }
});

test('/email/hard_bounces and /email/bounce/remove: every refusal, and the permissions', async () => {
  const srv = await h.startServer();
  try {
    const hb = (q) => get(srv, `/email/hard_bounces${q}`);
    for (const [q, msg] of [
      ['', "'end_date' is required (a date such as 2026-12-24)"],
      ['?end_date=tomorrow', "'end_date' must be a date such as 2026-12-24"],
      ['?end_date=2026-12-01', "give 'start_date' or 'email'"],
      ['?end_date=2026-12-01&start_date=2026-13-01', "'start_date' must be a date such as 2026-12-24"],
      ['?end_date=2026-12-01&start_date=2026-12-05', "'start_date' must not be after 'end_date'"],
      ['?end_date=2026-12-01&email=nope', "'email' must be an email address"],
      ['?end_date=2026-12-01&start_date=2026-11-01&limit=0', "'limit' must be an integer from 1 to 500"],
      ['?end_date=2026-12-01&start_date=2026-11-01&limit=501', "'limit' must be an integer from 1 to 500"],
      ['?end_date=2026-12-01&start_date=2026-11-01&offset=-1', "'offset' must be a non-negative integer"],
    ]) h.assertError(await hb(q), 400, `Bad Request: ${msg}`);
    const ok = await hb('?end_date=2026-12-01&start_date=2026-11-01');
    assert.deepEqual(ok.json, { emails: [], message: 'success' });
    for (const [body, msg] of [
      [[], 'the body must be a JSON object'],
      [{}, "'email' is required: an address or an array of at most 50"],
      [{ email: [] }, "'email' is required: an address or an array of at most 50"],
      [{ email: 'x' }, "'email' must be an email address or an array of them"],
      [{ email: [5] }, "'email' must be an email address or an array of them"],
      [{ email: Array.from({ length: 51 }, (_, i) => `a${i}@x.org`) }, "'email' may list at most 50 addresses"],
      [{ email: 'a@x.org', emails: [] }, "unknown field 'emails'"],
    ]) h.assertError(await post(srv, '/email/bounce/remove', body), 400, `Bad Request: ${msg}`);
    assert.equal((await post(srv, '/email/bounce/remove', { email: 'never@bounced.org' })).status, 201);
    const weak = (await h.createKey(srv, srv.key, { name: 'weak', permissions: ['messages.send'] })).key;
    h.assertError(await h.request(srv, 'GET', '/email/hard_bounces?end_date=2026-12-01&start_date=2026-11-01', { key: weak }),
      403, "Access Denied: this API key does not have the 'email.hard_bounces' permission");
    h.assertError(await h.request(srv, 'POST', '/email/bounce/remove', { key: weak, body: { email: 'a@x.org' } }),
      403, "Access Denied: this API key does not have the 'email.bounce.remove' permission");
  } finally {
    await srv.stop();
  }
});

test('brasa smtp test: the relay accepts, refuses, or is not there', async () => {
  const rx = await smtpReceiver();
  try {
    let r = h.cli(['smtp', 'test', '--from', 'ops@brand.example', '--to', 'me@example.com'], { env: { BRASA_SMTP_URL: rx.url } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `the relay at ${rx.url} accepted a message from ops@brand.example to me@example.com\n`);
    await rx.wait(1);
    assert.deepEqual(rx.got[0].rcpt_tos, ['me@example.com']);
    assert.deepEqual(parseEmail(rx.got[0].data).defects, []);
    r = h.cli(['smtp', 'test', '--smtp-url', rx.url, '--from', 'ops@brand.example', '--to', 'bounce-x@example.com']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^brasa: the relay at smtp:\/\/127\.0\.0\.1:\d+ did not take the message: 550 /);
    r = h.cli(['smtp', 'test', '--smtp-url', 'smtp://127.0.0.1:1', '--from', 'ops@brand.example', '--to', 'a@example.com']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /did not take the message: /);
    r = h.cli(['smtp', 'test', '--from', 'ops@brand.example']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'brasa: smtp test needs --smtp-url (or BRASA_SMTP_URL), --from and --to\n');
    r = h.cli(['smtp', 'send']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "brasa: unknown smtp command 'send'\n");
  } finally {
    rx.close();
  }
});

test('email refusals: attachments that are not Braze\'s shape, and a relay URL that is not smtp:// or smtps://', async () => {
  const rx = await smtpReceiver();
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
  try {
    const send = (attachments) => post(srv, '/messages/send', { external_user_ids: ['u1'], messages: { email: {
      app_id: 'a', from: 'news@brand.example', subject: 's', body: '<p>x</p>', attachments } } });
    const bad = 'Bad Request: messages.email.attachments';
    h.assertError(await send({}), 400, `${bad} must be an array`);
    h.assertError(await send(['x']), 400, `${bad}[0] must be an object with file_name and url`);
    h.assertError(await send([{ url: 'https://x.org/a' }]), 400, `${bad}[0].file_name must be a name of 1 to 255 characters without an extension, '/' or '\\'`);
    h.assertError(await send([{ file_name: 'a\nb', url: 'https://x.org/a' }]), 400, /file_name must be a name/);
    h.assertError(await send([{ file_name: 'a', url: 'ftp://x.org/a' }]), 400, `${bad}[0].url must be an http:// or https:// URL`);
    h.assertError(await send([{ file_name: 'a', url: 'https://x.org/a', basic_auth_credential: 5 }]), 400,
      `${bad}[0].basic_auth_credential must be the name of a credential`);
    assert.equal(rx.got.length, 0);
  } finally {
    await srv.stop();
    rx.close();
  }
  const dir = h.makeDataDir();
  const r = h.cli(['serve', '--port', '0', '--listen', '127.0.0.1'], { dir, env: { BRASA_SMTP_URL: 'http://127.0.0.1:25' } });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /serve: --smtp-url must be smtp:\/\/host:port or smtps:\/\/host:port, not 'http:\/\/127\.0\.0\.1:25'/);
});

test('bcc: a copy in its own transaction, whose refusal is not the user\'s; a bcc that is no address aborts', async () => {
  const rx = await smtpReceiver();
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ann', email: 'ann@example.com' }] });
    const send = async (bcc) => {
      const res = await post(srv, '/messages/send', { external_user_ids: ['ann'], messages: { email: {
        app_id: 'a', from: 'news@brand.example', subject: 's', body: '<p>x</p>', bcc } } });
      assert.equal(res.status, 201, res.text);
      return done(srv, res.json.dispatch_id);
    };
    let d = await send('Archive <archive@brand.example>');
    assert.deepEqual([d.sent, d.errors], [1, 0]);
    await h.poll(async () => rx.got.length === 2);
    const byRcpt = Object.fromEntries(rx.got.map((m) => [m.rcpt_tos.join(','), m]));
    assert.deepEqual(Object.keys(byRcpt).sort(), ['ann@example.com', 'archive@brand.example']);
    assert.deepEqual(byRcpt['archive@brand.example'].data, byRcpt['ann@example.com'].data, 'the same message');
    const m = parseEmail(byRcpt['ann@example.com'].data);
    assert.equal(m.headers.bcc, undefined, 'no Bcc header');
    // A refused bcc address: the user's message is still delivered, nothing bounces.
    d = await send('bounce-archive@brand.example');
    assert.deepEqual([d.sent, d.errors], [1, 0]);
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual((await get(srv, `/email/hard_bounces?start_date=${today}&end_date=${today}`)).json.emails, []);
    // A bcc that renders to no address aborts the message.
    d = await send('archive of {{${user_id}}}');
    assert.deepEqual([d.sent, d.aborted], [0, 1]);
  } finally {
    await srv.stop();
    rx.close();
  }
});
