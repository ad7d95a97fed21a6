// import.test.js -- `brasa import users FILE`: Braze's CSV user import
// format and NDJSON, into a stopped server's store or through the running
// server, every refused row with its line, progress on a terminal and off
// it, and an interrupted import (SIGINT, SIGKILL) that goes on where it
// stopped with nothing lost.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./harness.js');

const work = () => fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-import-'));

function imp(dir, file, extra = []) {
  const r = spawnSync(h.BIN, ['import', 'users', file, '--data-dir', dir, ...extra], { encoding: 'utf8', timeout: 120000 });
  h.assertNoSanitizerReport(r.stderr || '', 'brasa import');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A server on dir, the users' exported profiles, and a clean stop.
async function exported(dir, key, body) {
  const srv = await h.startServer({ dir });
  try {
    const res = await h.request(srv, 'POST', '/users/export/ids', { key, body });
    assert.equal(res.status, 201, res.text);
    return res.json;
  } finally {
    await srv.stop();
  }
}

// A data directory with its bootstrap key (a first start makes it).
async function newDir(w) {
  const dir = path.join(w, 'data');
  const srv = await h.startServer({ dir });
  const key = srv.key;
  await srv.stop();
  return { dir, key };
}

test('CSV: typed custom attributes, default attributes, blanks keep values, BOM, CRLF, quoted commas and newlines', async () => {
  const w = work();
  try {
    const { dir, key } = await newDir(w);
    const f = path.join(w, 'users.csv');
    fs.writeFileSync(f, '\uFEFFexternal_id,first_name,email,country,tier,score,ratio,vip,zip,note,email_open_tracking_disabled\r\n' +
      'a1,Ann,ann@example.com,GB,gold,42,1.5,TRUE,00501,"hello, ""world""",false\r\n' +
      'a2,Bob,,US,silver,-7,2e3,false,12,"two\r\nlines",\r\n');
    let r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^imported .*users\.csv: 2 users created or updated, 0 rows refused, in [\d.]+ s \(\d+ rows\/s\)\n$/);
    assert.equal(fs.readFileSync(`${f}.rejects`, 'utf8'), '');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'imports')), [], 'a finished import leaves no progress file');

    // Blank cells change nothing; a second file updates what it names.
    const f2 = path.join(w, 'again.csv');
    fs.writeFileSync(f2, 'external_id,first_name,tier\na1,,platinum\n');
    r = imp(dir, f2);
    assert.equal(r.status, 0, r.stderr);

    const out = await exported(dir, key, { external_ids: ['a1', 'a2'], fields_to_export: ['external_id', 'first_name', 'email', 'country', 'custom_attributes'] });
    const byId = Object.fromEntries(out.users.map((u) => [u.external_id, u]));
    assert.deepEqual(byId.a1, { external_id: 'a1', first_name: 'Ann', email: 'ann@example.com', country: 'GB',
      custom_attributes: { tier: 'platinum', score: 42, ratio: 1.5, vip: true, zip: '00501', note: 'hello, "world"' } });
    assert.deepEqual(byId.a2, { external_id: 'a2', first_name: 'Bob', country: 'US',
      custom_attributes: { tier: 'silver', score: -7, ratio: 2000, vip: false, zip: 12, note: 'two\r\nlines' } });
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

