// recv.test.js -- the webhook receiver of the benchmarks and tests
// (bench/recv.c, built with the sanitizers as build/test/recv): what it
// answers, what it counts, what it dumps, and that no input breaks it.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const h = require('./harness.js');

const BIN = process.env.RECV_BIN || path.join(__dirname, '../../build/test/recv');

// Starts the receiver; resolves once it printed its port.
function startRecv(args = []) {
  const proc = spawn(BIN, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`recv did not start: ${err}`)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (\d+)\n/.exec(out);
      if (m && !resolve.done) {
        resolve.done = true;
        clearTimeout(t);
        resolve({
          port: Number(m[1]),
          proc,
          stdout: () => out,
          stderr: () => err,
          // SIGTERM: the final counts on stdout, exit 0, no sanitizer report
          async stop() {
            proc.kill('SIGTERM');
            const { code, signal } = await exited;
            h.assertNoSanitizerReport(err, 'recv');
            assert.equal(code, 0, `recv exited with ${code} (${signal}): ${h.tail(err)}`);
            const last = out.trim().split('\n').pop();
            return JSON.parse(last);
          },
        });
      }
    });
    proc.on('exit', () => reject(new Error(`recv exited: ${err}`)));
  });
}

// The whole answers at the start of buf (a 100 or a 204 has no body).
function parseAll(buf, atEof) {
  const answers = [];
  while (buf.length) {
    const bodiless = /^HTTP\/1\.1 (100|204) /.exec(buf.subarray(0, 13).toString('latin1'));
    if (bodiless) {
      const he = buf.indexOf('\r\n\r\n');
      if (he < 0) break;
      answers.push({ status: Number(bodiless[1]), headers: {} });
      buf = buf.subarray(he + 4);
      continue;
    }
    const p = h.parseResponse(buf, atEof);
    if (!p) break;
    answers.push(p.res);
    buf = p.rest;
  }
  return answers;
}

// Writes each of parts on one connection (a pause between them), reads until
// `want` answers are whole or the connection closes. Resolves with the
// answers, whether it closed, and the raw bytes.
function talk(port, parts, want, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const bufs = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      const buf = Buffer.concat(bufs);
      resolve({ answers: parseAll(buf, true), closed, raw: buf.toString('latin1') });
    };
    const t = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d) => {
      bufs.push(d);
      if (want && parseAll(Buffer.concat(bufs), false).length >= want) setTimeout(() => finish(false), 50); // anything more would be a fault
    });
    sock.on('error', () => {});
    sock.on('close', () => finish(true));
    sock.on('connect', async () => {
      for (const p of parts) {
        if (done) return;
        sock.write(p);
        if (parts.length > 1) await new Promise((r) => setTimeout(r, 30));
      }
    });
  });
}

async function count(port) {
  const { answers } = await talk(port, ['GET /__count HTTP/1.1\r\nHost: t\r\n\r\n'], 1);
  assert.equal(answers[0].status, 200);
  return answers[0].json;
}

