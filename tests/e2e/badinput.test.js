// badinput.test.js -- malformed and hostile requests: every one gets a JSON
// error, none changes anything, and the server keeps answering.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const MAX_BODY = 4194304;
const srv = h.fileServer();

const postRaw = (raw, headers = { 'content-type': 'application/json' }) =>
  h.request(srv, 'POST', '/admin/keys', { key: srv.key, raw, headers });

async function keyCount() {
  const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
  assert.equal(res.status, 200, res.text);
  return res.json.keys.length;
}

test('malformed JSON: 400 "Invalid JSON in request body..."', async () => {
  for (const raw of ['{', '{"name":', '{"name" "x"}', "{'name':'x'}", '{"name":"x",}', 'nul', '[1,2', '{"a":1}}', '\u0000']) {
    const res = await postRaw(raw);
    h.assertError(res, 400, /^Invalid JSON in request body/);
  }
});

test('invalid UTF-8 in a JSON string: 400', async () => {
  const raw = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","permissions":"users.track"}')]);
  h.assertError(await postRaw(raw), 400, /^Invalid JSON in request body/);
});

test('trailing garbage after the JSON value: 400', async () => {
  h.assertError(await postRaw('{"a":1} x'), 400, /^Invalid JSON in request body/);
  h.assertError(await postRaw('{"name":"x","permissions":"users.track"}{}'), 400, /^Invalid JSON in request body/);
  // Trailing whitespace is fine.
  const ok = await postRaw('{"name":"ws","permissions":"users.track"} \r\n\t ');
  assert.equal(ok.status, 201, ok.text);
});

test('NaN, Infinity and numbers beyond a double: 400 (json-c would accept them)', async () => {
  for (const v of ['NaN', 'Infinity', '-Infinity', '1e999', '-1e400']) {
    const res = await postRaw(`{"name":"n","permissions":"users.track","x":[{"y":${v}}]}`);
    h.assertError(res, 400, /^Invalid JSON in request body.*finite/);
  }
  // A large but finite double is a number like any other.
  const ok = await postRaw('{"name":"big","permissions":"users.track","x":1e308}');
  assert.equal(ok.status, 201, ok.text);
});

test('JSON nested too deep: 400, not a crash', async () => {
  const deep = '['.repeat(100000) + ']'.repeat(100000);
  h.assertError(await postRaw(deep), 400, /^Invalid JSON in request body/);
});

test('malformed JSON with a wrong key: the key is checked first (401)', async () => {
  const res = await h.request(srv, 'POST', '/admin/keys', { key: 'nope', raw: '{', headers: { 'content-type': 'application/json' } });
  h.assertError(res, 401, 'Invalid API key: nope');
});

test('wrong Content-Type: 415', async () => {
  const body = '{"name":"ct","permissions":"users.track"}';
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/+json']) {
    const res = await postRaw(body, { 'content-type': ct });
    h.assertError(res, 415, 'Unsupported Media Type: send Content-Type: application/json');
  }
});

test('application/json with parameters, any case, and +json types are accepted', async () => {
  for (const ct of ['application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8', 'application/vnd.api+json']) {
    const res = await postRaw(JSON.stringify({ name: `ct ${ct}`, permissions: 'users.track' }), { 'content-type': ct });
    assert.equal(res.status, 201, `${ct}: ${res.text}`);
  }
});

test('refused bodies created nothing', async () => {
  const n = await keyCount();
  await postRaw('{"name":"x","permissions":"users.track"} x');
  await postRaw('{"name":"x","permissions":"users.track"}', { 'content-type': 'text/plain' });
  assert.equal(await keyCount(), n);
});

test('body over 4 MiB with Content-Length: 413 before the body is read', async () => {
  const c = await h.rawConnect(srv.port);
  try {
    // Only the head: the server must answer without waiting for the body.
    await c.write(`POST /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`);
    const res = await c.read();
    h.assertRawError(res, 413, 'Request Entity Too Large: the body exceeds 4194304 bytes');
    // It will not read the body: the connection is closed.
    assert.equal(await c.waitClosed(5000), true, 'connection closed after an early 413');
  } finally {
    c.close();
  }
  // With a declared size far beyond any limit.
  const res = await h.rawRequest(srv.port, 'POST /admin/keys HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n');
  h.assertRawError(res, 413, 'Request Entity Too Large: the body exceeds 4194304 bytes');
});

test('body over 4 MiB sent whole (fetch): 413 or a reset, never a 2xx', async () => {
  // The server answers from the headers and closes; a client still sending
  // may see the 413 or a reset, depending on timing. Either way nothing is
  // created.
  const n = await keyCount();
  const big = '{"name":"big","permissions":"users.track","pad":"' + 'x'.repeat(MAX_BODY) + '"}';
  try {
    const res = await postRaw(big);
    h.assertError(res, 413, 'Request Entity Too Large: the body exceeds 4194304 bytes');
  } catch (e) {
    assert.ok(e instanceof TypeError, `fetch error: ${e}`);
  }
  assert.equal(await keyCount(), n);
});

test('body of exactly 4 MiB is accepted', async () => {
  const head = '{"name":"exact","permissions":"users.track","pad":"';
  const raw = head + 'x'.repeat(MAX_BODY - head.length - 2) + '"}';
  assert.equal(Buffer.byteLength(raw), MAX_BODY);
  const res = await postRaw(raw);
  assert.equal(res.status, 201, res.text.slice(0, 300));
  assert.equal(res.json.key.name, 'exact');
});

