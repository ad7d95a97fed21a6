// credentials.test.js -- Connected Content's basic-auth credentials:
// GET/POST /admin/credentials and DELETE /admin/credentials/{name}, every
// way a request can be refused (status and body), that a password is never
// shown again, and `brasa credentials add|list|remove` on the same data.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');

let srv, restartedDir;
before(async () => {
  srv = await h.startServer();
});
after(async () => {
  if (srv) await srv.stop();
  if (restartedDir) fs.rmSync(restartedDir, { recursive: true, force: true });
});

const call = (method, p, body, key = srv.key) => h.request(srv, method, p, { key, body });
const list = async () => {
  const res = await call('GET', '/admin/credentials');
  assert.equal(res.status, 200, res.text);
  return res;
};

test('create, list without passwords, delete', async () => {
  const t0 = Date.now();
  let res = await call('POST', '/admin/credentials', { name: 'weather_api', username: 'alice', password: 'hunter2:x' });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(res.json, { message: 'success', name: 'weather_api' });
  res = await call('POST', '/admin/credentials', { name: 'a.b-c', username: 'bob@example.com', password: '' });
  assert.equal(res.status, 201, res.text);

  res = await list();
  assert.equal(res.json.message, 'success');
  assert.deepEqual(res.json.credentials.map((c) => c.name), ['a.b-c', 'weather_api']); // by name
  const c = res.json.credentials[1];
  assert.deepEqual(Object.keys(c).sort(), ['created_at', 'name', 'username']);
  assert.equal(c.username, 'alice');
  const created = Date.parse(c.created_at);
  assert.ok(created >= t0 - 5000 && created <= Date.now() + 5000, c.created_at);
  assert.ok(!res.text.includes('hunter2'), res.text);

  res = await call('DELETE', '/admin/credentials/weather_api');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { message: 'success' });
  res = await list();
  assert.deepEqual(res.json.credentials.map((x) => x.name), ['a.b-c']);
  // The name is free again.
  res = await call('POST', '/admin/credentials', { name: 'weather_api', username: 'carol', password: 'p' });
  assert.equal(res.status, 201, res.text);
  res = await list();
  assert.equal(res.json.credentials.find((x) => x.name === 'weather_api').username, 'carol');
  await call('DELETE', '/admin/credentials/weather_api');
  await call('DELETE', '/admin/credentials/a.b-c');
  assert.deepEqual((await list()).json.credentials, []);
});

test('create: a taken name is 409', async () => {
  let res = await call('POST', '/admin/credentials', { name: 'dup', username: 'u', password: 'p' });
  assert.equal(res.status, 201, res.text);
  res = await call('POST', '/admin/credentials', { name: 'dup', username: 'other', password: 'q' });
  h.assertError(res, 409, "Already exists: a credential named 'dup' already exists");
  res = await list();
  assert.equal(res.json.credentials.find((x) => x.name === 'dup').username, 'u'); // unchanged
  await call('DELETE', '/admin/credentials/dup');
});

