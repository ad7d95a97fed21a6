// harness.js -- start the real brasa binary and talk to it the way a partner
// would (fetch), or byte by byte when fetch cannot say it (node:net).
//
// BRASA_BIN names the binary under test (the ASan+UBSan build in `make e2e`).
// A server's stop() requires exit code 0: a sanitizer report (leak, UB) makes
// the exit code non-zero, and the test that stopped the server fails with the
// tail of its stderr.
'use strict';

const assert = require('node:assert/strict');
const { before, after } = require('node:test');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const BIN = process.env.BRASA_BIN;
if (!BIN) throw new Error('set BRASA_BIN to the brasa binary (e.g. BRASA_BIN=$PWD/build/test/brasa)');

const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 15000;
const STDERR_KEEP = 256 * 1024;
const LISTEN_RE = /^brasa (\S+) listening on http:\/\/(\[[^\]]+\]|[^:/\s]+):(\d+) \(data dir (.*)\)$/;
const BOOTSTRAP_RE = /^bootstrap key: ([0-9a-f-]{36})$/;
const UUID4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SANITIZER_RE = /(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;

// The environment of a spawned brasa: ours without any BRASA_* setting (a
// developer's shell must not change what a test sees), plus extra.
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRASA_')) env[k] = v;
  return { ...env, ...extra };
}

function tail(s, n = 4000) {
  return s.length > n ? '...' + s.slice(-n) : s;
}

function makeDataDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-e2e-'));
}

function assertNoSanitizerReport(stderr, what = 'brasa') {
  if (SANITIZER_RE.test(stderr)) assert.fail(`${what}: sanitizer report on stderr:\n${tail(stderr)}`);
}

// Starts `brasa serve` on a free port of 127.0.0.1 (or opts.listen) with its
// data in opts.dir (a new temporary directory by default). Resolves once the
// server printed its listening line.
function startServer(opts = {}) {
  const dir = opts.dir || makeDataDir();
  const ownDir = !opts.dir;
  const listen = opts.listen || '127.0.0.1';
  const args = ['serve', '--port', '0', '--listen', listen, '--data-dir', dir, ...(opts.args || [])];
  const proc = spawn(BIN, args, { env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exited = null; // {code, signal} once the process is gone
  const exitP = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    err += d;
    if (err.length > 2 * STDERR_KEEP) err = err.slice(-STDERR_KEEP);
  });
  proc.stdout.setEncoding('utf8');

  return new Promise((resolve, reject) => {
    let done = false;
    let key = null;
    const fail = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!exited) proc.kill('SIGKILL');
      reject(new Error(`brasa serve ${args.join(' ')}: ${why}\nstdout:\n${tail(out)}\nstderr:\n${tail(err)}`));
    };
    const timer = setTimeout(() => fail(`no listening line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    proc.on('error', (e) => fail(`cannot run: ${e.message}`));
    exitP.then((e) => fail(`exited before listening (code ${e.code}, signal ${e.signal})`));
    let pending = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (done) return;
      pending += d;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const b = BOOTSTRAP_RE.exec(line);
        if (b) key = b[1];
        const m = LISTEN_RE.exec(line);
        if (!m) continue;
        done = true;
        clearTimeout(timer);
        const port = Number(m[3]);
        const host = m[2];
        const srv = {
          url: `http://${host}:${port}`,
          host,
          port,
          version: m[1],
          key,
          dir,
          proc,
          stdout: () => out,
          stderr: () => err,
          exited: () => exited,
          // SIGTERM, wait, and require a clean exit (0, no sanitizer report).
          async stop() {
            if (!exited) {
              proc.kill('SIGTERM');
              const t = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
              await exitP;
              clearTimeout(t);
            }
            assert.ok(
              exited.code === 0 && exited.signal === null,
              `brasa serve did not exit cleanly on SIGTERM (code ${exited.code}, signal ${exited.signal}); stderr tail:\n${tail(err)}`,
            );
            assertNoSanitizerReport(err, 'brasa serve');
            if (ownDir && !opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
          },
          // SIGKILL: no shutdown at all (crash test); the data dir stays.
          async kill9() {
            if (!exited) {
              proc.kill('SIGKILL');
              await exitP;
            }
          },
          // For after() hooks: stop if still running, never throw twice.
          async cleanup() {
            if (!exited) await srv.kill9();
          },
        };
        resolve(srv);
        return;
      }
    });
  });
}

