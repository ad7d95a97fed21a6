// cli.test.js -- `brasa keys ...` on the data dir of a running server, help
// texts, the bootstrap key, restarts and the data dir lock.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

describe('keys CLI beside a running server', () => {
  let srv;
  before(async () => {
    srv = await h.startServer();
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('keys create prints the key alone; it works over HTTP at once', async () => {
    const r = h.cli(['keys', 'create', '--name', 'cli-one', '--permissions', 'brasa.keys'], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f-]{36}\n$/);
    const key = r.stdout.trim();
    assert.match(key, h.UUID4_RE);
    const res = await h.request(srv, 'GET', '/admin/keys', { key });
    assert.equal(res.status, 200, res.text);
    const row = res.json.keys.find((k) => k.name === 'cli-one');
    assert.ok(row, res.text);
    assert.deepEqual(row.permissions, ['brasa.keys']);
  });

  test('keys create --json prints one JSON object with the key', async () => {
    const r = h.cli(['keys', 'create', '--name', 'cli-json', '--permissions', 'users.track,brasa.keys', '--allow-ip', '127.0.0.1', '--allow-ip', '10.0.0.0/8', '--json'], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
    const k = JSON.parse(r.stdout);
    assert.equal(k.name, 'cli-json');
    assert.match(k.key, h.UUID4_RE);
    assert.ok(Number.isInteger(k.id) && k.id > 0);
    assert.deepEqual([...k.permissions].sort(), ['brasa.keys', 'users.track']);
    assert.deepEqual(k.allow_ips, ['127.0.0.1', '10.0.0.0/8']);
    assert.equal(k.revoked_at, null);
    assert.equal(k.last_used_at, null);
    assert.ok(!Number.isNaN(Date.parse(k.created_at)));
    const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
    assert.equal(res.status, 200, res.text);
  });

  test('keys list --json lists keys created by the CLI and over HTTP, without their text', async () => {
    const viaHttp = await h.createKey(srv, srv.key, { name: 'http-made', permissions: ['users.track'] });
    const r = h.cli(['keys', 'list', '--json'], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.ok(Array.isArray(list));
    const names = list.map((k) => k.name);
    for (const n of ['bootstrap', 'cli-one', 'cli-json', 'http-made']) assert.ok(names.includes(n), `${n} in ${names}`);
    assert.ok(list.some((k) => k.id === viaHttp.id));
    for (const k of list) assert.ok(!('key' in k) && !('hash' in k), JSON.stringify(k));
    assert.ok(!r.stdout.includes(viaHttp.key));
    assert.ok(!r.stdout.includes(srv.key));

    const plain = h.cli(['keys', 'list'], { dir: srv.dir });
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /^ID\s+NAME/);
    assert.match(plain.stdout, /http-made/);
  });

  test('keys revoke: the server refuses the key within its cache time', async () => {
    const c = h.cli(['keys', 'create', '--name', 'cli-revoke', '--permissions', 'brasa.keys', '--json'], { dir: srv.dir });
    assert.equal(c.status, 0, c.stderr);
    const k = JSON.parse(c.stdout);
    // Use it so the server has it cached.
    assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: k.key })).status, 200);

    const r = h.cli(['keys', 'revoke', String(k.id)], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`revoked key ${k.id}`));
    const t0 = Date.now();
    const last = await h.poll(
      async () => {
        const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
        return res.status === 401 ? res : null;
      },
      { deadlineMs: 2500, intervalMs: 50 },
    );
    assert.ok(last, `revoked key still accepted ${Date.now() - t0} ms after \`keys revoke\` (key cache is 1 s)`);
    h.assertError(last, 401, `Invalid API key: ${k.key}`);

    const list = JSON.parse(h.cli(['keys', 'list', '--json'], { dir: srv.dir }).stdout);
    const row = list.find((x) => x.id === k.id);
    assert.ok(row.revoked_at, JSON.stringify(row));
  });

  test('keys create with an unknown permission exits 2 with a message', () => {
    const r = h.cli(['keys', 'create', '--name', 'bad', '--permissions', 'users.track,no.such'], { dir: srv.dir });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no\.such/);
  });

  test('keys create with a bad --allow-ip or without --name exits 2', () => {
    let r = h.cli(['keys', 'create', '--name', 'bad', '--permissions', 'users.track', '--allow-ip', '10.0.0.0/33'], { dir: srv.dir });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /10\.0\.0\.0\/33/);
    r = h.cli(['keys', 'create', '--permissions', 'users.track'], { dir: srv.dir });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /--name/);
  });

  test('keys revoke of an unknown id exits 1; a bad id exits 2', () => {
    let r = h.cli(['keys', 'revoke', '999'], { dir: srv.dir });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /no active key with id 999/);
    r = h.cli(['keys', 'revoke', 'abc'], { dir: srv.dir });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    r = h.cli(['keys', 'revoke'], { dir: srv.dir });
    assert.equal(r.status, 2, r.stdout + r.stderr);
  });

  test('unknown keys subcommand and unknown option exit 2', () => {
    assert.equal(h.cli(['keys', 'frobnicate'], { dir: srv.dir }).status, 2);
    assert.equal(h.cli(['keys', 'list', '--nope'], { dir: srv.dir }).status, 2);
    assert.equal(h.cli(['frobnicate']).status, 2);
  });

  test('the server still works after all the CLI traffic', async () => {
    const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
    assert.equal(res.status, 200, res.text);
  });
});