test('create: every bad field is a 400 naming it', async () => {
  const NAME = "Bad Request: 'name' must be 1 to 64 letters, digits, '_', '-' or '.'";
  const USER = "Bad Request: 'username' must be 1 to 255 bytes without ':' or control characters";
  const PASS = "Bad Request: 'password' must be at most 1024 bytes, without NUL";
  const cases = [
    [[], 'Bad Request: the body must be a JSON object'],
    ['x', 'Bad Request: the body must be a JSON object'],
    [{ username: 'u', password: 'p' }, "Bad Request: 'name' is required and must be a string"],
    [{ name: 7, username: 'u', password: 'p' }, "Bad Request: 'name' is required and must be a string"],
    [{ name: null, username: 'u', password: 'p' }, "Bad Request: 'name' is required and must be a string"],
    [{ name: 'n', password: 'p' }, "Bad Request: 'username' is required and must be a string"],
    [{ name: 'n', username: ['u'], password: 'p' }, "Bad Request: 'username' is required and must be a string"],
    [{ name: 'n', username: 'u' }, "Bad Request: 'password' is required and must be a string"],
    [{ name: 'n', username: 'u', password: 5 }, "Bad Request: 'password' is required and must be a string"],
    [{ name: '', username: 'u', password: 'p' }, NAME],
    [{ name: 'has space', username: 'u', password: 'p' }, NAME],
    [{ name: 'a/b', username: 'u', password: 'p' }, NAME],
    [{ name: 'é', username: 'u', password: 'p' }, NAME],
    [{ name: 'x'.repeat(65), username: 'u', password: 'p' }, NAME],
    [{ name: 'n', username: '', password: 'p' }, USER],
    [{ name: 'n', username: 'a:b', password: 'p' }, USER],
    [{ name: 'n', username: 'a\nb', password: 'p' }, USER],
    [{ name: 'n', username: 'u'.repeat(256), password: 'p' }, USER],
    [{ name: 'n', username: 'u', password: 'p'.repeat(1025) }, PASS],
  ];
  for (const [body, message] of cases) {
    h.assertError(await call('POST', '/admin/credentials', body), 400, message);
  }
  // A NUL in any string is refused before the handler, as everywhere.
  for (const body of [{ name: 'a\u0000b', username: 'u', password: 'p' }, { name: 'n', username: 'a\u0000b', password: 'p' },
                      { name: 'n', username: 'u', password: 'a\u0000b' }]) {
    h.assertError(await call('POST', '/admin/credentials', body), 400, /^Invalid JSON in request body: strings must not contain U\+0000/);
  }
  // The limits themselves are fine.
  const res = await call('POST', '/admin/credentials', { name: 'x'.repeat(64), username: 'u'.repeat(255), password: 'p'.repeat(1024) });
  assert.equal(res.status, 201, res.text);
  await call('DELETE', `/admin/credentials/${'x'.repeat(64)}`);
  assert.deepEqual((await list()).json.credentials, []);
});

