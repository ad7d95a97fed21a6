// session.test.js -- signing in and out of the dashboard in a real browser,
// and what a session may not do: a wrong password, an ended or expired
// session, a forged or missing CSRF token, a marketer or read-only operator
// at an admin's action; the CSP header and no request to another origin.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const b = require('./harness.js');
const { h } = b;

test('sign in, see the overview, the audit log of what was done, sign out', async () => {
  const t = await b.start();
  try {
    const res = await t.page.goto(`${t.base}/dashboard/`);
    const csp = res.headers()['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline script, no other origin');
    assert.equal(res.headers()['x-frame-options'], 'DENY');
    await t.page.getByRole('heading', { name: 'Sign in to brasa' }).waitFor();
    assert.equal(await t.page.title(), 'Sign in · brasa');
    await b.shot(t.page, 'sign-in');

    // A wrong password: refused, in words, and the form stays.
    await t.page.getByLabel('Operator name').fill('admin');
    await t.page.getByLabel('Password').fill('not the password');
    await t.page.getByRole('button', { name: 'Sign in' }).click();
    await t.page.getByRole('alert').filter({ hasText: 'Wrong operator name or password' }).waitFor();
    // An unknown operator: the same answer (names are not revealed).
    await t.page.getByLabel('Operator name').fill('nobody');
    await t.page.getByLabel('Password').fill(b.PASSWORD);
    await t.page.getByRole('button', { name: 'Sign in' }).click();
    await t.page.getByRole('alert').filter({ hasText: 'Wrong operator name or password' }).waitFor();

    await b.signIn(t.page, t.base);
    const cookies = await t.context.cookies();
    const c = cookies.find((x) => x.name === 'brasa_session');
    assert.ok(c.httpOnly && c.sameSite === 'Strict', JSON.stringify(c));
    assert.equal(await t.page.evaluate(() => document.cookie), '', 'the page cannot read its session');

    // The audit log holds the sign-in, by name, before anything else.
    await t.page.getByRole('link', { name: 'Audit log' }).click();
    await t.page.waitForURL(`${t.base}/dashboard/audit`);
    assert.equal(await t.page.title(), 'Audit log · brasa');
    const row = t.page.getByRole('row').filter({ hasText: 'POST /dashboard/api/login' });
    await row.waitFor();
    assert.match(await row.textContent(), /operator:admin/);
    await b.shot(t.page, 'audit');

    // A bookmark: the same URL opens the same page.
    await t.page.goto(`${t.base}/dashboard/audit`);
    await t.page.getByRole('heading', { name: 'Audit log' }).waitFor();

    await t.page.getByRole('button', { name: 'Sign out' }).click();
    await t.page.getByRole('heading', { name: 'Sign in to brasa' }).waitFor();
    // The old cookie opens nothing now.
    const r = await h.request(t.srv, 'GET', '/dashboard/api/me', { headers: { Cookie: `brasa_session=${c.value}` } });
    h.assertError(r, 401, 'Your session has expired or was ended: sign in again');
    assert.deepEqual(t.foreign, [], 'no request to another origin');
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});

// A session's cookie, signed in over HTTP as the browser would.
async function login(srv, name, password = b.PASSWORD) {
  const r = await h.request(srv, 'POST', '/dashboard/api/login', { body: { name, password } });
  assert.equal(r.status, 200, r.text);
  const cookie = /brasa_session=([^;]+)/.exec(r.headers.get('set-cookie'))[1];
  return { cookie: `brasa_session=${cookie}`, csrf: r.json.csrf_token, json: r.json };
}

test('roles, CSRF and expiry, over HTTP as a page would send them', async () => {
  const srv = await h.startServer({ args: ['--session-ttl', '2'] });
  try {
    b.addOperator(srv.dir, 'ada', 'admin');
    b.addOperator(srv.dir, 'mia', 'marketer');
    b.addOperator(srv.dir, 'rob', 'read-only');
    const admin = await login(srv, 'ada');
    assert.deepEqual(admin.json.operator, { name: 'ada', role: 'admin' });
    assert.match(admin.csrf, /^[0-9a-f]{32}$/);

    const keyBody = { name: 'k', permissions: ['users.track'] };
    // No CSRF token, a wrong one: refused, nothing made.
    let r = await h.request(srv, 'POST', '/admin/keys', { body: keyBody, headers: { Cookie: admin.cookie } });
    h.assertError(r, 403, 'Missing or invalid CSRF token: reload the page and try again');
    r = await h.request(srv, 'POST', '/admin/keys', { body: keyBody, headers: { Cookie: admin.cookie, 'X-CSRF-Token': '0'.repeat(32) } });
    h.assertError(r, 403, 'Missing or invalid CSRF token: reload the page and try again');
    r = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
    assert.equal(r.json.keys.length, 1, 'only the bootstrap key');
    r = await h.request(srv, 'POST', '/admin/keys', { body: keyBody, headers: { Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf } });
    assert.equal(r.status, 201, r.text);

    // A marketer: segments yes, keys no.
    const mia = await login(srv, 'mia');
    r = await h.request(srv, 'GET', '/admin/segments', { headers: { Cookie: mia.cookie } });
    assert.equal(r.status, 200, r.text);
    r = await h.request(srv, 'GET', '/admin/keys', { headers: { Cookie: mia.cookie } });
    h.assertError(r, 403, 'Access Denied: your role (marketer) does not allow this');
    r = await h.request(srv, 'POST', '/admin/keys', { body: keyBody, headers: { Cookie: mia.cookie, 'X-CSRF-Token': mia.csrf } });
    h.assertError(r, 403, 'Access Denied: your role (marketer) does not allow this');
    r = await h.request(srv, 'POST', '/admin/segments', {
      body: { name: 'S', definition: { filters: [] } }, headers: { Cookie: mia.cookie, 'X-CSRF-Token': mia.csrf } });
    assert.ok(r.status === 201 || r.status === 400, r.text); // allowed through the role check either way
    assert.notEqual(r.status, 403);

    // Read-only: reads, and nothing else, even with the token.
    const rob = await login(srv, 'rob');
    r = await h.request(srv, 'GET', '/admin/segments', { headers: { Cookie: rob.cookie } });
    assert.equal(r.status, 200, r.text);
    r = await h.request(srv, 'POST', '/admin/segments', {
      body: { name: 'S2', definition: { filters: [] } }, headers: { Cookie: rob.cookie, 'X-CSRF-Token': rob.csrf } });
    h.assertError(r, 403, 'Access Denied: your role (read-only) does not allow this');
    r = await h.request(srv, 'POST', '/users/track', {
      body: { attributes: [{ external_id: 'u1', first_name: 'x' }] }, headers: { Cookie: rob.cookie, 'X-CSRF-Token': rob.csrf } });
    h.assertError(r, 403, 'Access Denied: your role (read-only) does not allow this');
    r = await h.request(srv, 'POST', '/dashboard/api/logout', { body: {}, headers: { Cookie: rob.cookie, 'X-CSRF-Token': rob.csrf } });
    assert.equal(r.status, 200, 'anyone may sign out');
    r = await h.request(srv, 'GET', '/admin/segments', { headers: { Cookie: rob.cookie } });
    h.assertError(r, 401, 'Your session has expired or was ended: sign in again');

    // Session routes need a session, not a key.
    r = await h.request(srv, 'GET', '/dashboard/api/me', { key: srv.key });
    h.assertError(r, 400, "Bad Request: this route is a dashboard session's: a key has none");
    // A forged cookie; a login from another origin; bad bodies.
    r = await h.request(srv, 'GET', '/admin/segments', { headers: { Cookie: 'brasa_session=forged' } });
    h.assertError(r, 401, 'Your session has expired or was ended: sign in again');
    r = await h.request(srv, 'POST', '/dashboard/api/login', { body: { name: 'ada', password: b.PASSWORD }, headers: { Origin: 'https://evil.example' } });
    h.assertError(r, 403, "Missing or invalid CSRF token: a login must come from this server's own pages");
    r = await h.request(srv, 'POST', '/dashboard/api/login', { body: { name: 'ada' } });
    h.assertError(r, 400, "Bad Request: 'name' and 'password' are required strings");
    r = await h.request(srv, 'POST', '/dashboard/api/login', { body: { name: 'ada', password: 'x', remember: true } });
    h.assertError(r, 400, "Bad Request: unknown field 'remember'");

    // Expiry: two seconds here.
    await new Promise((res) => setTimeout(res, 2200));
    r = await h.request(srv, 'GET', '/admin/segments', { headers: { Cookie: mia.cookie } });
    h.assertError(r, 401, 'Your session has expired or was ended: sign in again');

    // The audit log: who did what, keys and operators alike; no refusal.
    r = await h.request(srv, 'GET', '/admin/audit', { key: srv.key });
    assert.equal(r.status, 200, r.text);
    const lines = r.json.entries.map((e) => `${e.who} ${e.method} ${e.path} ${e.status}`);
    assert.ok(lines.includes('operator:ada POST /admin/keys 201'), lines.join('\n'));
    assert.ok(lines.includes('operator:mia POST /dashboard/api/login 200'), lines.join('\n'));
    assert.ok(!lines.some((l) => / 40\d$/.test(l)), 'refusals are not entries');
    r = await h.request(srv, 'GET', '/admin/audit?limit=0', { key: srv.key });
    h.assertError(r, 400, "Bad Request: 'limit' must be an integer from 1 to 1000");
    r = await h.request(srv, 'GET', '/admin/audit?before=x', { key: srv.key });
    h.assertError(r, 400, "Bad Request: 'before' must be an integer from 1 to 9223372036854775807");
    r = await h.request(srv, 'GET', '/admin/audit?limit=2', { key: srv.key });
    assert.equal(r.json.entries.length, 2);
    const next = await h.request(srv, 'GET', `/admin/audit?limit=2&before=${r.json.next_before}`, { key: srv.key });
    assert.ok(next.json.entries[0].id < r.json.entries[1].id + 1 && next.json.entries[0].id < r.json.entries[0].id);
    r = await h.request(srv, 'GET', '/admin/operators', { key: srv.key });
    assert.deepEqual(r.json.operators.map((o) => [o.name, o.role]), [['ada', 'admin'], ['mia', 'marketer'], ['rob', 'read-only']]);
    assert.ok(r.json.operators[0].last_login_at);
  } finally {
    await srv.stop();
  }
});

test('brasa operators: add, list, passwd ends sessions, remove; bad input refused', async () => {
  const srv = await h.startServer();
  try {
    const op = (args, input) => require('node:child_process').spawnSync(process.env.BRASA_BIN,
      ['operators', ...args, '--data-dir', srv.dir], { input, encoding: 'utf8' });
    b.addOperator(srv.dir, 'ana', 'marketer');
    let r = op(['add', 'ana', '--role', 'admin'], `${b.PASSWORD}\n`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /an operator named 'ana' already exists/);
    r = op(['add', 'bo', '--role', 'boss'], `${b.PASSWORD}\n`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--role is admin, marketer or read-only, not 'boss'/);
    r = op(['add', 'bo b', '--role', 'admin'], `${b.PASSWORD}\n`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /an operator's name is 1 to 60 of/);
    r = op(['add', 'bo', '--role', 'admin'], 'short\n');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /a password is 10 to 1024 bytes/);
    r = op(['add', 'bo'], `${b.PASSWORD}\n`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /needs --role/);
    r = op(['list', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).map((o) => o.name), ['ana']);

    const s = await login(srv, 'ana');
    r = op(['passwd', 'ana'], 'another long password\n');
    assert.equal(r.status, 0, r.stderr);
    let res = await h.request(srv, 'GET', '/admin/segments', { headers: { Cookie: s.cookie } });
    h.assertError(res, 401, 'Your session has expired or was ended: sign in again');
    res = await h.request(srv, 'POST', '/dashboard/api/login', { body: { name: 'ana', password: b.PASSWORD } });
    h.assertError(res, 401, 'Wrong operator name or password');
    const s2 = await login(srv, 'ana', 'another long password');
    r = op(['remove', 'ana']);
    assert.equal(r.status, 0, r.stderr);
    res = await h.request(srv, 'GET', '/admin/segments', { headers: { Cookie: s2.cookie } });
    h.assertError(res, 401, 'Your session has expired or was ended: sign in again');
    r = op(['remove', 'ana']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no operator named 'ana'/);
    assert.match(srv.stdout(), /has no operator yet: create one with/);
  } finally {
    await srv.stop();
  }
});

test('sign-in throttling: wrong passwords count against the address, then 429 even for the right one', async () => {
  const srv = await h.startServer({ args: ['--auth-fail-limit', '3/60s'] });
  try {
    b.addOperator(srv.dir, 'ada', 'admin');
    for (let i = 0; i < 3; i++) {
      const r = await h.request(srv, 'POST', '/dashboard/api/login', { body: { name: 'ada', password: `guess number ${i}` } });
      h.assertError(r, 401, 'Wrong operator name or password');
    }
    const r = await h.request(srv, 'POST', '/dashboard/api/login', { body: { name: 'ada', password: b.PASSWORD } });
    h.assertError(r, 429, /^Too Many Requests: too many failed authentications from this address: retry after \d+ s$/);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
  } finally {
    await srv.stop();
  }
});

test('the dashboard\'s files and admin routes: 404 for an unknown file, 304 by ETag, and every refusal with its body', async () => {
  const srv = await h.startServer();
  try {
    b.addOperator(srv.dir, 'mia', 'marketer');
    // Files: the shell under any page path, assets by name, ETag revalidation.
    let r = await h.request(srv, 'GET', '/dashboard/assets/app.js');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/javascript/);
    assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
    const etag = r.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    r = await h.request(srv, 'GET', '/dashboard/assets/app.js', { headers: { 'If-None-Match': etag } });
    assert.equal(r.status, 304);
    assert.equal(r.text, '');
    r = await h.request(srv, 'GET', '/dashboard/segments/abc');
    assert.equal(r.status, 200);
    assert.match(r.text, /<script type="module" src="\/dashboard\/assets\/app.js">/);
    h.assertError(await h.request(srv, 'GET', '/dashboard/assets/nope.js'), 404, 'Not Found: no such dashboard file');
    h.assertError(await h.request(srv, 'GET', '/dashboard/assets/index.html'), 404, 'Not Found: no such dashboard file');

    // Logout: a key has no session; a session needs its CSRF token.
    h.assertError(await h.request(srv, 'POST', '/dashboard/api/logout', { key: srv.key, body: {} }), 400,
      "Bad Request: this route is a dashboard session's: a key has none");
    const mia = await login(srv, 'mia');
    h.assertError(await h.request(srv, 'POST', '/dashboard/api/logout', { body: {}, headers: { Cookie: mia.cookie } }), 403,
      'Missing or invalid CSRF token: reload the page and try again');

    // The audit log and the operators: admins only.
    for (const p of ['/admin/audit', '/admin/operators']) {
      h.assertError(await h.request(srv, 'GET', p, { headers: { Cookie: mia.cookie } }), 403,
        'Access Denied: your role (marketer) does not allow this');
      h.assertError(await h.request(srv, 'GET', p), 401, 'Invalid API key: ');
      const weak = await h.createKey(srv, srv.key, { name: `weak${p.length}`, permissions: ['all', 'brasa.marketing'] });
      h.assertError(await h.request(srv, 'GET', p, { key: weak.key }), 403,
        "Access Denied: this API key does not have the 'brasa.keys' permission");
    }
  } finally {
    await srv.stop();
  }
});