describe('help', () => {
  test('brasa --help exits 0 and lists the commands', () => {
    const r = h.cli(['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const c of ['serve', 'keys', 'credentials', 'import', 'backup', 'restore', 'check', 'version'])
      assert.match(r.stdout, new RegExp(`^  ${c} +\\S`, 'm'), c);
    assert.match(r.stdout, /--help/);
    assert.match(r.stdout, /BRASA_/);
  });

  test('brasa serve --help exits 0 and documents the options and their variables', () => {
    const r = h.cli(['serve', '--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const s of ['--port', '--data-dir', 'BRASA_PORT', '--rate-limit', 'BRASA_DATA_DIR', '--listen', '--max-body']) {
      assert.ok(r.stdout.includes(s), `serve --help mentions ${s}:\n${r.stdout}`);
    }
  });

  test('brasa keys --help exits 0 and documents create, list and revoke', () => {
    const r = h.cli(['keys', '--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const s of ['create', 'list', 'revoke', '--permissions', '--allow-ip', '--data-dir']) assert.ok(r.stdout.includes(s), s);
  });

  test('brasa version and brasa without arguments', () => {
    const v = h.cli(['version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout, 'brasa 0.1.0\n');
    const none = h.cli([]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /usage/);
  });
});

describe('serve with bad options', () => {
  for (const args of [['--port', 'abc'], ['--port', '70000'], ['--log-level', 'nope'], ['--threads', '-1'], ['--commit-batch', '65536'], ['--nosuch-option', '1']]) {
    test(`serve ${args.join(' ')} exits 2 with a message, cleanly`, () => {
      const dir = h.makeDataDir();
      try {
        // cli() also fails the test on a sanitizer report.
        const r = h.cli(['serve', '--listen', '127.0.0.1', ...args], { dir, timeout: 15000 });
        assert.notEqual(r.signal, 'SIGTERM', 'serve started despite the bad option');
        assert.equal(r.signal, null, `serve died of ${r.signal}; stderr:\n${r.stderr}`);
        assert.ok(!/listening on/.test(r.stdout), r.stdout);
        assert.match(r.stderr, /brasa: /);
        assert.equal(r.status, 2, `exit status for a usage error; stderr:\n${r.stderr}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('bootstrap key, restart and data dir lock', () => {
  test('the bootstrap key is printed on the first start only and survives a restart', async () => {
    const dir = h.makeDataDir();
    let srv = await h.startServer({ dir });
    let created;
    try {
      assert.match(srv.key || '', h.UUID4_RE, `no bootstrap key on first start:\n${srv.stdout()}`);
      assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: srv.key })).status, 200);
      created = await h.createKey(srv, srv.key, { name: 'before-restart', permissions: ['brasa.keys'] });
    } finally {
      await srv.stop();
    }
    const boot = srv.key;

    srv = await h.startServer({ dir });
    try {
      assert.equal(srv.key, null, `bootstrap key printed again:\n${srv.stdout()}`);
      assert.ok(!/bootstrap/.test(srv.stdout()), srv.stdout());
      let res = await h.request(srv, 'GET', '/admin/keys', { key: boot });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.keys.filter((k) => k.name === 'bootstrap').length, 1, 'one bootstrap key, not two');
      // Last-use times are written at shutdown: the bootstrap key was used
      // in the first run, the other key was not (until the request below).
      const rows = JSON.parse(h.cli(['keys', 'list', '--json'], { dir }).stdout);
      const bootRow = rows.find((k) => k.name === 'bootstrap');
      assert.ok(bootRow.last_used_at && !Number.isNaN(Date.parse(bootRow.last_used_at)), `last_used_at of a used key after a clean stop: ${JSON.stringify(bootRow)}`);
      assert.equal(rows.find((k) => k.id === created.id).last_used_at, null);
      res = await h.request(srv, 'GET', '/admin/keys', { key: created.key });
      assert.equal(res.status, 200, res.text);

      // Revoke every key, restart: still no new bootstrap key (it is not a
      // way back in for whoever can restart the server).
      const ids = res.json.keys.filter((k) => k.name !== 'bootstrap').map((k) => k.id);
      ids.push(res.json.keys.find((k) => k.name === 'bootstrap').id); // itself last
      for (const id of ids) {
        const rv = await h.request(srv, 'POST', '/admin/keys/revoke', { key: boot, body: { id } });
        assert.equal(rv.status, 201, rv.text);
      }
    } finally {
      await srv.stop();
    }

    srv = await h.startServer({ dir });
    try {
      assert.equal(srv.key, null, `bootstrap key printed after all keys were revoked:\n${srv.stdout()}`);
      h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: boot }), 401, `Invalid API key: ${boot}`);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a second serve on the same data dir exits non-zero', async () => {
    const srv = await h.startServer();
    try {
      const r = h.cli(['serve', '--port', '0', '--listen', '127.0.0.1'], { dir: srv.dir, timeout: 15000 });
      assert.notEqual(r.signal, 'SIGTERM', 'second serve was still running (timed out)');
      assert.ok(r.status !== 0 && r.status !== null, `status ${r.status}: ${r.stdout}${r.stderr}`);
      assert.ok(!/listening on/.test(r.stdout), r.stdout);
      assert.ok(!/bootstrap key/.test(r.stdout), r.stdout);
      assert.match(r.stderr, /in use/);
      // The first server is unaffected.
      assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: srv.key })).status, 200);
    } finally {
      await srv.stop();
    }
  });
});
