// backup.test.js -- `brasa backup`, `brasa restore` and `brasa check`: a
// backup taken while the server writes (and checkpoints every 100 ms)
// restores into a directory a new server starts on with every write
// acknowledged before the backup began; and every refusal of the three
// commands, with nothing left half-done.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const PER_REQ = 20;

// `brasa ARGS` without the event loop blocked: the load goes on meanwhile.
function cliAsync(args) {
  return new Promise((resolve) => {
    const p = spawn(h.BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (status) => {
      h.assertNoSanitizerReport(stderr, `brasa ${args.join(' ')}`);
      resolve({ status, stdout, stderr });
    });
  });
}

function sql(file, query) {
  const r = spawnSync('sqlite3', [file, query], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function zipOf(file, members) {
  // Python's zipfile writes what Node cannot (no zip writer in Node).
  const script = 'import sys, json, zipfile\nz = zipfile.ZipFile(sys.argv[1], "w")\n' +
    'for n, d in json.loads(sys.stdin.read()): z.writestr(n, bytes.fromhex(d))\nz.close()\n';
  const r = spawnSync('/usr/bin/python3', ['-c', script, file],
    { input: JSON.stringify(members.map(([n, d]) => [n, Buffer.from(d).toString('hex')])), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

// Nothing a failed command leaves: no staging directory beside the target.
function noLeftovers(dir) {
  const left = fs.readdirSync(dir).filter((n) => /\.(partial|restore)\.\d+$/.test(n));
  assert.deepEqual(left, [], `left behind in ${dir}`);
}

async function exportAll(srv, key, ids) {
  const api = h.usersApi(srv, key);
  const found = new Map();
  for (let i = 0; i < ids.length; i += 50) {
    const res = await api.ok('/users/export/ids', { external_ids: ids.slice(i, i + 50), fields_to_export: ['external_id', 'first_name'] });
    for (const u of res.users) found.set(u.external_id, u.first_name);
  }
  return found;
}

test('a backup under write load restores every write acknowledged before it began, and the keys', async () => {
  const work = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'brasa-backup-'));
  const srv = await h.startServer({ env: { BRASA_CHECKPOINT_MS: '100' } });
  let srv2;
  try {
    const scoped = await h.createKey(srv, srv.key, { name: 'scoped', permissions: ['users.track', 'users.export.ids'] });
    const acked = [];
    let next = 0, stop = false, failures = 0;
    const worker = async () => {
      while (!stop) {
        const from = next;
        next += PER_REQ;
        const attributes = [];
        for (let i = from; i < from + PER_REQ; i++) attributes.push({ external_id: `w${i}`, first_name: `n${i}`, tier: i % 7 });
        const res = await h.usersApi(srv).track({ attributes, events: [{ external_id: `w${from}`, name: 'bought', time: '2026-01-01T00:00:00Z' }] });
        if (res.status === 201) for (let i = from; i < from + PER_REQ; i++) acked.push(`w${i}`);
        else failures++;
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await h.poll(() => acked.length >= 2000, { deadlineMs: 30000 });
    const before = acked.slice(); // acknowledged before the backup began
    const r = await cliAsync(['backup', '--data-dir', srv.dir, '--to', path.join(work, 'b.zip')]);
    const during = acked.length - before.length;
    stop = true;
    await Promise.all(workers);
    assert.equal(failures, 0);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^backup of .* written to .*b\.zip \(\d+ bytes, 3 files\): journal seq \d+, \d+ rows to replay at start\n$/);
    assert.ok(during >= 0);
    noLeftovers(work);

    const dir2 = path.join(work, 'restored');
    const rr = h.cli(['restore', '--data-dir', dir2, path.join(work, 'b.zip')]);
    assert.equal(rr.status, 0, rr.stderr);
    assert.match(rr.stdout, /^brasa\.db: ok\nprofiles\.db: ok\njournal: .*\nload: ok: \d+ profiles\nrestored .* into .*restored: journal seq \d+\n$/);
    assert.deepEqual(fs.readdirSync(dir2).sort(), ['brasa.db', 'profiles.db', 'tracking.key']);
    assert.deepEqual(fs.readFileSync(path.join(dir2, 'tracking.key')), fs.readFileSync(path.join(srv.dir, 'tracking.key')));
    noLeftovers(work);

    srv2 = await h.startServer({ dir: dir2 });
    // The restored store prints no new key: the old bootstrap key is in it.
    const found = await exportAll(srv2, srv.key, before);
    const missing = before.filter((id) => found.get(id) !== `n${id.slice(1)}`);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${before.length} acknowledged writes missing`);
    // The key made before the backup works on the restored server.
    const res = await h.request(srv2, 'POST', '/users/export/ids', { key: scoped.key, body: { external_ids: [before[0]] } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.users[0].external_id, before[0]);
    // Nothing the load never sent.
    const stray = await exportAll(srv2, srv.key, [`w${next + 1}`, `w${next + 100}`]);
    assert.equal(stray.size, 0);
  } finally {
    if (srv2) await srv2.stop();
    await srv.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('brasa backup: refusals; a write that fails leaves no file and no staging', async () => {
  const work = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'brasa-backup-'));
  const srv = await h.startServer();
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'a', first_name: 'A' }] });
    const to = path.join(work, 'b.zip');
    let r = h.cli(['backup'], { dir: srv.dir });
    assert.deepEqual([r.status, r.stderr], [2, 'brasa: backup needs --to FILE\n']);
    r = h.cli(['backup', '--to', to, '--bogus'], { dir: srv.dir });
    assert.deepEqual([r.status, r.stderr], [2, "brasa: unknown option '--bogus' (see --help)\n"]);
    r = h.cli(['backup', '--to', to, 'extra'], { dir: srv.dir });
    assert.deepEqual([r.status, r.stderr], [2, "brasa: unexpected argument 'extra'\n"]);

    const none = path.join(work, 'none');
    r = h.cli(['backup', '--to', to], { dir: none });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `brasa: ${none} holds no brasa data (${none}/brasa.db: No such file or directory)\n` +
      `brasa: backup failed; nothing was written to ${to}\n`);
    assert.ok(!fs.existsSync(none), 'backup never creates a data directory');

    r = h.cli(['backup', '--to', path.join(work, 'nodir', 'b.zip')], { dir: srv.dir });
    assert.deepEqual([r.status, r.stderr], [1, `brasa: cannot write in ${work}/nodir: No such file or directory\n`]);
    fs.writeFileSync(path.join(work, 'afile'), 'x');
    r = h.cli(['backup', '--to', path.join(work, 'afile', 'b.zip')], { dir: srv.dir });
    assert.deepEqual([r.status, r.stderr], [1, `brasa: cannot write in ${work}/afile: Not a directory\n`]);

    // A disk that fills: a file size limit makes the copy's writes fail.
    const lim = spawnSync('prlimit', ['--fsize=100000', h.BIN, 'backup', '--data-dir', srv.dir, '--to', to], { encoding: 'utf8' });
    assert.equal(lim.status, 1, lim.stderr);
    assert.match(lim.stderr, /^brasa: cannot write .*\.partial\.\d+\/brasa\.db: .*\(File too large\)\nbrasa: backup failed; nothing was written to .*b\.zip\n$/);
    assert.ok(!fs.existsSync(to));
    noLeftovers(work);

    r = h.cli(['backup', '--to', to], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    const size = fs.statSync(to).size;
    r = h.cli(['backup', '--to', to], { dir: srv.dir });
    assert.deepEqual([r.status, r.stderr], [1, `brasa: ${to} exists: remove it or choose another name\n`]);
    assert.equal(fs.statSync(to).size, size, 'an existing file is never overwritten');
    noLeftovers(work);
  } finally {
    await srv.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('brasa backup --with-exports takes the finished exports; restore puts them back', async () => {
  const work = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'brasa-backup-'));
  const srv = await h.startServer();
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'a' }] });
    const ex = path.join(srv.dir, 'exports');
    fs.mkdirSync(ex, { recursive: true });
    fs.writeFileSync(path.join(ex, 'seg-1.zip'), 'finished');
    fs.writeFileSync(path.join(ex, 'seg-2.zip.tmp'), 'being written');
    fs.mkdirSync(path.join(ex, 'seg-3.part'));
    let r = h.cli(['backup', '--to', path.join(work, 'plain.zip')], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(h.unzip(fs.readFileSync(path.join(work, 'plain.zip'))).map((m) => m.name),
      ['backup.json', 'brasa.db', 'profiles.db', 'tracking.key']);
    r = h.cli(['backup', '--to', path.join(work, 'ex.zip'), '--with-exports'], { dir: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    const members = h.unzip(fs.readFileSync(path.join(work, 'ex.zip')));
    assert.deepEqual(members.map((m) => m.name), ['backup.json', 'brasa.db', 'profiles.db', 'tracking.key', 'exports/seg-1.zip']);
    const manifest = JSON.parse(members[0].text);
    assert.deepEqual(Object.keys(manifest), ['brasa_backup', 'version', 'created_at', 'checkpoint_seq', 'journal_top', 'replay_rows', 'files']);
    assert.equal(manifest.brasa_backup, 1);
    assert.match(manifest.created_at, h.ISO_MS_RE);
    assert.deepEqual(manifest.files, members.map((m) => m.name));
    // An existing empty directory is a fine target.
    const dir2 = path.join(work, 'r');
    fs.mkdirSync(dir2);
    r = h.cli(['restore', '--data-dir', dir2, path.join(work, 'ex.zip')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dir2, 'exports', 'seg-1.zip'), 'utf8'), 'finished');
  } finally {
    await srv.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('brasa restore: refusals; the target is whole or untouched', async () => {
  const work = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'brasa-backup-'));
  const srv = await h.startServer();
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'a', first_name: 'A' }] });
    const good = path.join(work, 'good.zip');
    assert.equal(h.cli(['backup', '--to', good], { dir: srv.dir }).status, 0);
    const target = path.join(work, 'target');
    const refused = (file, stderr, where = target) => {
      const r = h.cli(['restore', '--data-dir', where, file]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      if (stderr instanceof RegExp) assert.match(r.stderr, stderr);
      else assert.equal(r.stderr, stderr);
      noLeftovers(work);
      return r;
    };
    const failed = `brasa: restore failed; ${target} was not changed\n`;

    let r = h.cli(['restore', '--data-dir', target]);
    assert.deepEqual([r.status, r.stderr], [2, 'brasa: restore needs the backup FILE\n']);
    r = h.cli(['restore', '--data-dir', target, good, good]);
    assert.deepEqual([r.status, r.stderr], [2, `brasa: unexpected argument '${good}'\n`]);
    refused(path.join(work, 'missing.zip'), `brasa: cannot read ${work}/missing.zip: No such file or directory\n`);

    const junk = path.join(work, 'junk.zip');
    fs.writeFileSync(junk, Buffer.alloc(5000, 7));
    refused(junk, new RegExp(`error archive: cannot read ${junk}: Not a zip archive\\nbrasa: ${junk} is not a brasa backup, or is damaged \\(see above\\)\\n${failed}$`));

    // One byte changed inside a member: its CRC no longer matches.
    const damaged = path.join(work, 'damaged.zip');
    const b = fs.readFileSync(good);
    b[Math.floor(b.length / 2)] ^= 0xff;
    fs.writeFileSync(damaged, b);
    refused(damaged, /error archive: .*damaged\.zip: .* (is damaged: CRC error|cannot read .*)\nbrasa: .* is not a brasa backup, or is damaged \(see above\)\n/);

    // A member that would land outside the target.
    const evil = path.join(work, 'evil.zip');
    zipOf(evil, [['backup.json', '{}'], ['../escaped', 'x']]);
    refused(evil, /a member named '\.\.\/escaped' is not one we extract\n.*is not a brasa backup, or is damaged/);
    assert.ok(!fs.existsSync(path.join(work, 'escaped')));
    const abs = path.join(work, 'abs.zip');
    zipOf(abs, [['/tmp/brasa-abs-escape', 'x']]);
    refused(abs, /a member named '\/tmp\/brasa-abs-escape' is not one we extract/);
    assert.ok(!fs.existsSync('/tmp/brasa-abs-escape'));

    const plain = path.join(work, 'plain.zip');
    zipOf(plain, [['notes.txt', 'hello']]);
    refused(plain, `brasa: ${plain} is not a brasa backup: it has no backup.json\n${failed}`);
    const other = path.join(work, 'other.zip');
    zipOf(other, [['backup.json', '{"brasa_backup": 2, "files": ["backup.json"]}']]);
    refused(other, `brasa: ${other} is not a brasa backup: backup.json is not of a brasa backup of format 1\n${failed}`);
    const lacking = path.join(work, 'lacking.zip');
    zipOf(lacking, [['backup.json', '{"brasa_backup": 1, "files": ["backup.json", "brasa.db"]}']]);
    refused(lacking, `brasa: ${lacking} is not a brasa backup: brasa.db is listed in backup.json but missing\n${failed}`);

    // A whole zip whose database is not one.
    const baddb = path.join(work, 'baddb.zip');
    zipOf(baddb, [['backup.json', '{"brasa_backup": 1, "checkpoint_seq": 0, "journal_top": 0, "files": ["backup.json", "brasa.db"]}'],
      ['brasa.db', 'x'.repeat(8192)]]);
    r = refused(baddb, new RegExp(`brasa: ${baddb} is damaged: the checks above failed\\n${failed}$`));
    assert.match(r.stdout, /^brasa\.db: .*file is not a database\n$/);
    // A manifest that disagrees with its databases.
    const lying = path.join(work, 'lying.zip');
    const py = spawnSync('/usr/bin/python3', ['-c', `
import sys, json, zipfile
src = zipfile.ZipFile(sys.argv[1]); dst = zipfile.ZipFile(sys.argv[2], "w")
for n in src.namelist():
    d = src.read(n)
    if n == "backup.json":
        m = json.loads(d); m["journal_top"] += 5; d = json.dumps(m).encode()
    dst.writestr(n, d)
dst.close()`, good, lying], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    refused(lying, new RegExp(`brasa: ${lying} is damaged: backup.json says journal seq \\d+, the databases \\d+\\n${failed}$`));
    assert.ok(!fs.existsSync(target));

    // Targets: not empty, or a running server's.
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep.txt'), 'mine');
    refused(good, `brasa: ${target} is not empty: restore into a new directory, or move it away first\n`);
    assert.deepEqual(fs.readdirSync(target), ['keep.txt']);
    refused(good, `brasa: ${srv.dir} is in use by brasa serve: restore into a new directory\n`, srv.dir);
    r = h.cli(['restore', '--data-dir', path.join(work, 'nodir', 'd'), good]);
    assert.deepEqual([r.status, r.stderr], [1, `brasa: cannot write in ${work}/nodir: No such file or directory\n`]);
  } finally {
    await srv.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('brasa check: a sound directory, a live one, a damaged page, files from two moments, a journal row that does not decode', async () => {
  const work = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'brasa-backup-'));
  const dir = path.join(work, 'd');
  let srv = await h.startServer({ dir });
  const key = srv.key; // a restart prints no new one
  try {
    const api = h.usersApi(srv);
    for (let i = 0; i < 5; i++) {
      const attributes = [];
      for (let k = 0; k < 75; k++) attributes.push({ external_id: `c${i}-${k}`, bio: 'x'.repeat(250), city: 'y'.repeat(250) });
      await api.trackOk({ attributes });
    }
    let r = h.cli(['check'], { dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^brasa\\.db: ok\\nprofiles\\.db: ok\\njournal: profiles\\.db at seq \\d+, journal to \\d+: \\d+ rows to replay at start\\n` +
      `load: skipped: a server is running on ${dir} \\(its start made this check\\)\\ncheck passed\\n$`));
    await srv.stop();
    srv = null;
    r = h.cli(['check'], { dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\nload: ok: 375 profiles\ncheck passed\n$/);

    // Two moments: profiles.db from after more writes, brasa.db from before.
    const early = path.join(work, 'early');
    fs.mkdirSync(early);
    for (const f of ['brasa.db', 'profiles.db']) fs.copyFileSync(path.join(dir, f), path.join(early, f));
    srv = await h.startServer({ dir });
    for (let i = 0; i < 3; i++) await h.usersApi(srv, key).trackOk({ attributes: [{ external_id: `d${i}` }] });
    await srv.stop();
    srv = null;
    fs.copyFileSync(path.join(dir, 'profiles.db'), path.join(early, 'profiles.db'));
    r = h.cli(['check'], { dir: early });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^brasa\.db: ok\nprofiles\.db: ok\njournal: profiles\.db is at journal seq (\d+) but brasa\.db only reached (\d+): the two files are not from the same moment\ncheck failed\n$/);

    // A journal row that does not decode: the load refuses, as a start would.
    const j = path.join(work, 'j');
    fs.mkdirSync(j);
    fs.copyFileSync(path.join(dir, 'brasa.db'), path.join(j, 'brasa.db'));
    fs.copyFileSync(path.join(dir, 'profiles.db'), path.join(j, 'profiles.db'));
    const top = Number(sql(path.join(j, 'brasa.db'), "SELECT seq FROM sqlite_sequence WHERE name = 'journal'"));
    sql(path.join(j, 'brasa.db'), `INSERT INTO journal (seq, at, format, kind, body) VALUES (${top + 1}, 0, 2, 0, x'ff00')`);
    r = h.cli(['check'], { dir: j });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /\njournal: .* 1 rows to replay at start\nload: failed \(the log above says why\): a server would not start on this directory\ncheck failed\n$/);
    assert.match(r.stderr, /journal row \d+ \(format 2\) does not decode; refusing to start/);

    // A damaged page: SQLite's integrity check finds it.
    const db = path.join(dir, 'brasa.db');
    const buf = fs.readFileSync(db);
    const page = 4096;
    assert.ok(buf.length > 6 * page);
    buf.fill(0x5a, 3 * page + 100, 5 * page);
    fs.writeFileSync(db, buf);
    r = h.cli(['check'], { dir });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^brasa\.db: .+\nprofiles\.db: ok\ncheck failed\n$/);
    assert.doesNotMatch(r.stdout, /^brasa\.db: ok/);

    r = h.cli(['check'], { dir: path.join(work, 'none') });
    assert.deepEqual([r.status, r.stderr], [1, `brasa: ${work}/none holds no brasa data (no brasa.db)\n`]);
    r = h.cli(['check', 'extra'], { dir });
    assert.deepEqual([r.status, r.stderr], [2, "brasa: unexpected argument 'extra'\n"]);
  } finally {
    if (srv) await srv.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