// One server for a whole test file: started before its first test and
// stopped (cleanly, as stop() requires) after its last. The object it
// returns becomes the server (url, key, dir, stop, ...) once started.
function fileServer(opts) {
  const srv = {};
  before(async () => Object.assign(srv, await startServer(opts)));
  after(async () => {
    if (srv.stop) await srv.stop();
  });
  return srv;
}

// Runs `brasa ARGS --data-dir DIR` to completion. Returns {status, signal,
// stdout, stderr}. A sanitizer report on stderr fails the calling test.
function cli(args, { dir, env, timeout = 20000 } = {}) {
  const full = dir ? [...args, '--data-dir', dir] : [...args];
  const r = spawnSync(BIN, full, { env: childEnv(env), encoding: 'utf8', timeout });
  if (r.error && r.error.code !== 'ETIMEDOUT') throw r.error;
  assertNoSanitizerReport(r.stderr || '', `brasa ${full.join(' ')}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '' };
}

// fetch() wrapper: JSON in, {status, headers, text, json} out.
async function request(srv, method, p, { key, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (key !== undefined) h.authorization = `Bearer ${key}`;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
  }
  const res = await fetch(srv.url + p, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// Asserts an error answer: status, JSON content type and exact (string) or
// matching (RegExp) message, and that the body has only "message".
function assertError(res, status, message) {
  const ctx = `${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.match(String(res.headers.get ? res.headers.get('content-type') : res.headers['content-type']), /^application\/json/, ctx);
  assert.ok(res.json && typeof res.json === 'object', `error body is not JSON: ${ctx}`);
  assert.deepEqual(Object.keys(res.json), ['message'], ctx);
  if (message instanceof RegExp) assert.match(res.json.message, message, ctx);
  else assert.equal(res.json.message, message, ctx);
}

async function createKey(srv, key, spec) {
  const res = await request(srv, 'POST', '/admin/keys', { key, body: spec });
  assert.equal(res.status, 201, res.text);
  return res.json.key;
}

// Polls fn() (async, returns truthy when done) every intervalMs until it is
// truthy or deadlineMs passed; returns the last value.
async function poll(fn, { deadlineMs = 3000, intervalMs = 50 } = {}) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= end) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---- raw HTTP over node:net -------------------------------------------------

// Parses one HTTP/1.1 response at the start of buf. Returns {res, rest} or
// null when more bytes are needed (or, with atEof, what there is).
function parseResponse(buf, atEof) {
  const he = buf.indexOf('\r\n\r\n');
  if (he < 0) return null;
  const head = buf.subarray(0, he).toString('latin1').split('\r\n');
  const sm = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(head[0]);
  if (!sm) throw new Error(`bad status line: ${JSON.stringify(head[0])}`);
  const headers = {};
  const rawHeaders = [];
  for (const line of head.slice(1)) {
    const c = line.indexOf(':');
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    rawHeaders.push([name, value]);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body;
  let end;
  const start = he + 4;
  if (headers['content-length'] !== undefined) {
    end = start + Number(headers['content-length']);
    if (buf.length < end) return null;
    body = buf.subarray(start, end);
  } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    const parts = [];
    let pos = start;
    for (;;) {
      const le = buf.indexOf('\r\n', pos);
      if (le < 0) return null;
      const n = parseInt(buf.subarray(pos, le).toString('latin1'), 16);
      if (buf.length < le + 2 + n + 2) return null;
      if (n === 0) {
        const te = buf.indexOf('\r\n\r\n', le);
        if (te < 0) return null;
        end = te + 4;
        break;
      }
      parts.push(buf.subarray(le + 2, le + 2 + n));
      pos = le + 2 + n + 2;
    }
    body = Buffer.concat(parts);
  } else {
    if (!atEof) return null;
    body = buf.subarray(start);
    end = buf.length;
  }
  const text = body.toString('utf8');
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { res: { status: Number(sm[1]), reason: sm[2], headers, rawHeaders, text, json }, rest: buf.subarray(end) };
}

// A raw connection: send bytes, read whole responses one at a time.
function rawConnect(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    let buf = Buffer.alloc(0);
    let eof = false;
    let error = null;
    let waiter = null;
    const wake = () => {
      if (waiter) waiter();
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      wake();
    });
    sock.on('end', () => {
      eof = true;
      wake();
    });
    sock.on('close', () => {
      eof = true;
      wake();
    });
    sock.on('error', (e) => {
      // A reset after the server answered and closed is expected in some
      // tests (it refused a body we were still sending): keep what we got.
      error = e;
      eof = true;
      wake();
    });
    sock.once('connect', () => {
      resolve({
        sock,
        get closed() {
          return eof;
        },
        get error() {
          return error;
        },
        write(data) {
          return new Promise((res) => {
            if (eof || sock.destroyed) return res(false);
            sock.write(data, (e) => res(!e));
          });
        },
        // Resolves with the next complete response; rejects after timeoutMs.
        read(timeoutMs = 10000) {
          return new Promise((res, rej) => {
            const t = setTimeout(() => {
              waiter = null;
              rej(new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
            }, timeoutMs);
            const check = () => {
              let p;
              try {
                p = parseResponse(buf, eof);
              } catch (e) {
                clearTimeout(t);
                waiter = null;
                return rej(e);
              }
              if (p) {
                clearTimeout(t);
                waiter = null;
                buf = p.rest;
                return res(p.res);
              }
              if (eof) {
                clearTimeout(t);
                waiter = null;
                rej(new Error(`connection closed (${error ? error.code : 'eof'}) before a complete response; got ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
              }
            };
            waiter = check;
            check();
          });
        },
        // Resolves true once the peer closed the connection (false on timeout).
        waitClosed(timeoutMs = 5000) {
          return new Promise((res) => {
            if (eof) return res(true);
            const t = setTimeout(() => res(false), timeoutMs);
            sock.once('close', () => {
              clearTimeout(t);
              res(true);
            });
          });
        },
        close() {
          sock.destroy();
        },
      });
    });
    sock.once('error', reject);
  });
}

// One request on a fresh connection; returns the response.
async function rawRequest(port, data, { host = '127.0.0.1', timeoutMs = 10000 } = {}) {
  const c = await rawConnect(port, host);
  try {
    await c.write(data);
    return await c.read(timeoutMs);
  } finally {
    c.close();
  }
}

// Sends data on a fresh connection and keeps every byte until the server
// closes it or timeoutMs passes: {closed, ms, raw (latin1), answers (the
// responses parsed from raw, as far as they parse)}.
function rawExchange(port, data, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect({ port, host: '127.0.0.1' });
    const parts = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      let buf = Buffer.concat(parts);
      const raw = buf.toString('latin1');
      const answers = [];
      try {
        for (let p; buf.length && (p = parseResponse(buf, true)); buf = p.rest) answers.push(p.res);
      } catch {
        // not a response (e.g. after a HEAD answer): raw has it all
      }
      resolve({ closed, ms: Date.now() - t0, raw, answers });
    };
    const t = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d) => parts.push(d));
    sock.on('error', () => {});
    sock.on('close', () => finish(true));
    sock.write(data);
  });
}

// Asserts an error answer got over a raw connection (lower-case headers).
function assertRawError(res, status, message) {
  assertError({ ...res, headers: { get: (n) => res.headers[n.toLowerCase()] } }, status, message);
}

// Whether this host can bind ::1 (IPv6 loopback).
function canBindIPv6Loopback() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

module.exports = {
  BIN,
  UUID4_RE,
  startServer,
  fileServer,
  makeDataDir,
  cli,
  request,
  assertError,
  assertRawError,
  assertNoSanitizerReport,
  createKey,
  poll,
  rawConnect,
  rawRequest,
  rawExchange,
  parseResponse,
  canBindIPv6Loopback,
  tail,
};

// ---- /users/* helpers (users_*.test.js) --------------------------------------

const ISO_MS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BRAZE_ID_RE = /^[0-9a-f]{24}$/;

// The /users endpoints of srv with one key. ok() posts and requires a 201
// with exactly the expected JSON body; user() exports one identifier and
// returns its user object (requiring exactly one match).
function usersApi(srv, key = srv.key) {
  const post = (p, body) => request(srv, 'POST', p, { key, body });
  const api = {
    post,
    track: (body) => post('/users/track', body),
    exportIds: (body) => post('/users/export/ids', body),
    async ok(p, body, expected) {
      const res = await post(p, body);
      assert.equal(res.status, 201, `${p}: ${res.status} ${res.text}`);
      if (expected !== undefined) assert.deepEqual(res.json, expected, `${p}: ${res.text}`);
      return res.json;
    },
    trackOk: (body, expected) => api.ok('/users/track', body, expected),
    // Export by {external_ids:[id]} (a string) or any export body (an object).
    async user(id, fields) {
      const body = typeof id === 'string' ? { external_ids: [id] } : { ...id };
      if (fields) body.fields_to_export = fields;
      const res = await api.ok('/users/export/ids', body);
      assert.equal(res.message, 'success', JSON.stringify(res));
      assert.equal(res.users.length, 1, `exactly one user for ${JSON.stringify(id)}: ${JSON.stringify(res)}`);
      assert.equal(res.invalid_user_ids, undefined, JSON.stringify(res));
      return res.users[0];
    },
    // Requires that the identifier matches nobody.
    async none(id) {
      const body = typeof id === 'string' ? { external_ids: [id] } : { ...id };
      const res = await api.ok('/users/export/ids', body);
      const inv = typeof id === 'string' ? id : Object.values(id)[0];
      assert.deepEqual(res, { users: [], invalid_user_ids: Array.isArray(inv) ? inv : [inv], message: 'success' });
    },
  };
  return api;
}

// A user object without its volatile fields (created_at, braze_id,
// random_bucket), after checking their form.
function stableUser(u) {
  const { created_at: c, braze_id: b, random_bucket: r, ...rest } = u;
  if (c !== undefined) assert.match(c, ISO_MS_RE);
  if (b !== undefined) assert.match(b, BRAZE_ID_RE);
  if (r !== undefined) assert.ok(Number.isInteger(r) && r >= 0 && r <= 9999, `random_bucket ${r}`);
  return rest;
}

Object.assign(module.exports, { ISO_MS_RE, BRAZE_ID_RE, usersApi, stableUser });

// ---- exports (export_*.test.js) ----------------------------------------------

// The members of a zip archive: [{name, text}]. Reads the central directory
// and inflates each member (Node has zlib but no unzip).
function unzip(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, 'no zip end-of-central-directory record');
  const out = [];
  let p = buf.readUInt32LE(eocd + 16);
  for (let i = buf.readUInt16LE(eocd + 10); i > 0; i--) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50, 'central directory entry');
    const method = buf.readUInt16LE(p + 10), csize = buf.readUInt32LE(p + 20), size = buf.readUInt32LE(p + 24);
    const nl = buf.readUInt16LE(p + 28), xl = buf.readUInt16LE(p + 30), cl = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    const data = method === 8 ? zlib.inflateRawSync(raw) : raw;
    assert.equal(data.length, size);
    out.push({ name: buf.toString('utf8', p + 46, p + 46 + nl), text: data.toString('utf8') });
    p += 46 + nl + xl + cl;
  }
  return out;
}

const ndjson = (text) => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));

// A node:http server that records each request; with hold, requests are
// kept unanswered until release().
async function callbackServer({ hold = false } = {}) {
  const got = [], held = [], waiters = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body: JSON.parse(body) });
      waiters.splice(0).forEach((w) => w());
      if (hold) held.push(res);
      else res.end('ok');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}/hook?x=1`,
    got,
    async next(n = got.length + 1, ms = 20000) {
      const end = Date.now() + ms;
      while (got.length < n && Date.now() < end) await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
      assert.ok(got.length >= n, `callback ${n} did not arrive`);
      return got[n - 1];
    },
    release() {
      hold = false;
      held.splice(0).forEach((res) => res.end('ok'));
    },
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

Object.assign(module.exports, { unzip, ndjson, callbackServer });

// ---- Currents events (messaging and subscription tests) ------------------------

// The Currents events of dir's store whose event_type starts with prefix:
// from message_outbox (messaging events) or outbox (profile events:
// custom events, subscription changes). Read with the sqlite3 CLI while
// the server may be writing (it waits for the lock).
function outboxEvents(dir, prefix, table = 'message_outbox') {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', path.join(dir, 'brasa.db'),
    `SELECT json_group_array(json(e.value)) FROM ${table}, json_each(events) e ` +
    `WHERE json_extract(e.value, '$.event_type') LIKE '${prefix}%'`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()).flatMap(expandChanges);
}

// A cohort import's compact item (core/cohort.c) as the flat events
// Currents delivers (currents/outbox.c): one per change.
function expandChanges(e) {
  if (!Array.isArray(e.changes)) return [e];
  return e.changes.map(([i, userId, ext, added]) => ({
    id: `${e.id}${i.toString(16).padStart(4, '0')}`,
    event_type: e.event_type,
    user_id: userId,
    ...(ext === null ? {} : { external_user_id: ext }),
    time: e.time,
    cohort_id: e.cohort_id,
    cohort_name: e.cohort_name,
    partner: e.partner,
    change: added ? 'added' : 'removed',
  }));
}

Object.assign(module.exports, { outboxEvents });
