// smtp_relays.test.js -- several SMTP relays: added over the admin API and
// with `brasa smtp add` while the server runs, the email of a send spread
// over two real SMTP servers (aiosmtpd, smtp_receiver.js), a relay removed
// and no longer used, a relay down and everything delivered through the
// other with no soft bounce; every way /admin/smtp_relays and `brasa smtp
// add|update|list|remove|test` refuse (status and body, or exit code and message);
// passwords never shown again; `brasa smtp test --relay NAME`.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');
const { smtpReceiver } = require('./smtp_receiver.js');

const call = (srv, method, p, body, key = srv.key) => h.request(srv, method, p, { key, body });

// `brasa smtp ...` on dir, with stdin and environment of our choosing.
function smtpCli(dir, args, { input, env = {} } = {}) {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRASA_')) e[k] = v;
  const r = spawnSync(h.BIN, ['smtp', ...args, '--data-dir', dir], { env: { ...e, ...env }, input, encoding: 'utf8', timeout: 20000 });
  h.assertNoSanitizerReport(r.stderr || '', `brasa smtp ${args.join(' ')}`);
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
}

async function done(srv, id) {
  let d;
  await h.poll(async () => (d = (await call(srv, 'GET', `/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 60000, intervalMs: 100 });
  return d;
}

const USERS = Array.from({ length: 20 }, (_, i) => `u${i}`);
const email = { app_id: 'app', from: 'news@brand.example', subject: 'Hi {{${first_name}}}', body: '<p>Hello {{${first_name}}}</p>' };
const send = async (srv) => {
  const res = await call(srv, 'POST', '/messages/send', { external_user_ids: USERS, messages: { email } });
  assert.equal(res.status, 201, res.text);
  return done(srv, res.json.dispatch_id);
};
const relays = async (srv) => {
  const res = await call(srv, 'GET', '/admin/smtp_relays');
  assert.equal(res.status, 200, res.text);
  return res.json.smtp_relays;
};

test('relays from the API and the CLI share the email; removed, unused; one down, the other takes all', async () => {
  const ra = await smtpReceiver(), rb = await smtpReceiver();
  const dir = h.makeDataDir();
  // No BRASA_SMTP_URL: only stored relays.
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_ATTEMPTS: '2', BRASA_SMTP_BACKOFF_MS: '50' } });
  try {
    await h.usersApi(srv).trackOk({ attributes: USERS.map((id) => ({ external_id: id, email: `${id}@example.com`, first_name: id })) });
    // No relay yet: email is refused at intake.
    h.assertError(await call(srv, 'POST', '/messages/send', { external_user_ids: ['u0'], messages: { email } }), 400,
      'Bad Request: messages.email: no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)');

    let res = await call(srv, 'POST', '/admin/smtp_relays', { name: 'a', url: ra.url, max_connections: 2, user: 'brasa', password: 'pw-a-secret' });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json, { message: 'success', name: 'a' });
    // The CLI, while the server runs on the same data directory.
    let r = smtpCli(dir, ['add', 'b', '--url', rb.url, '--max-connections', '2', '--rate', '1000', '--timeout-ms', '20000']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'added SMTP relay b\n');
    // The server picks it up by itself (it reads the relays every second).
    await h.poll(async () => (await relays(srv)).every((x) => x.in_use), { deadlineMs: 10000, intervalMs: 100 });

    // Spread over both (a send wakes the dispatcher, which reads the relays again).
    let d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0], JSON.stringify(d));
    await h.poll(() => ra.got.length + rb.got.length === 20, { deadlineMs: 10000, intervalMs: 50 });
    assert.ok(ra.got.length >= 5 && rb.got.length >= 5, `a got ${ra.got.length}, b got ${rb.got.length}`);
    let list = await relays(srv);
    assert.deepEqual(list.map((x) => [x.name, x.url, x.user, x.max_connections, x.rate_per_second, x.timeout_ms, x.enabled, x.in_use]),
      [['a', ra.url, 'brasa', 2, 0, 0, true, true], ['b', rb.url, null, 2, 1000, 20000, true, true]]);
    assert.match(list[0].created_at, h.ISO_MS_RE);
    assert.ok(!JSON.stringify(list).includes('pw-a-secret'), 'no password in the list');

    // a removed over the API: no longer used, though its server is up.
    res = await call(srv, 'DELETE', '/admin/smtp_relays/a');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { message: 'success' });
    let [a0, b0] = [ra.got.length, rb.got.length];
    d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0]);
    await rb.wait(b0 + 20);
    assert.equal(ra.got.length, a0);
    assert.deepEqual((await relays(srv)).map((x) => [x.name, x.in_use]), [['b', true]]);

    // Back with the CLI, and b removed with the CLI: all through a.
    r = smtpCli(dir, ['add', 'a', '--url', ra.url]);
    assert.equal(r.status, 0, r.stderr);
    r = smtpCli(dir, ['remove', 'b']);
    assert.deepEqual([r.status, r.stdout], [0, 'removed SMTP relay b\n'], r.stderr);
    [a0, b0] = [ra.got.length, rb.got.length];
    d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0]);
    await ra.wait(a0 + 20);
    assert.equal(rb.got.length, b0);

    // b again; a's server goes away: every message goes through b, on its
    // first try there, with no soft bounce.
    res = await call(srv, 'POST', '/admin/smtp_relays', { name: 'b', url: rb.url });
    assert.equal(res.status, 201, res.text);
    ra.close();
    b0 = rb.got.length;
    d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0], JSON.stringify(d));
    await rb.wait(b0 + 20);
    assert.deepEqual(new Set(rb.got.slice(b0).map((m) => m.rcpt_tos[0])), new Set(USERS.map((u) => `${u}@example.com`)));

    // A disabled relay is kept, not sent through.
    res = await call(srv, 'POST', '/admin/smtp_relays', { name: 'spare', url: 'smtp://127.0.0.1:9', enabled: false });
    assert.equal(res.status, 201, res.text);
    b0 = rb.got.length;
    d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0]);
    await rb.wait(b0 + 20);
    const spare = (await relays(srv)).find((x) => x.name === 'spare');
    assert.deepEqual([spare.enabled, spare.in_use], [false, false]);

    // Every relay removed: email is refused again.
    for (const n of ['a', 'b', 'spare']) assert.equal((await call(srv, 'DELETE', `/admin/smtp_relays/${n}`)).status, 200);
    h.assertError(await call(srv, 'POST', '/messages/send', { external_user_ids: ['u0'], messages: { email } }), 400,
      'Bad Request: messages.email: no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)');
  } finally {
    await srv.stop();
    ra.close();
    rb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('BRASA_SMTP_URL is the relay named default, next to the stored ones', async () => {
  const ra = await smtpReceiver(), rb = await smtpReceiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_URL: ra.url } });
  try {
    await h.usersApi(srv).trackOk({ attributes: USERS.map((id) => ({ external_id: id, email: `${id}@example.com`, first_name: id })) });
    // Not stored, so not listed; its name is taken.
    assert.deepEqual(await relays(srv), []);
    h.assertError(await call(srv, 'POST', '/admin/smtp_relays', { name: 'default', url: rb.url }), 400,
      "Bad Request: 'name' default is the relay of BRASA_SMTP_URL (--smtp-url): choose another");
    assert.equal((await call(srv, 'POST', '/admin/smtp_relays', { name: 'second', url: rb.url })).status, 201);
    const d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0]);
    await h.poll(() => ra.got.length + rb.got.length === 20, { deadlineMs: 10000, intervalMs: 50 });
    assert.ok(ra.got.length > 0 && rb.got.length > 0, `default got ${ra.got.length}, second got ${rb.got.length}`);
  } finally {
    await srv.stop();
    ra.close();
    rb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('/admin/smtp_relays: every refusal, status and body', async () => {
  const srv = await h.startServer();
  try {
    const post = (body) => call(srv, 'POST', '/admin/smtp_relays', body);
    const URL = "Bad Request: 'url' must be smtp://host[:port] or smtps://host[:port] (at most 1024 bytes, no spaces; the user and password go in 'user' and 'password')";
    const NAME = "Bad Request: 'name' must be 1 to 64 letters, digits, '_', '-' or '.'";
    const CONNS = "Bad Request: 'max_connections' must be an integer from 1 to 128";
    const RATE = "Bad Request: 'rate_per_second' must be an integer from 0 (no limit) to 100000";
    const TIMEOUT = "Bad Request: 'timeout_ms' must be 0 (the default) or an integer from 1000 to 3600000";
    const AUTH = "Bad Request: 'user' and 'password' go together (AUTH needs both)";
    const ok = { name: 'r', url: 'smtp://127.0.0.1:2525' };
    const cases = [
      [[], 'Bad Request: the body must be a JSON object'],
      ['x', 'Bad Request: the body must be a JSON object'],
      [{ ...ok, max_conns: 3 }, "Bad Request: unknown field 'max_conns'"],
      [{ url: ok.url }, "Bad Request: 'name' is required and must be a string"],
      [{ ...ok, name: 7 }, "Bad Request: 'name' is required and must be a string"],
      [{ ...ok, name: null }, "Bad Request: 'name' is required and must be a string"],
      [{ name: 'r' }, "Bad Request: 'url' is required and must be a string"],
      [{ ...ok, url: ['smtp://h'] }, "Bad Request: 'url' is required and must be a string"],
      [{ ...ok, name: '' }, NAME],
      [{ ...ok, name: 'a b' }, NAME],
      [{ ...ok, name: 'x'.repeat(65) }, NAME],
      [{ ...ok, url: 'http://mail.example.com' }, URL],
      [{ ...ok, url: 'smtp://' }, URL],
      [{ ...ok, url: 'smtp://user:pass@mail.example.com' }, URL],
      [{ ...ok, url: 'smtp://mail example.com' }, URL],
      [{ ...ok, url: 'smtp://h\r\nRCPT TO:<x@y>' }, URL],
      [{ ...ok, url: `smtp://${'h'.repeat(1020)}` }, URL],
      [{ ...ok, user: 'u' }, AUTH],
      [{ ...ok, password: 'p' }, AUTH],
      [{ ...ok, user: 5, password: 'p' }, "Bad Request: 'user' must be a string"],
      [{ ...ok, user: 'u', password: {} }, "Bad Request: 'password' must be a string"],
      [{ ...ok, user: '', password: 'p' }, "Bad Request: 'user' must be 1 to 255 bytes without control characters"],
      [{ ...ok, user: 'a\nb', password: 'p' }, "Bad Request: 'user' must be 1 to 255 bytes without control characters"],
      [{ ...ok, user: 'u', password: 'p'.repeat(1025) }, "Bad Request: 'password' must be at most 1024 bytes"],
      [{ ...ok, max_connections: 0 }, CONNS],
      [{ ...ok, max_connections: 129 }, CONNS],
      [{ ...ok, max_connections: -1 }, "Bad Request: 'max_connections' must be a non-negative integer"],
      [{ ...ok, max_connections: 1.5 }, "Bad Request: 'max_connections' must be a non-negative integer"],
      [{ ...ok, max_connections: '4' }, "Bad Request: 'max_connections' must be a non-negative integer"],
      [{ ...ok, rate_per_second: 100001 }, RATE],
      [{ ...ok, rate_per_second: 'fast' }, "Bad Request: 'rate_per_second' must be a non-negative integer"],
      [{ ...ok, timeout_ms: 999 }, TIMEOUT],
      [{ ...ok, timeout_ms: 3600001 }, TIMEOUT],
      [{ ...ok, timeout_ms: 1e12 }, "Bad Request: 'timeout_ms' must be a non-negative integer"],
      [{ ...ok, enabled: 'yes' }, "Bad Request: 'enabled' must be true or false"],
    ];
    for (const [body, message] of cases) h.assertError(await post(body), 400, message);
    let res = await h.request(srv, 'POST', '/admin/smtp_relays', { key: srv.key, raw: '{"name":', headers: { 'content-type': 'application/json' } });
    h.assertError(res, 400, /^Invalid JSON in request body/);
    assert.deepEqual(await relays(srv), []);

    // Duplicate name, and the most relays.
    res = await post({ ...ok, user: 'u', password: 'hunter2' });
    assert.equal(res.status, 201, res.text);
    h.assertError(await post({ name: 'r', url: 'smtps://other.example.com' }), 409, "Already exists: an SMTP relay named 'r' already exists");
    assert.equal((await relays(srv))[0].url, ok.url);
    for (let i = 1; i < 16; i++) assert.equal((await post({ name: `r${i}`, url: ok.url })).status, 201);
    h.assertError(await post({ name: 'r16', url: ok.url }), 400, 'Max Input Length Exceeded: at most 16 SMTP relays can be stored');
    assert.ok(!JSON.stringify(await relays(srv)).includes('hunter2'));
    for (let i = 1; i < 16; i++) assert.equal((await call(srv, 'DELETE', `/admin/smtp_relays/r${i}`)).status, 200);

    // Delete: unknown, malformed, the default.
    h.assertError(await call(srv, 'DELETE', '/admin/smtp_relays/nope'), 404, "Not Found: no SMTP relay named 'nope'");
    h.assertError(await call(srv, 'DELETE', '/admin/smtp_relays/a%20b'), 400, NAME);
    h.assertError(await call(srv, 'DELETE', '/admin/smtp_relays/default'), 400,
      "Bad Request: 'name' default is the relay of BRASA_SMTP_URL (--smtp-url): choose another");
    h.assertError(await call(srv, 'DELETE', '/admin/smtp_relays'), 405, 'Method Not Allowed');

    // Keys and permissions.
    h.assertError(await h.request(srv, 'GET', '/admin/smtp_relays'), 401, 'Invalid API key: ');
    const k = await h.createKey(srv, srv.key, { name: 'no-admin', permissions: ['all'] });
    const denied = "Access Denied: this API key does not have the 'brasa.keys' permission";
    h.assertError(await call(srv, 'GET', '/admin/smtp_relays', undefined, k.key), 403, denied);
    h.assertError(await call(srv, 'POST', '/admin/smtp_relays', ok, k.key), 403, denied);
    h.assertError(await call(srv, 'DELETE', '/admin/smtp_relays/r', undefined, k.key), 403, denied);
    assert.deepEqual((await relays(srv)).map((x) => x.name), ['r']);
  } finally {
    await srv.stop();
  }
});

test('brasa smtp add|list|remove|test --relay: every refusal, exit code and message; passwords never shown', async () => {
  const dir = h.makeDataDir();
  try {
    const url = 'smtp://127.0.0.1:2525';
    // The first command makes the data directory (and logs its migrations).
    assert.equal(smtpCli(dir, ['list']).status, 0);
    const refused = (args, code, stderr, opts) => {
      const r = smtpCli(dir, args, opts);
      assert.deepEqual([r.status, r.stderr, r.stdout], [code, stderr, ''], `brasa smtp ${args.join(' ')}`);
    };
    refused(['add', '--url', url], 2, 'brasa: smtp add needs a NAME and --url\n');
    refused(['add', 'r'], 2, 'brasa: smtp add needs a NAME and --url\n');
    refused(['add', 'r', '--url', 'http://x'], 2, "brasa: 'url' must be smtp://host[:port] or smtps://host[:port] (at most 1024 bytes, no spaces; the user and password go in 'user' and 'password')\n");
    refused(['add', 'a b', '--url', url], 2, "brasa: 'name' must be 1 to 64 letters, digits, '_', '-' or '.'\n");
    refused(['add', 'default', '--url', url], 2, "brasa: 'name' default is the relay of BRASA_SMTP_URL (--smtp-url): choose another\n");
    refused(['add', 'r', '--url', url, '--max-connections', 'many'], 2, "brasa: --max-connections must be an integer from 0 to 128 (got 'many')\n");
    refused(['add', 'r', '--url', url, '--max-connections', '0'], 2, "brasa: 'max_connections' must be an integer from 1 to 128\n");
    refused(['add', 'r', '--url', url, '--rate', '-1'], 2, "brasa: --rate must be an integer from 0 to 100000 (got '-1')\n");
    refused(['add', 'r', '--url', url, '--timeout-ms', '10'], 2, "brasa: 'timeout_ms' must be 0 (the default) or an integer from 1000 to 3600000\n");
    refused(['add', 'r', '--url', url, '--user', 'u'], 2, 'brasa: --user needs the password on stdin (--password-stdin) or in BRASA_SMTP_PASSWORD\n');
    refused(['add', 'r', '--url', url, '--password-stdin'], 2, 'brasa: --password-stdin needs --user\n', { input: 'pw\n' });
    refused(['add', 'r', '--url', url, '--user', 'u', '--password-stdin'], 2, "brasa: 'password' must be at most 1024 bytes\n", { input: 'p'.repeat(1025) });
    refused(['add', 'r', '--url', url, '--user', 'u', '--password-stdin'], 2, 'brasa: the password must be at most 1024 bytes\n', { input: 'p'.repeat(4000) });
    refused(['remove'], 2, 'brasa: smtp remove needs a NAME (see `brasa smtp list`)\n');
    refused(['remove', 'a/b'], 2, "brasa: 'name' must be 1 to 64 letters, digits, '_', '-' or '.'\n");
    refused(['remove', 'nope'], 1, "brasa: no SMTP relay named 'nope'\n");
    refused(['frob'], 2, "brasa: unknown smtp command 'frob'\n");

    // A password from stdin, and one from BRASA_SMTP_PASSWORD.
    let r = smtpCli(dir, ['add', 'r', '--url', url, '--user', 'brasa', '--password-stdin', '--json'], { input: 'stdin-secret\n' });
    assert.deepEqual([r.status, r.stdout], [0, '{"name":"r"}\n'], r.stderr);
    r = smtpCli(dir, ['add', 's', '--url', 'smtps://mail.example.com:465', '--user', 'ops', '--max-connections', '4', '--disabled'],
      { env: { BRASA_SMTP_PASSWORD: 'env-secret' } });
    assert.equal(r.status, 0, r.stderr);
    // BRASA_SMTP_PASSWORD without --user is --smtp-url's: not taken.
    r = smtpCli(dir, ['add', 't', '--url', url], { env: { BRASA_SMTP_PASSWORD: 'env-secret' } });
    assert.equal(r.status, 0, r.stderr);
    refused(['add', 'r', '--url', url], 1, "brasa: an SMTP relay named 'r' already exists\n");

    r = smtpCli(dir, ['list']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout,
      'NAME             ENABLED  CONNS RATE   TIMEOUT  USER             URL\n' +
      'r                yes      16    -      -        brasa            smtp://127.0.0.1:2525\n' +
      's                no       4     -      -        ops              smtps://mail.example.com:465\n' +
      't                yes      16    -      -        -                smtp://127.0.0.1:2525\n');
    r = smtpCli(dir, ['list', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    assert.deepEqual(rows.map((x) => [x.name, x.user, x.enabled, x.max_connections]), [['r', 'brasa', true, 16], ['s', 'ops', false, 4], ['t', null, true, 16]]);
    assert.ok(!/secret/.test(r.stdout));
    // The passwords are stored for sending, as given.
    const q = spawnSync('sqlite3', [`${dir}/brasa.db`, 'SELECT name, password FROM smtp_relays ORDER BY name'], { encoding: 'utf8' });
    assert.equal(q.stdout, 'r|stdin-secret\ns|env-secret\nt|\n');
    // test --relay: a stored relay by name, with its settings.
    const rx = await smtpReceiver();
    try {
      r = smtpCli(dir, ['add', 'live', '--url', rx.url, '--disabled']);
      assert.equal(r.status, 0, r.stderr);
      r = smtpCli(dir, ['test', '--relay', 'live', '--from', 'ops@brand.example', '--to', 'probe@example.com']);
      assert.deepEqual([r.status, r.stdout], [0, `the relay at ${rx.url} accepted a message from ops@brand.example to probe@example.com\n`], r.stderr);
      await rx.wait(1);
      assert.deepEqual(rx.got[0].rcpt_tos, ['probe@example.com']);
      r = smtpCli(dir, ['test', '--relay', 'live', '--from', 'ops@brand.example', '--to', 'bounce-x@example.com']);
      assert.deepEqual([r.status, r.stderr], [1, `brasa: the relay at ${rx.url} did not take the message: 550 5.1.1 No such user\n`]);
      refused(['test', '--relay', 'nope', '--from', 'ops@brand.example', '--to', 'probe@example.com'], 1, "brasa: no SMTP relay named 'nope'\n");
      refused(['test', '--relay', 'live', '--to', 'probe@example.com'], 2, 'brasa: smtp test needs --smtp-url (or BRASA_SMTP_URL), --from and --to\n');
      assert.equal(smtpCli(dir, ['remove', 'live']).status, 0);
    } finally {
      rx.close();
    }
    r = smtpCli(dir, ['remove', 's']);
    assert.deepEqual([r.status, r.stdout], [0, 'removed SMTP relay s\n']);
    assert.deepEqual(JSON.parse(smtpCli(dir, ['list', '--json']).stdout).map((x) => x.name), ['r', 't']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a relay changed in place over the API and with `brasa smtp update`; every refusal', async () => {
  const ra = await smtpReceiver(), rb = await smtpReceiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir });
  try {
    await h.usersApi(srv).trackOk({ attributes: USERS.map((id) => ({ external_id: id, email: `${id}@example.com`, first_name: id })) });
    assert.equal((await call(srv, 'POST', '/admin/smtp_relays', { name: 'a', url: ra.url })).status, 201);
    const created = (await relays(srv))[0].created_at;
    let a0 = ra.got.length;
    let d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0]);
    await ra.wait(a0 + 20);

    // Over the API: another server, sessions and rate; the rest kept.
    let res = await call(srv, 'POST', '/admin/smtp_relays/a', { url: rb.url, max_connections: 3, rate_per_second: 500, user: 'u', password: 'pw-secret' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { message: 'success' });
    let list = await relays(srv);
    assert.deepEqual(list.map((x) => [x.name, x.url, x.user, x.max_connections, x.rate_per_second, x.timeout_ms, x.enabled, x.created_at]),
      [['a', rb.url, 'u', 3, 500, 0, true, created]]);
    assert.ok(!JSON.stringify(list).includes('pw-secret'));
    res = await call(srv, 'POST', '/admin/smtp_relays/a', { user: null, password: null });
    assert.equal(res.status, 200, res.text);
    assert.equal((await relays(srv))[0].user, null);
    const b0 = rb.got.length;
    a0 = ra.got.length;
    d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0]);
    await rb.wait(b0 + 20);
    assert.equal(ra.got.length, a0);

    // With the CLI while the server runs: disabled (email is refused), then back to the first server.
    let r = smtpCli(dir, ['update', 'a', '--disabled']);
    assert.deepEqual([r.status, r.stdout], [0, 'updated SMTP relay a\n'], r.stderr);
    await h.poll(async () => (await call(srv, 'POST', '/messages/send', { external_user_ids: ['u0'], messages: { email } })).status === 400,
      { deadlineMs: 10000, intervalMs: 100 });
    r = smtpCli(dir, ['update', 'a', '--enabled', '--url', ra.url, '--timeout-ms', '20000']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((await relays(srv)).map((x) => [x.url, x.timeout_ms, x.enabled, x.max_connections]), [[ra.url, 20000, true, 3]]);
    r = smtpCli(dir, ['update', 'a', '--user', 'cli', '--password-stdin'], { input: 'pw2\n' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await relays(srv))[0].user, 'cli');
    r = smtpCli(dir, ['update', 'a', '--no-auth']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await relays(srv))[0].user, null);
    await h.poll(async () => (await relays(srv))[0].in_use, { deadlineMs: 10000, intervalMs: 100 });
    a0 = ra.got.length;
    d = await send(srv);
    assert.deepEqual([d.sent, d.errors], [20, 0]);
    await ra.wait(a0 + 20);

    // Refusals over the API: nothing changed by any of them.
    const before = await relays(srv);
    const up = (name, body) => call(srv, 'POST', `/admin/smtp_relays/${name}`, body);
    h.assertError(await up('nope', { rate_per_second: 1 }), 404, "Not Found: no SMTP relay named 'nope'");
    h.assertError(await up('a%20b', { rate_per_second: 1 }), 400, /^Bad Request: 'name' must be/);
    h.assertError(await up('a', { name: 'b' }), 400, "Bad Request: 'name' cannot change: add the relay under the new name and remove this one");
    h.assertError(await up('a', {}), 400, "Bad Request: nothing to change: give any of 'url', 'user' and 'password', 'max_connections', 'rate_per_second', 'timeout_ms', 'enabled'");
    h.assertError(await up('a', { url: 'http://mail.example.com' }), 400, /^Bad Request: 'url' must be smtp:\/\/host\[:port\] or smtps:\/\/host\[:port\]/);
    h.assertError(await up('a', { url: 5 }), 400, "Bad Request: 'url' must be a string");
    h.assertError(await up('a', { user: 'u' }), 400, "Bad Request: 'user' and 'password' go together (AUTH needs both)");
    h.assertError(await up('a', { user: null, password: 'p' }), 400, "Bad Request: 'user' and 'password' go together (AUTH needs both)");
    h.assertError(await up('a', { user: 5, password: 'p' }), 400, "Bad Request: 'user' must be a string");
    h.assertError(await up('a', { max_connections: 0 }), 400, "Bad Request: 'max_connections' must be an integer from 1 to 128");
    h.assertError(await up('a', { timeout_ms: 999 }), 400, /^Bad Request: 'timeout_ms' must be 0 \(the default\) or an integer from 1000 to 3600000$/);
    h.assertError(await up('a', { enabled: 'yes' }), 400, "Bad Request: 'enabled' must be true or false");
    h.assertError(await up('a', { colour: 'red' }), 400, /^Bad Request: .*colour/);
    const k = await h.createKey(srv, srv.key, { name: 'no-admin', permissions: ['all'] });
    h.assertError(await call(srv, 'POST', '/admin/smtp_relays/a', { rate_per_second: 1 }, k.key), 403,
      "Access Denied: this API key does not have the 'brasa.keys' permission");
    assert.deepEqual(await relays(srv), before);

    // And with the CLI.
    for (const [args, status, err, input] of [
      [['update'], 2, 'brasa: smtp update needs a NAME\n'],
      [['update', 'a'], 2, 'brasa: smtp update needs something to change (see --help)\n'],
      [['update', 'nope', '--rate', '5'], 1, "brasa: no SMTP relay named 'nope'\n"],
      [['update', 'a', '--enabled', '--disabled'], 2, 'brasa: smtp update takes --enabled or --disabled, not both\n'],
      [['update', 'a', '--user', 'u', '--no-auth'], 2, 'brasa: smtp update takes --user or --no-auth, not both\n'],
      [['update', 'a', '--user', 'u'], 2, 'brasa: --user needs the password on stdin (--password-stdin) or in BRASA_SMTP_PASSWORD\n'],
      [['update', 'a', '--password-stdin'], 2, 'brasa: --password-stdin needs --user\n', 'x\n'],
      [['update', 'a', '--url', 'http://x.example'], 2, /^brasa: 'url' must be smtp:\/\/host\[:port\]/],
      [['update', 'a', '--max-connections', '0'], 2, "brasa: 'max_connections' must be an integer from 1 to 128\n"],
    ]) {
      r = smtpCli(dir, args, { input });
      assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
      if (err instanceof RegExp) assert.match(r.stderr, err);
      else assert.equal(r.stderr, err, args.join(' '));
    }
    assert.deepEqual(await relays(srv), before);
  } finally {
    await srv.stop();
    ra.close();
    rb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