test('CSV: every refused row with its line and why; a file cut mid-row; the rest imported', async () => {
  const w = work();
  try {
    const { dir, key } = await newDir(w);
    const f = path.join(w, 'bad.csv');
    fs.writeFileSync(f, Buffer.concat([Buffer.from(
      'external_id,first_name,email,email_open_tracking_disabled\n' + // 1
      'ok1,A,a@example.com,true\n' +        // 2
      'short,B\n' +                          // 3
      ',C,c@example.com,\n' +                // 4
      'd,D,not-an-email,\n' +                // 5
      'e,E,e@example.com,maybe\n' +          // 6
      'f,F"x,f@example.com,\n' +             // 7
      'g,"multi\nline",g@example.com,\n' +   // 8-9
      'h,'), Buffer.from([0xff, 0xfe]), Buffer.from(',h@example.com,\n' + // 10
      'ok2,Z,z@example.com,\n' +             // 11
      'n,N\u0000x,n@example.com,\n' +          // 12
      'cut,"never closed,x@example.com,\n')])); // 13: the file ends inside the quote
    const r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /: 3 users created or updated, 8 rows refused, /);
    const rejects = fs.readFileSync(`${f}.rejects`, 'utf8').trim().split('\n').map((l) => l.split('\t'))
      .sort((x, y) => Number(x[0]) - Number(y[0]));
    assert.deepEqual(rejects, [
      ['3', '2 fields, the header has 4'],
      ['4', 'no external_id'],
      ['5', "The value provided for the 'email' field is not a valid email."],
      ['6', "email_open_tracking_disabled must be true or false, not 'maybe'"],
      ['7', 'a quote inside an unquoted field, or text after a closing quote'],
      ['10', 'field 2 is not valid UTF-8'],
      ['12', 'field 2 holds a NUL byte'],
      ['13', 'the file ends inside a quoted field (is it cut short?)'],
    ]);
    for (const [line, why] of rejects) assert.ok(r.stderr.includes(`brasa: line ${line}: ${why}\n`), r.stderr);
    const out = await exported(dir, key, { external_ids: ['ok1', 'g', 'ok2', 'd', 'cut'], fields_to_export: ['external_id', 'first_name'] });
    assert.deepEqual(out.users.map((u) => [u.external_id, u.first_name]).sort(), [['g', 'multi\nline'], ['ok1', 'A'], ['ok2', 'Z']]);
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

test('CSV: aliases, braze_id, email as the identifier; headers refused whole', async () => {
  const w = work();
  try {
    const { dir, key } = await newDir(w);
    const f = path.join(w, 'alias.csv');
    fs.writeFileSync(f, 'user_alias_name,user_alias_label,last_name,sample\n182736485,my_alt,Smith,TRUE\n');
    let r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    fs.writeFileSync(f, 'email,first_name\nonly@example.com,Mail\n');
    r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    let out = await exported(dir, key, { user_aliases: [{ alias_name: '182736485', alias_label: 'my_alt' }], fields_to_export: ['last_name', 'custom_attributes', 'braze_id'] });
    assert.equal(out.users.length, 1, JSON.stringify(out));
    assert.deepEqual([out.users[0].last_name, out.users[0].custom_attributes], ['Smith', { sample: true }]);
    const brazeId = out.users[0].braze_id;
    fs.writeFileSync(f, `braze_id,tier\n${brazeId},vip\n`);
    r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    out = await exported(dir, key, { braze_id: brazeId, fields_to_export: ['custom_attributes'] });
    assert.deepEqual(out.users[0].custom_attributes, { sample: true, tier: 'vip' });
    out = await exported(dir, key, { email_address: 'only@example.com', fields_to_export: ['first_name'] });
    assert.deepEqual(out.users.map((u) => u.first_name), ['Mail']);

    for (const [head, why] of [
      ['external_id,email,email', "the header names 'email' twice (columns 2 and 3)"],
      ['first_name,tier', 'the header has no identifier column: external_id, braze_id, user_alias_name and user_alias_label, email or phone'],
      ['user_alias_name,tier', 'user_alias_name and user_alias_label go together: the header has only user_alias_name'],
      ['external_id,user_alias_name,user_alias_label', 'one file cannot hold both external_id and user aliases: import them separately'],
      ['external_id,subscription_group_id', 'subscription_group_id and subscription_state go together: the header has only subscription_group_id'],
      ['external_id,,tier', "the header's column 2 has no name"],
    ]) {
      fs.writeFileSync(f, `${head}\nx1,y,z\n`);
      r = imp(dir, f);
      assert.deepEqual([r.status, r.stderr], [1, `brasa: ${f}: ${why}\n`], head);
    }
    fs.writeFileSync(f, '');
    r = imp(dir, f);
    assert.deepEqual([r.status, r.stderr], [1, `brasa: ${f} is empty: a CSV import needs a header row\n`]);
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

test('NDJSON: /users/track attribute objects, one per line; bad lines refused with their line', async () => {
  const w = work();
  try {
    const { dir, key } = await newDir(w);
    const f = path.join(w, 'users.ndjson');
    fs.writeFileSync(f, [
      JSON.stringify({ external_id: 'n1', first_name: 'Nina', visits: { inc: 2 }, tags: ['a', 'b'] }),
      '',
      '{"external_id": "n2", "first_name": ',
      '[1, 2]',
      JSON.stringify({ external_id: 'n3', email: 'bad' }),
      JSON.stringify({ external_id: 'n4', dob: '1980-12-21' }) + '\r',
    ].join('\n') + '\n');
    const r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /: 2 users created or updated, 3 rows refused, /);
    const rejects = fs.readFileSync(`${f}.rejects`, 'utf8').trim().split('\n').sort();
    assert.deepEqual(rejects, [
      '3\tnot a JSON object: the line ends inside it',
      '4\tnot a JSON object',
      "5\tThe value provided for the 'email' field is not a valid email.",
    ]);
    const out = await exported(dir, key, { external_ids: ['n1', 'n4'], fields_to_export: ['external_id', 'first_name', 'dob', 'custom_attributes'] });
    const byId = Object.fromEntries(out.users.map((u) => [u.external_id, u]));
    assert.deepEqual(byId.n1.custom_attributes, { visits: 2, tags: ['a', 'b'] });
    assert.equal(byId.n4.dob, '1980-12-21');
    // --format overrides the name.
    const g = path.join(w, 'users.txt');
    fs.writeFileSync(g, JSON.stringify({ external_id: 'n5' }) + '\n');
    assert.equal(imp(dir, g, ['--format', 'ndjson']).status, 0);
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

test('with a server running, the rows go to it under a key made for the run, revoked after', async () => {
  const w = work();
  const srv = await h.startServer({ dir: path.join(w, 'live') });
  try {
    const f = path.join(w, 'live.csv');
    let csv = 'external_id,first_name,n\n';
    for (let i = 0; i < 500; i++) csv += `l${i},L${i},${i}\n`;
    csv += 'bad,B,1,extra\n';
    fs.writeFileSync(f, csv);
    const r = await new Promise((resolve) => {
      const p = spawn(h.BIN, ['import', 'users', f, '--data-dir', srv.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '', stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (status) => resolve({ status, stdout, stderr }));
    });
    h.assertNoSanitizerReport(r.stderr, 'brasa import');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stderr.includes(`import: a server runs on ${srv.dir}: sending the rows to ${srv.url}\n`), r.stderr);
    assert.match(r.stdout, /: 500 users created or updated, 1 rows refused, /);
    const res = await h.request(srv, 'POST', '/users/export/ids', { key: srv.key, body: { external_ids: ['l0', 'l499'], fields_to_export: ['external_id', 'custom_attributes'] } });
    assert.deepEqual(res.json.users.map((u) => [u.external_id, u.custom_attributes.n]).sort(), [['l0', 0], ['l499', 499]]);
    const keys = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
    const made = keys.json.keys.filter((k) => k.name.startsWith('brasa import '));
    assert.equal(made.length, 1, JSON.stringify(keys.json));
    assert.deepEqual([made[0].permissions, made[0].revoked_at !== null && made[0].revoked_at !== undefined], [['users.track'], true]);
  } finally {
    await srv.stop();
    fs.rmSync(w, { recursive: true, force: true });
  }
});

// The same file into a stopped store (parsed by the import itself, the
// typed path) and through a running server (JSON /users/track requests):
// the same rows refused for the same reasons, the same profiles.
test('CSV: the stopped-store import and the running-server import agree, row by row', async () => {
  const w = work();
  const values = ['', '', 'Ann', '42', '-7', '00501', '1.5', '2e3', '1e999', 'true', 'FALSE', 'maybe',
    '2025-01-02T10:00:00Z', '1985-03-04', '1985-13-45', 'a@example.com', 'not-an-email', 'male', 'X', 'gb',
    'united kingdom', 'Narnia', 'EN', 'Europe/Paris', 'bad zone', 'opted_in', 'Subscribed', '\u00e9t\u00e9',
    'x'.repeat(256)];
  const cols = ['first_name', 'email', 'gender', 'dob', 'country', 'language', 'time_zone', 'email_subscribe',
    'date_of_first_session', 'email_click_tracking_disabled', 'image_url', 'tier', 'score', 'when'];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  const cell = () => (next() % 3 ? '' : values[next() % values.length]); // two in three blank: rows that pass
  const exportAll = async (srv, key, ids) => { // 50 ids a request, Braze's limit
    const users = [];
    for (let i = 0; i < ids.length; i += 50) {
      const res = await h.request(srv, 'POST', '/users/export/ids', { key, body: { external_ids: ids.slice(i, i + 50), fields_to_export: ['external_id', 'first_name', 'email', 'gender', 'dob', 'country', 'language', 'time_zone', 'email_subscribe', 'custom_attributes'] } });
      assert.equal(res.status, 201, res.text);
      users.push(...res.json.users);
    }
    return users;
  };
  let csv = `external_id,${cols.join(',')}\n`;
  const ids = [];
  for (let i = 0; i < 400; i++) {
    ids.push(`c${i}`);
    csv += `c${i},${cols.map(cell).join(',')}\n`;
  }
  try {
    const a = await newDir(w);
    const live = await h.startServer({ dir: path.join(w, 'live') });
    const fa = path.join(w, 'a.csv'), fb = path.join(w, 'b.csv');
    fs.writeFileSync(fa, csv);
    fs.writeFileSync(fb, csv);
    let ra, rb, outB;
    try {
      ra = imp(a.dir, fa);
      rb = await new Promise((resolve) => {
        const p = spawn(h.BIN, ['import', 'users', fb, '--data-dir', live.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.on('exit', (status) => resolve({ status, stdout }));
      });
      outB = await exportAll(live, live.key, ids);
    } finally {
      await live.stop();
    }
    assert.equal(ra.status, 0, ra.stderr);
    assert.equal(rb.status, 0);
    const summary = (r) => r.stdout.replace(/^imported .*?: /, '').replace(/, in .*/, '');
    assert.equal(summary(ra), summary(rb));
    const refused = Number(/(\d+) rows refused/.exec(ra.stdout)[1]), kept = Number(/(\d+) users created/.exec(ra.stdout)[1]);
    assert.ok(refused > 40 && kept > 40, ra.stdout); // both outcomes covered
    const rejects = (f) => fs.readFileSync(`${f}.rejects`, 'utf8').trim().split('\n').sort();
    assert.deepEqual(rejects(fa), rejects(fb));
    const srvA = await h.startServer({ dir: a.dir });
    let outA;
    try {
      outA = await exportAll(srvA, a.key, ids);
    } finally {
      await srvA.stop();
    }
    const byId = (us) => Object.fromEntries(us.map((u) => [u.external_id, u]));
    assert.equal(outA.length, kept);
    assert.deepEqual(byId(outA), byId(outB));
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

// Runs an import and stops it with sig once its saved progress is past
// line `after`, or (after null) as soon as it says it resumes: the rest of
// a resumed import can take less than one progress save.
async function interrupt(dir, f, sig, after = 0) {
  const p = spawn(h.BIN, ['import', 'users', f, '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise((resolve) => p.on('exit', (code, signal) => resolve({ code, signal })));
  const imports = path.join(dir, 'imports');
  const line = () => {
    const n = fs.existsSync(imports) ? fs.readdirSync(imports).filter((x) => x.endsWith('.json')) : [];
    try {
      return n.length ? JSON.parse(fs.readFileSync(path.join(imports, n[0]), 'utf8')).line : 0;
    } catch {
      return 0; // being renamed into place
    }
  };
  await h.poll(() => (after === null ? /import: resuming/.test(stderr) : line() > after), { deadlineMs: 60000, intervalMs: 5 });
  p.kill(sig);
  const e = await exit;
  h.assertNoSanitizerReport(stderr, 'brasa import');
  return { ...e, stderr, line: line() };
}

test('an import stopped by SIGINT, then by SIGKILL, goes on where it stopped; every row is there once', async () => {
  const w = work();
  try {
    const { dir, key } = await newDir(w);
    const f = path.join(w, 'many.csv');
    const N = 600000; // enough that the first progress save (after 0.5 s) lands mid-file
    let csv = 'external_id,first_name,n\n';
    for (let i = 0; i < N; i++) csv += `m${i},M${i},${i}\n`;
    fs.writeFileSync(f, csv);

    let e = await interrupt(dir, f, 'SIGINT');
    assert.equal(e.code, 130, e.stderr);
    const m = /brasa: import interrupted at line (\d+); run the same command again to go on from there\n$/.exec(e.stderr);
    assert.ok(m, e.stderr);
    assert.ok(Number(m[1]) > 1 && Number(m[1]) <= N + 1);
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'imports', fs.readdirSync(path.join(dir, 'imports'))[0]), 'utf8'));
    assert.equal(state.line, Number(m[1]));
    assert.equal(state.rows, Number(m[1]) - 2);

    e = await interrupt(dir, f, 'SIGKILL', null);
    assert.equal(e.signal, 'SIGKILL');
    assert.match(e.stderr, new RegExp(`import: resuming .*many\\.csv at line ${m[1]} \\(${Number(m[1]) - 2} rows imported before\\)`));

    const r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /import: resuming .*many\.csv at line \d+/);
    assert.match(r.stdout, new RegExp(`: ${N} users created or updated, 0 rows refused`));
    // Every row is there, with its value.
    const srv = await h.startServer({ dir });
    try {
      const ids = [0, 1, Number(m[1]) - 3, Number(m[1]) - 2, Number(m[1]) - 1, N - 2, N - 1].map((i) => `m${i}`);
      const res = await h.request(srv, 'POST', '/users/export/ids', { key, body: { external_ids: ids, fields_to_export: ['external_id', 'custom_attributes'] } });
      assert.deepEqual(res.json.users.map((u) => [u.external_id, u.custom_attributes.n]).sort(),
        ids.map((id) => [id, Number(id.slice(1))]).sort());
    } finally {
      await srv.stop();
    }
    // Exactly N profiles: nothing doubled by the resumes.
    const c = h.cli(['check'], { dir });
    assert.match(c.stdout, new RegExp(`\nload: ok: ${N} profiles\n`), c.stdout + c.stderr);
    // --restart goes from the top even with progress kept.
    assert.equal(imp(dir, f, ['--restart']).status, 0);
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

test('a store that fails mid-import (a full disk, an I/O error): stopped where it was durable, then resumed', async () => {
  const w = work();
  try {
    const { dir, key } = await newDir(w);
    const f = path.join(w, 'f.csv');
    const N = 20000;
    let csv = 'external_id,n\n';
    for (let i = 0; i < N; i++) csv += `f${i},${i}\n`;
    fs.writeFileSync(f, csv);
    // The 10th fsync of the journal's WAL fails: the store refuses every
    // write after it, as on a failing disk (test builds only).
    const bad = spawnSync(h.BIN, ['import', 'users', f, '--data-dir', dir], { encoding: 'utf8', env: { ...process.env, BRASA_FAULT: 'sync:brasa.db-wal:10' } });
    h.assertNoSanitizerReport(bad.stderr, 'brasa import');
    assert.equal(bad.status, 1, bad.stderr);
    const m = /brasa: import stopped at line (\d+): Internal Server Error: storage failure \(the log above says why\); run the same command again to go on from there\n$/.exec(bad.stderr);
    assert.ok(m, bad.stderr);
    assert.ok(Number(m[1]) < N + 2);
    const r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`import: resuming .*f\\.csv at line ${m[1]} \\(${Number(m[1]) - 2} rows imported before\\)`));
    assert.match(r.stdout, new RegExp(`: ${N} users created or updated, 0 rows refused`));
    const c = h.cli(['check'], { dir });
    assert.match(c.stdout, new RegExp(`\\nload: ok: ${N} profiles\\n`), c.stdout + c.stderr);
    const out = await exported(dir, key, { external_ids: ['f0', `f${N - 1}`], fields_to_export: ['external_id'] });
    assert.equal(out.users.length, 2);
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

test('progress: a bar on a terminal, a plain line otherwise', async () => {
  const w = work();
  try {
    const { dir } = await newDir(w);
    const f = path.join(w, 'p.csv');
    fs.writeFileSync(f, 'external_id\np1\np2\n');
    let r = imp(dir, f);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^import: 2 rows, 100% of the file, \d+ rows\/s, ETA 0 s\n$/);
    // script(1) gives the command a terminal.
    const t = spawnSync('script', ['-qec', `${h.BIN} import users ${f} --data-dir ${dir} --restart`, '/dev/null'], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stdout);
    assert.match(t.stdout, /\r\x1b\[K\[#{30}\] 100% {2}2 rows {2}\d+ rows\/s {2}ETA 0 s\r?\n/);
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});

test('brasa import: usage and unreadable files', async () => {
  const w = work();
  try {
    const dir = path.join(w, 'd');
    const f = path.join(w, 'x.csv');
    fs.writeFileSync(f, 'external_id\n');
    const cases = [
      [['import'], 2, /^usage: brasa import users FILE/],
      [['import', 'events', f], 2, /^brasa: unknown import command 'events' \(brasa import users FILE\)\n$/],
      [['import', 'users'], 2, /^brasa: import users needs the FILE to import\n$/],
      [['import', 'users', f, '--format', 'xlsx'], 2, /^brasa: --format is csv or ndjson, not 'xlsx'\n$/],
      [['import', 'users', path.join(w, 'none.csv')], 1, /^brasa: cannot read .*none\.csv: No such file or directory\n$/],
      [['import', 'users', w], 1, /^brasa: .* is not a file\n$/],
    ];
    for (const [args, status, re] of cases) {
      const r = spawnSync(h.BIN, [...args, '--data-dir', dir], { encoding: 'utf8' });
      assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
    // The lock held by a command other than a server (no URL in it): no server to send to.
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'brasa.lock'), '');
    const holder = spawn('flock', ['-o', path.join(dir, 'brasa.lock'), 'sleep', '30'], { stdio: 'ignore' });
    try {
      await h.poll(() => spawnSync('flock', ['-n', path.join(dir, 'brasa.lock'), 'true']).status !== 0, { deadlineMs: 5000 });
      const r = spawnSync(h.BIN, ['import', 'users', f, '--data-dir', dir], { encoding: 'utf8' });
      assert.deepEqual([r.status, r.stderr], [1, `brasa: ${dir} is in use by another brasa command: wait for it to end\n`]);
    } finally {
      holder.kill();
      await new Promise((resolve) => (holder.exitCode !== null ? resolve() : holder.on('exit', resolve)));
    }
    // A rejects file that cannot be written: the import goes on, the refusals listed on stderr only.
    fs.writeFileSync(f, 'external_id\n\nok\n,\n');
    const r = spawnSync(h.BIN, ['import', 'users', f, '--data-dir', dir, '--rejects', path.join(w, 'nodir', 'r.txt')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^brasa: cannot write .*nodir\/r\.txt \(No such file or directory\): rejected rows are only listed here\n/);
    assert.match(r.stderr, /brasa: line 4: 2 fields, the header has 1\n/);
    assert.match(r.stdout, /: 1 users created or updated, 1 rows refused, /);
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
});