function chunked(parts) {
  return Buffer.concat(parts.flatMap((p) => [Buffer.from(p.length.toString(16) + '\r\n'), p, Buffer.from('\r\n')]).concat([Buffer.from('0\r\n\r\n')]));
}

test('chunked body: accepted under the limit', async () => {
  const c = await h.rawConnect(srv.port);
  try {
    await c.write(`POST /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    await c.write(chunked([Buffer.from('{"name":"chun'), Buffer.from('ked","permissions":'), Buffer.from('["users.track"]}')]));
    const res = await c.read();
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.key.name, 'chunked');
  } finally {
    c.close();
  }
});

test('chunked body over the limit: 413 JSON, and the connection still serves', async () => {
  const n = await keyCount();
  const c = await h.rawConnect(srv.port);
  try {
    await c.write(`POST /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const mib = Buffer.alloc(1 << 20, 0x20);
    // 5 MiB in 1 MiB chunks, then the last chunk.
    for (let i = 0; i < 5; i++) await c.write(Buffer.concat([Buffer.from('100000\r\n'), mib, Buffer.from('\r\n')]));
    await c.write('0\r\n\r\n');
    const res = await c.read(20000);
    h.assertRawError(res, 413, 'Request Entity Too Large: the body exceeds 4194304 bytes');
    if (!c.closed) {
      await c.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
      const hz = await c.read();
      assert.equal(hz.status, 200, hz.text);
    }
  } finally {
    c.close();
  }
  assert.equal(await keyCount(), n);
});

test('headers over 32 KiB: 431 JSON', async () => {
  const res = await h.rawRequest(srv.port, `GET /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\nX-Long: ${'a'.repeat(40 * 1024)}\r\n\r\n`);
  h.assertRawError(res, 431, 'Request Header Fields Too Large: headers exceed 32768 bytes');
  // Many smaller headers adding up over the limit.
  let many = '';
  for (let i = 0; i < 40; i++) many += `X-H${i}: ${'b'.repeat(1000)}\r\n`;
  const res2 = await h.rawRequest(srv.port, `GET /healthz HTTP/1.1\r\nHost: t\r\n${many}\r\n`);
  h.assertRawError(res2, 431, 'Request Header Fields Too Large: headers exceed 32768 bytes');
});

test('header injection: a second header line in the request is just a header', async () => {
  const res = await h.rawRequest(srv.port, 'GET /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer abc\r\nX-Injected: yes\r\n\r\n');
  h.assertRawError(res, 401, 'Invalid API key: abc');
  assert.equal(res.headers['x-injected'], undefined);
});

test('header injection: CR/LF inside an echoed key stays inside the JSON body', async () => {
  for (const req of [
    'GET /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer abc\rX-Injected: yes\r\n\r\n',
    'GET /admin/keys?api_key=abc%0d%0aX-Injected:%20yes HTTP/1.1\r\nHost: t\r\n\r\n',
  ]) {
    const c = await h.rawConnect(srv.port);
    try {
      await c.write(req);
      const res = await c.read();
      assert.ok(res.status === 400 || res.status === 401, `${res.status} ${res.text}`);
      if (res.status === 401) h.assertRawError(res, 401, /^Invalid API key: abc/);
      assert.equal(res.headers['x-injected'], undefined, JSON.stringify(res.rawHeaders));
      for (const [name] of res.rawHeaders) assert.match(name, /^[a-z0-9-]+$/);
    } finally {
      c.close();
    }
  }
});

test('a path with %0d%0a: 404 JSON and no injected header', async () => {
  for (const p of ['/admin%0d%0aX-Evil:%201', '/admin/keys%0d%0aX-Evil:%201', '/%0aX-Evil:%201']) {
    const res = await h.rawRequest(srv.port, `GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`);
    h.assertRawError(res, 404, 'Not Found');
    assert.equal(res.headers['x-evil'], undefined, JSON.stringify(res.rawHeaders));
  }
});

test('a path with %00 does not route to its prefix', async () => {
  // "/admin/keys%00/revoke" is not "/admin/keys": a decoded NUL must not cut
  // the path short (a proxy rule on exact paths would be bypassed).
  for (const p of ['/healthz%00junk', '/admin/keys%00/revoke', '/healthz%00']) {
    const res = await h.rawRequest(srv.port, `GET ${p} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\n\r\n`);
    assert.ok(res.status === 404 || res.status === 400, `GET ${p} answered ${res.status} ${res.text.slice(0, 80)}`);
    h.assertRawError(res, res.status, res.status === 404 ? 'Not Found' : /^Bad Request/);
  }
});

test('the server logged the hostile path on one line', () => {
  const lines = srv.stderr().split('\n').filter((l) => l.includes('X-Evil'));
  assert.ok(lines.length > 0, 'request with X-Evil in its path was logged');
  for (const l of lines) assert.match(l, /^\S+ info http method=GET path=\S*X-Evil/, l);
});

test('after all that, /healthz answers 200 and the key still works', async () => {
  const res = await h.request(srv, 'GET', '/healthz');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.store.failed, 0);
  assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: srv.key })).status, 200);
});
