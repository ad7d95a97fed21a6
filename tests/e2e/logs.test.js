// logs.test.js -- --log-format json as a log shipper reads it: every stderr
// line of a server that started, answered requests and stopped is one JSON
// object with time, level, module and msg, and the request lines carry
// method, path, status, us, key and ip as fields (numbers as numbers). The
// variable does the same, the flag overrides it, the other commands take
// the variable, and a bad value is refused at once with exit code 2.
'use strict';

const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// Every line of text parsed as a JSON object with the fields every line has.
function jsonLines(text) {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'stderr ends with a newline');
  assert.ok(lines.length > 0, 'no log lines');
  return lines.map((line) => {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(line); }, `not JSON: ${line}`);
    assert.equal(typeof o, 'object', line);
    assert.match(o.time, TIME_RE, line);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level), line);
    assert.equal(typeof o.msg, 'string', line);
    return o;
  });
}

describe('serve --log-format json', () => {
  test('every line is a JSON object; request lines have their fields', async () => {
    const srv = await h.startServer({ args: ['--log-format', 'json'] });
    let stderr;
    let ops;
    try {
      // A key whose name has spaces and quotes, to be logged quoted.
      ops = await h.createKey(srv, srv.key, { name: 'night "ops" \\ team', permissions: ['brasa.keys'] });
      assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: ops.key })).status, 200);
      assert.equal((await h.request(srv, 'GET', '/no/such"path')).status, 404);
    } finally {
      await srv.stop(); // every line is out once the server exited
      stderr = srv.stderr();
    }
    const lines = jsonLines(stderr);

    const ready = lines.find((o) => o.module === 'serve' && o.msg === 'ready');
    assert.ok(ready, stderr);
    assert.equal(ready.level, 'info');
    assert.equal(ready.pid, srv.proc.pid);
    assert.equal(ready.port, srv.port);
    assert.equal(typeof ready.threads, 'number');

    const http = lines.filter((o) => o.module === 'http' && o.method);
    const created = http.find((o) => o.method === 'POST' && o.path === '/admin/keys');
    assert.ok(created, stderr);
    assert.deepEqual(Object.keys(created), ['time', 'level', 'module', 'msg', 'method', 'path', 'status', 'us', 'key', 'ip']);
    assert.equal(created.msg, '');
    assert.equal(created.status, 201);
    assert.ok(Number.isInteger(created.us) && created.us >= 0, stderr);
    assert.equal(created.key, 'bootstrap');
    assert.equal(created.ip, '127.0.0.1');

    const listed = http.find((o) => o.method === 'GET' && o.path === '/admin/keys');
    assert.ok(listed, stderr);
    assert.equal(listed.status, 200);
    assert.equal(listed.key, 'night "ops" \\ team');

    const missing = http.find((o) => o.status === 404);
    assert.ok(missing, stderr);
    assert.equal(missing.path, '/no/such%22path');
    assert.equal(missing.key, '');

    assert.ok(lines.some((o) => o.module === 'serve' && /^signal \d+, shutting down$/.test(o.msg)), stderr);
  });

  test('BRASA_LOG_FORMAT=json does the same; --log-format text overrides it', async () => {
    let srv = await h.startServer({ env: { BRASA_LOG_FORMAT: 'json' } });
    await srv.stop();
    assert.ok(jsonLines(srv.stderr()).some((o) => o.module === 'serve' && o.msg === 'ready'), srv.stderr());

    srv = await h.startServer({ env: { BRASA_LOG_FORMAT: 'json' }, args: ['--log-format', 'text'] });
    await srv.stop();
    assert.match(srv.stderr(), /^\d{4}-\d\d-\d\dT[\d:.]+Z info serve: ready pid=\d+ port=\d+/m);
    assert.ok(!srv.stderr().includes('{"time"'), srv.stderr());
  });

  test('the default is text, where a key name\'s quotes are escaped', async () => {
    const srv = await h.startServer();
    try {
      const ops = await h.createKey(srv, srv.key, { name: 'night "ops" \\ team', permissions: ['brasa.keys'] });
      assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: ops.key })).status, 200);
    } finally {
      await srv.stop();
    }
    assert.match(srv.stderr(), /^\d{4}-\d\d-\d\dT[\d:.]+Z info serve: ready pid=\d+ port=\d+/m);
    assert.ok(srv.stderr().includes(' info http method=GET path=/admin/keys status=200 us='), srv.stderr());
    assert.ok(srv.stderr().includes(' key="night \\"ops\\" \\\\ team" ip=127.0.0.1\n'), srv.stderr());
    assert.ok(!srv.stderr().includes('{"time"'), srv.stderr());
  });
});

describe('the other commands take BRASA_LOG_FORMAT', () => {
  test('keys list on a new store logs its migrations as JSON', () => {
    const dir = h.makeDataDir();
    try {
      const r = h.cli(['keys', 'list'], { dir, env: { BRASA_LOG_FORMAT: 'json' } });
      assert.equal(r.status, 0, r.stderr);
      const lines = jsonLines(r.stderr);
      assert.ok(lines.every((o) => o.module === 'store'), r.stderr);
      assert.ok(lines.some((o) => /^applied migration 001_keys to /.test(o.msg)), r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a bad log format', () => {
  for (const [what, args, env, message] of [
    ['serve --log-format xml', ['serve', '--listen', '127.0.0.1', '--log-format', 'xml'], {}, "brasa: unknown --log-format 'xml' (text or json)\n"],
    ['serve --log-format JSON', ['serve', '--listen', '127.0.0.1', '--log-format', 'JSON'], {}, "brasa: unknown --log-format 'JSON' (text or json)\n"],
    ['serve with BRASA_LOG_FORMAT=xml', ['serve', '--listen', '127.0.0.1'], { BRASA_LOG_FORMAT: 'xml' }, "brasa: unknown --log-format 'xml' (text or json)\n"],
    ['keys list with BRASA_LOG_FORMAT=xml', ['keys', 'list'], { BRASA_LOG_FORMAT: 'xml' }, "brasa: unknown BRASA_LOG_FORMAT 'xml' (text or json)\n"],
  ]) {
    test(`${what} exits 2 with a message, before it does anything`, () => {
      const dir = h.makeDataDir();
      try {
        const r = h.cli(args, { dir, env, timeout: 15000 });
        assert.notEqual(r.signal, 'SIGTERM', 'started despite the bad format');
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stderr, message);
        assert.equal(r.stdout, '');
        assert.deepEqual(fs.readdirSync(dir), [], 'the store was opened');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