const post = (id, body, extra = '') =>
  `POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n` +
  (id ? `X-Brasa-Message-Id: ${id}\r\n` : '') +
  `${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('answers 200 with no body, counts requests, bytes and distinct message ids', async () => {
  const r = await startRecv();
  const { answers, closed } = await talk(r.port, [post('m1', '{"a":1}') + post('m2', 'xy') + post('m1', '')], 3);
  assert.equal(closed, false, 'keep-alive');
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
  for (const a of answers) assert.equal(a.headers['content-length'], '0');
  const c = await count(r.port);
  assert.equal(c.requests, 3);
  assert.equal(c.bytes, 9);
  assert.equal(c.unique_ids, 2);
  assert.equal(c.ok, 3);
  assert.equal(c.duplicates, 1); // m1 delivered twice
  assert.ok(c.first_at > 1.7e12 && c.last_at >= c.first_at, JSON.stringify(c));
  const final = await r.stop();
  assert.equal(final.requests, 3);
  assert.equal(final.unique_ids, 2);
});

test('pipelined requests split anywhere, chunked bodies, 100-continue, HTTP/1.0', async () => {
  const r = await startRecv();
  const all = Buffer.from(
    post('a', 'hello') +
      'POST /hook HTTP/1.1\r\nHost: t\r\nX-Brasa-Message-Id: b\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '3;ext=1\r\nabc\r\n0A\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n' +
      post('c', 'z'.repeat(70000)),
  );
  // one byte at a time for the first 300, then the rest
  const parts = [];
  for (let i = 0; i < 300; i += 7) parts.push(all.subarray(i, Math.min(i + 7, 300)));
  parts.push(all.subarray(300));
  const { answers } = await talk(r.port, parts, 3, 15000);
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);

  const cont = await talk(
    r.port,
    ['POST /hook HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n', 'body'],
    2,
  );
  assert.deepEqual(cont.answers.map((a) => a.status), [100, 200]);

  const ten = await talk(r.port, ['POST /hook HTTP/1.0\r\nContent-Length: 1\r\n\r\nx'], 1);
  assert.equal(ten.answers[0].status, 200);
  assert.equal(ten.closed, true, 'HTTP/1.0 without keep-alive closes');
  const tenKa = await talk(r.port, ['POST /hook HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n'], 1);
  assert.equal(tenKa.answers[0].headers.connection, 'keep-alive');
  assert.equal(tenKa.closed, false);
  const close = await talk(r.port, ['POST /hook HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'], 1);
  assert.equal(close.answers[0].headers.connection, 'close');
  assert.equal(close.closed, true);

  const c = await count(r.port);
  assert.equal(c.requests, 7);
  assert.equal(c.bytes, 5 + 13 + 70000 + 4 + 1);
  assert.equal(c.without_id, 4);
  await r.stop();
});

test('20,000 pipelined requests in one write: every one answered (parsing pauses while 64 KB of answers wait)', async () => {
  const r = await startRecv();
  const n = 20000;
  let reqs = '';
  // 18-byte requests, 38-byte answers: a 64 KB read makes twice the output
  for (let i = 0; i < n; i++) reqs += 'GET / HTTP/1.1\r\n\r\n';
  const got = await new Promise((resolve, reject) => {
    const sock = net.connect({ port: r.port, host: '127.0.0.1' });
    let answers = 0;
    let tail = '';
    const t = setTimeout(() => reject(new Error(`${answers} answers after 20 s`)), 20000);
    sock.on('data', (d) => {
      const s = tail + d.toString('latin1');
      const parts = s.split('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      if (parts.slice(0, -1).some((p) => p !== '')) reject(new Error(`unexpected bytes: ${s.slice(0, 200)}`));
      answers += parts.length - 1;
      tail = parts[parts.length - 1];
      if (answers === n) {
        clearTimeout(t);
        sock.destroy();
        resolve(answers);
      }
    });
    sock.on('error', reject);
    sock.write(reqs);
  });
  assert.equal(got, n);
  const c = await r.stop();
  assert.equal(c.requests, n);
  assert.equal(c.without_id, n);
});

test('the first --fail requests get --fail-status with Retry-After, then --status', async () => {
  const r = await startRecv(['--fail', '2', '--fail-status', '429', '--retry-after', '3', '--status', '202']);
  const { answers } = await talk(r.port, [post('x', '1') + post('x', '1') + post('x', '1') + post('x', '1')], 4);
  assert.deepEqual(answers.map((a) => a.status), [429, 429, 202, 202]);
  assert.equal(answers[0].headers['retry-after'], '3');
  assert.equal(answers[2].headers['retry-after'], undefined);
  const c = await r.stop();
  assert.equal(c.requests, 4);
  assert.equal(c.failed, 2);
  assert.equal(c.ok, 2);
  assert.equal(c.unique_ids, 1);
  assert.equal(c.duplicates, 1, 'the retries before the first success are not duplicates; the second success is');
});

test('--status 204 answers carry no Content-Length', async () => {
  const r = await startRecv(['--status', '204']);
  const { raw } = await talk(r.port, [post('x', '1')], 1);
  assert.equal(raw, 'HTTP/1.1 204 No Content\r\n\r\n');
  await r.stop();
});

test('--dump writes one JSON line per request, up to --dump-max', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-recv-')), 'dump.ndjson');
  const r = await startRecv(['--dump', file, '--dump-max', '2']);
  const body = '{"name":"Jo\u00e3o","ctl":"\u0001"}';
  await talk(
    r.port,
    [
      Buffer.concat([
        Buffer.from(post('m-1', body, 'X-Extra: a\r\nx-extra: b\r\n')),
        Buffer.from('PUT /p?q=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n\xff!\r\n0\r\n\r\n', 'latin1'),
        Buffer.from(post('m-3', 'third')),
      ]),
    ],
    3,
  );
  await r.stop();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].status, 200);
  assert.equal(lines[0].method, 'POST');
  assert.equal(lines[0].path, '/hook');
  assert.equal(lines[0].headers['x-brasa-message-id'], 'm-1');
  assert.equal(lines[0].headers['content-type'], 'application/json');
  assert.equal(lines[0].headers['x-extra'], 'a, b');
  assert.equal(lines[0].body, body, 'UTF-8 kept, control bytes escaped');
  assert.equal(lines[1].method, 'PUT');
  assert.equal(lines[1].path, '/p?q=1');
  assert.equal(lines[1].body, '\ufffd!', 'invalid UTF-8 becomes U+FFFD');
  fs.rmSync(path.dirname(file), { recursive: true });
});

// A Currents Custom HTTP event as brasa writes one (spec/currents.md 2.2).
const currentsEvent = (id, props = {}) => ({
  event_type: 'users.behaviors.CustomEvent',
  id,
  time: 1764800000,
  user: { user_id: '639a35d192b0df004d06514c', external_user_id: 'u1' },
  properties: { app_group_id: 'g', name: 'viewed', custom_properties: props },
});
const batch = (events) => JSON.stringify({ events });

test('Currents bodies: events counted by structure, ids into their own set', async () => {
  const r = await startRecv();
  // the needles a text search would trip on: keys named event_type and id one
  // level down (custom_properties is an object), the same words escaped
  // inside strings, backslashes before quotes, nested arrays and objects
  const tricky = currentsEvent('e3', {
    event_type: 'x',
    id: 'not-an-event-id',
    note: '"event_type":"y","id":"z" \\" \\\\',
    list: [{ id: 'deeper' }, ['a', 1, null, true]],
    '}{][': '{"events":[1,2]}',
  });
  const chunked = batch([currentsEvent('e5')]);
  const reqs = [
    post('m1', batch([currentsEvent('e1'), currentsEvent('e2')])),
    post('m2', ` \r\n${batch([tricky, currentsEvent('e4')])}\n`),
    post('m3', batch([currentsEvent('e1')])), // a resend: e1 again
    post('m4', '{"events":[]}'),
    post('m5', '{"other":[{"id":"q"}],"events":[{"id":"e6"},{"no_id":1},"scalar",7,[]],"more":{"events":[1]}}'),
    post('m6', '{"events":{"id":"e7"}}'), // not an array: no events
    'POST /hook HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `${Buffer.byteLength(chunked.slice(0, 10)).toString(16)}\r\n${chunked.slice(0, 10)}\r\n` +
      `${Buffer.byteLength(chunked.slice(10)).toString(16)}\r\n${chunked.slice(10)}\r\n0\r\n\r\n`,
    post('m7', 'not json'),
    post('m8', ''),
    post('m9', '[{"id":"e8"}]'),
  ];
  const { answers } = await talk(r.port, [reqs.join('')], reqs.length);
  assert.deepEqual(answers.map((a) => a.status), reqs.map(() => 200));
  const c = await count(r.port);
  assert.equal(c.events, 2 + 2 + 1 + 0 + 5 + 0 + 1, JSON.stringify(c));
  assert.equal(c.unique_events, 6, 'e1 e2 e3 e4 e5 e6; not the ids inside custom_properties'); // e1..e6
  assert.equal(c.accepted_events, 6);
  assert.equal(c.duplicate_events, 1, 'e1 resent');
  assert.equal(c.bad_bodies, 0);
  assert.equal(c.unique_ids, 9, 'the message ids are a separate set');
  await r.stop();
});

test('Currents bodies: broken JSON counts a bad body and no events', async () => {
  const r = await startRecv();
  const good = batch([currentsEvent('g1')]);
  const broken = [
    '{"events":[{"id":"b1"}', // cut short
    '{"events":[{"id":"b2"}]]', // unbalanced
    '{"events":[{"id":"b3"}]}}', // one close too many
    '{"events":[{"id":"b4"}]} x', // bytes after the object
    '{"events":[{"id":"b5"}]}{"events":[]}', // two objects
    '{"events":[{"id":"b6\\"}]}', // the string never ends (its quote is escaped)
    '{"events":[{"id":"b7"}}]}', // } closes an array
    '{"events":[' + '['.repeat(100) + ']'.repeat(100) + ']}', // deeper than the scan follows
    '{',
    good.slice(0, -1),
  ];
  const reqs = broken.map((b, i) => post(`x${i}`, b)).join('') + post('ok', good);
  const { answers } = await talk(r.port, [reqs], broken.length + 1);
  assert.equal(answers.length, broken.length + 1);
  const c = await count(r.port);
  assert.equal(c.bad_bodies, broken.length, JSON.stringify(c));
  assert.equal(c.events, 1);
  assert.equal(c.unique_events, 1, 'no id of a broken body is recorded');
  await r.stop();
});

test('Currents bodies: event ids of refused requests are seen but not accepted', async () => {
  const r = await startRecv(['--fail', '1', '--retry-after', '-1']);
  const body = batch([currentsEvent('f1'), currentsEvent('f2')]);
  const { answers } = await talk(r.port, [post('a', body) + post('a', body) + post('a', body) + post('b', batch([currentsEvent('f3')]))], 4);
  assert.deepEqual(answers.map((a) => a.status), [503, 200, 200, 200]);
  const c = await r.stop();
  assert.equal(c.events, 7, 'every counted request, refused or not');
  assert.equal(c.unique_events, 3);
  assert.equal(c.accepted_events, 3);
  assert.equal(c.duplicate_events, 2, 'the retry after the 503 is not a duplicate, the third copy is');
});

test('bad requests: 400 (or 413, 417, 431) and close, nothing counted', async () => {
  const r = await startRecv(['--max-body', '1000']);
  const cases = [
    ['\x00\x01garbage\r\n\r\n', 400],
    ['GET\r\n\r\n', 400],
    ['GET / HTTP/2.0\r\n\r\n', 400],
    ['GET  / HTTP/1.1\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nBad Header: x\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nX: a\nY: b\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nX: a\r\n folded\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['POST /hook HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
    ['POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n', 400],
    ['POST /hook HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['POST /hook HTTP/1.1\r\nContent-Length: 1001\r\n\r\n', 413],
    ['POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n', 413],
    ['POST /hook HTTP/1.1\r\nExpect: 200-ok\r\n\r\n', 417],
    ['GET /' + 'a'.repeat(20000) + ' HTTP/1.1\r\n\r\n', 431],
    ['POST /hook HTTP/1.1\r\n' + 'X: y\r\n'.repeat(101) + '\r\n', 431],
  ];
  for (const [req, status] of cases) {
    // a good request right behind the bad one must never run
    const { answers, closed, raw } = await talk(r.port, [req + post('smuggled', 'x')], 0, 5000);
    assert.equal(closed, true, `closed after ${JSON.stringify(req.slice(0, 60))}: ${raw}`);
    assert.equal(answers.length, 1, `${JSON.stringify(req.slice(0, 60))}: ${raw}`);
    assert.equal(answers[0].status, status, JSON.stringify(req.slice(0, 60)));
    assert.equal(answers[0].headers.connection, 'close');
  }
  const c = await r.stop();
  assert.equal(c.requests, 0);
  assert.equal(c.bad_requests, cases.length);
});

test('random bytes on many connections do not break it', async () => {
  const r = await startRecv(['--max-body', '4096', '--idle-timeout', '1']);
  let seed = 12345;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = ['POST /hook HTTP/1.1\r\n', 'Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n', '\r\n', '5\r\n',
    'hello', '0\r\n\r\n', 'X-Brasa-Message-Id: q\r\n', 'Expect: 100-continue\r\n', '\r', '\n', ':', ' ', '\x00', '\xff'];
  const runs = [];
  for (let k = 0; k < 60; k++) {
    const parts = [];
    for (let i = 0, n = 1 + rnd(6); i < n; i++) {
      let s = '';
      for (let j = 0, m = 1 + rnd(12); j < m; j++) {
        s += rnd(3) ? pieces[rnd(pieces.length)] : String.fromCharCode(rnd(256)).repeat(1 + rnd(40));
      }
      parts.push(Buffer.from(s, 'latin1'));
    }
    runs.push(talk(r.port, parts, 0, 1500));
  }
  await Promise.all(runs);
  const c = await count(r.port); // still serving
  assert.ok(c.requests >= 0);
  await r.stop();
});