test('create: malformed JSON, wrong content type', async () => {
  let res = await h.request(srv, 'POST', '/admin/credentials', { key: srv.key, raw: '{"name":', headers: { 'content-type': 'application/json' } });
  h.assertError(res, 400, /^Invalid JSON in request body/);
  res = await h.request(srv, 'POST', '/admin/credentials', { key: srv.key, raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  h.assertError(res, 415, 'Unsupported Media Type: send Content-Type: application/json');
});

test('delete: unknown and malformed names', async () => {
  h.assertError(await call('DELETE', '/admin/credentials/nope'), 404, "Not Found: no credential named 'nope'");
  h.assertError(await call('DELETE', '/admin/credentials/a%20b'), 400,
                "Bad Request: 'name' must be 1 to 64 letters, digits, '_', '-' or '.'");
  h.assertError(await call('DELETE', `/admin/credentials/${'x'.repeat(65)}`), 400,
                "Bad Request: 'name' must be 1 to 64 letters, digits, '_', '-' or '.'");
  // No name at all is the collection, which has no DELETE.
  h.assertError(await call('DELETE', '/admin/credentials'), 405, 'Method Not Allowed');
  h.assertError(await call('DELETE', '/admin/credentials/a/b'), 404, 'Not Found');
});

test('methods, keys and permissions', async () => {
  let res = await call('PUT', '/admin/credentials', { name: 'n', username: 'u', password: 'p' });
  h.assertError(res, 405, 'Method Not Allowed');
  assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');
  res = await call('GET', '/admin/credentials/x');
  h.assertError(res, 405, 'Method Not Allowed');
  assert.equal(res.headers.get('allow'), 'DELETE');

  h.assertError(await h.request(srv, 'GET', '/admin/credentials'), 401, 'Invalid API key: ');
  h.assertError(await call('POST', '/admin/credentials', { name: 'n', username: 'u', password: 'p' }, 'nope'), 401, 'Invalid API key: nope');
  h.assertError(await h.request(srv, 'DELETE', '/admin/credentials/x'), 401, 'Invalid API key: ');

  // brasa.keys is required: a key with every Braze permission is refused.
  const k = await h.createKey(srv, srv.key, { name: 'no-admin', permissions: ['all'] });
  const denied = "Access Denied: this API key does not have the 'brasa.keys' permission";
  h.assertError(await call('GET', '/admin/credentials', undefined, k.key), 403, denied);
  h.assertError(await call('POST', '/admin/credentials', { name: 'n', username: 'u', password: 'p' }, k.key), 403, denied);
  h.assertError(await call('DELETE', '/admin/credentials/n', undefined, k.key), 403, denied);
  assert.deepEqual((await list()).json.credentials, []);
});

// `brasa credentials` with stdin for --password-stdin (harness.cli has none).
function cliIn(args, input) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRASA_')) env[k] = v;
  const r = spawnSync(h.BIN, [...args, '--data-dir', srv.dir], { env, input, encoding: 'utf8', timeout: 20000 });
  h.assertNoSanitizerReport(r.stderr || '', `brasa ${args.join(' ')}`);
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
}

test('CLI: add, list, remove on the running server\'s data', async () => {
  let r = h.cli(['credentials', 'add', '--name', 'cli_cred', '--username', 'dora', '--password', 'pw1'], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'added credential cli_cred\n');
  r = cliIn(['credentials', 'add', '--name', 'cli_stdin', '--username', 'eve', '--password-stdin', '--json'], 'from stdin\n');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { name: 'cli_stdin' });

  // The server sees them at once; no password anywhere.
  const res = await list();
  assert.deepEqual(res.json.credentials.map((c) => [c.name, c.username]), [['cli_cred', 'dora'], ['cli_stdin', 'eve']]);
  r = h.cli(['credentials', 'list', '--json'], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout);
  assert.deepEqual(rows.map((c) => Object.keys(c).sort()), [['created_at', 'name', 'username'], ['created_at', 'name', 'username']]);
  assert.deepEqual(rows.map((c) => c.created_at), res.json.credentials.map((c) => c.created_at));
  r = h.cli(['credentials', 'list'], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^NAME\s+CREATED\s+USERNAME\ncli_cred\s+\S+Z\s+dora\ncli_stdin\s+\S+Z\s+eve\n$/);
  assert.ok(!r.stdout.includes('pw1') && !r.stdout.includes('from stdin'));

  // Refusals: taken name, bad fields, missing options, unknown names.
  r = h.cli(['credentials', 'add', '--name', 'cli_cred', '--username', 'x', '--password', 'y'], { dir: srv.dir });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "brasa: a credential named 'cli_cred' already exists\n");
  r = h.cli(['credentials', 'add', '--name', 'bad name', '--username', 'x', '--password', 'y'], { dir: srv.dir });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "brasa: 'name' must be 1 to 64 letters, digits, '_', '-' or '.'\n");
  r = h.cli(['credentials', 'add', '--name', 'n', '--username', 'a:b', '--password', 'y'], { dir: srv.dir });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /'username' must be/);
  r = h.cli(['credentials', 'add', '--name', 'n', '--username', 'x'], { dir: srv.dir });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /needs --name, --username and --password or --password-stdin/);
  r = h.cli(['credentials', 'remove', 'nope'], { dir: srv.dir });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "brasa: no credential named 'nope'\n");
  r = h.cli(['credentials', 'remove'], { dir: srv.dir });
  assert.equal(r.status, 2);
  r = h.cli(['credentials', 'frob'], { dir: srv.dir });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "brasa: unknown credentials command 'frob'\n");

  r = h.cli(['credentials', 'remove', 'cli_cred'], { dir: srv.dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'removed credential cli_cred\n');
  h.assertError(await call('DELETE', '/admin/credentials/cli_cred'), 404, "Not Found: no credential named 'cli_cred'");
  assert.equal((await call('DELETE', '/admin/credentials/cli_stdin')).status, 200);
  assert.deepEqual((await list()).json.credentials, []);
});

test('credentials survive a restart', async () => {
  assert.equal((await call('POST', '/admin/credentials', { name: 'durable', username: 'u', password: 'p' })).status, 201);
  const { dir, key } = srv;
  await srv.kill9();
  restartedDir = dir;
  srv = await h.startServer({ dir });
  srv.key = key; // bootstrapped once: no new key is printed
  const res = await list();
  assert.deepEqual(res.json.credentials.map((c) => c.name), ['durable']);
});
