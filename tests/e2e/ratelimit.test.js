// ratelimit.test.js -- per-key fixed-window rate limits (--rate-limit).
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

// The windows are aligned to the epoch: a burst that straddles the top of
// the hour would see two windows. Start bursts away from the boundary.
async function awayFromHourBoundary() {
  const left = 3600 - (Math.floor(Date.now() / 1000) % 3600);
  if (left < 5) await new Promise((r) => setTimeout(r, (left + 1) * 1000));
}

describe('default=3/1h', () => {
  let srv;
  before(async () => {
    srv = await h.startServer({ args: ['--rate-limit', 'default=3/1h'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('three requests pass with X-RateLimit-*, the fourth gets 429', async () => {
    await awayFromHourBoundary();
    const resets = [];
    for (const remaining of [2, 1, 0]) {
      const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-ratelimit-limit'), '3');
      assert.equal(res.headers.get('x-ratelimit-remaining'), String(remaining));
      const reset = res.headers.get('x-ratelimit-reset');
      assert.match(reset || '', /^\d+$/);
      resets.push(Number(reset));
    }
    const now = Date.now() / 1000;
    for (const r of resets) {
      assert.equal(r % 3600, 0, `X-RateLimit-Reset ${r} is not at the top of an hour`);
      assert.ok(r > now && r <= now + 3600 + 1, `X-RateLimit-Reset ${r} is not the next top of the hour (now ${now})`);
    }
    assert.equal(new Set(resets).size, 1);

    const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
    h.assertError(res, 429, /^Rate Limited: .+/);
    assert.match(res.json.message, /default/);
    const ra = res.headers.get('retry-after');
    assert.match(ra || '', /^\d+$/, 'Retry-After on a 429');
    assert.ok(Number(ra) >= 0 && Number(ra) <= 3600, `Retry-After ${ra}`);
    assert.equal(res.headers.get('x-ratelimit-limit'), '3');
    assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(res.headers.get('x-ratelimit-reset'), String(resets[0]));

    // Every route of the group is limited, and a refused request is not
    // executed: a POST does not create a key.
    const post = await h.request(srv, 'POST', '/admin/keys', { key: srv.key, body: { name: 'over-limit', permissions: ['users.track'] } });
    h.assertError(post, 429, /^Rate Limited/);
    const list = JSON.parse(h.cli(['keys', 'list', '--json'], { dir: srv.dir }).stdout);
    assert.ok(!list.some((k) => k.name === 'over-limit'), 'a rate-limited create must not create');
  });

  test('another key has its own budget', async () => {
    await awayFromHourBoundary();
    const c = h.cli(['keys', 'create', '--name', 'second', '--permissions', 'brasa.keys'], { dir: srv.dir });
    assert.equal(c.status, 0, c.stderr);
    const key2 = c.stdout.trim();
    for (const remaining of [2, 1, 0]) {
      const res = await h.request(srv, 'GET', '/admin/keys', { key: key2 });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-ratelimit-remaining'), String(remaining));
    }
    h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: key2 }), 429, /^Rate Limited/);
  });

  test('unauthenticated requests and /healthz do not spend any budget', async () => {
    for (let i = 0; i < 5; i++) {
      h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: 'nope' }), 401, 'Invalid API key: nope');
      const hz = await h.request(srv, 'GET', '/healthz');
      assert.equal(hz.status, 200, hz.text);
    }
    const c = h.cli(['keys', 'create', '--name', 'third', '--permissions', 'brasa.keys'], { dir: srv.dir });
    const res = await h.request(srv, 'GET', '/admin/keys', { key: c.stdout.trim() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-ratelimit-remaining'), '2');
  });
});

describe('default=0', () => {
  let srv;
  before(async () => {
    srv = await h.startServer({ args: ['--rate-limit', 'default=0'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('no X-RateLimit headers and no 429', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
      assert.equal(res.status, 200, res.text);
      for (const hd of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after']) {
        assert.equal(res.headers.get(hd), null, `${hd} on an unlimited group`);
      }
    }
  });
});

describe('BRASA_RATE_LIMITS from the environment', () => {
  let srv;
  before(async () => {
    srv = await h.startServer({ env: { BRASA_RATE_LIMITS: 'default=2/1h' } });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('is applied like --rate-limit', async () => {
    await awayFromHourBoundary();
    const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-ratelimit-limit'), '2');
    assert.equal(res.headers.get('x-ratelimit-remaining'), '1');
  });
});

describe('bad --rate-limit specs', () => {
  for (const spec of ['nosuch=1', 'default', 'default=x', 'default=-1', 'default=3/0s', 'default=3/1y']) {
    test(`serve --rate-limit ${spec} exits 2 with a message, cleanly`, () => {
      const dir = h.makeDataDir();
      try {
        // cli() fails the test on a sanitizer report as well.
        const r = h.cli(['serve', '--port', '0', '--listen', '127.0.0.1', '--rate-limit', spec], { dir, timeout: 15000 });
        assert.notEqual(r.signal, 'SIGTERM', 'serve started despite the bad spec');
        assert.ok(!/listening on/.test(r.stdout), r.stdout);
        assert.match(r.stderr, /rate limit/);
        assert.equal(r.status, 2, `exit status for a usage error; stderr:\n${r.stderr}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
