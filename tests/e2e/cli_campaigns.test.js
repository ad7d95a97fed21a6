// cli_campaigns.test.js -- `brasa campaigns ...` and `brasa apps ...`: on a
// data dir a server is then started on, and beside a running server; what
// the CLI prints is what the admin API answers, its errors are the API's
// messages (exit 1), usage errors exit 2 with the usage.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

// h.cli() with stdin: the same environment rules (no BRASA_* from the
// developer's shell), --data-dir last.
function cliIn(args, input, { dir } = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRASA_')) env[k] = v;
  const full = dir ? [...args, '--data-dir', dir] : [...args];
  const r = spawnSync(h.BIN, full, { env, input, encoding: 'utf8', timeout: 20000 });
  if (r.error) throw r.error;
  h.assertNoSanitizerReport(r.stderr || '', `brasa ${full.join(' ')}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '' };
}

function ok(r) {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stderr, '');
  return r;
}

// One JSON value on one line of stdout.
function oneLine(r) {
  ok(r);
  assert.equal(r.stdout.split('\n').length, 2, r.stdout);
  assert.ok(r.stdout.endsWith('\n'));
  return JSON.parse(r.stdout);
}

// An error: exit status, nothing on stdout, exactly `brasa: MESSAGE` on stderr.
function refused(r, status, message) {
  const ctx = `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.equal(r.status, status, ctx);
  assert.equal(r.stdout, '', ctx);
  if (message instanceof RegExp) assert.match(r.stderr, message, ctx);
  else assert.equal(r.stderr, `brasa: ${message}\n`, ctx);
}

function usageError(r, what, message) {
  const ctx = `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.equal(r.status, 2, ctx);
  assert.equal(r.stdout, '', ctx);
  assert.match(r.stderr, message, ctx);
  assert.ok(r.stderr.includes(`usage: brasa ${what} `), ctx);
}

const CAMPAIGN = {
  name: 'Local teams', kind: 'api', tags: ['smartersends'], description: 'one variation per team',
  variations: [{ name: 'North', channel: 'webhook' }, { name: 'South', channel: 'webhook' }],
};
const TRIGGERED = {
  name: 'Welcome', kind: 'api_triggered', control_percent: 10,
  variations: [{ name: 'Hello', channel: 'webhook', percent: 90,
                 content: { url: 'https://example.com/hook', request_method: 'POST', body: '{"hi":"{{${first_name}}}"}' } }],
};

// The 201 answer of a create, made from the stored document.
const createdFrom = (doc) => ({
  campaign_id: doc.id,
  variations: doc.variations.map(({ id, name, channel }) => ({ id, name, channel })),
  ...(doc.control_percent > 0 ? { control_id: doc.control_id } : {}),
});
// The same, variations by name (an update may reorder them).
const byName = (c) => ({ ...c, variations: [...c.variations].sort((a, b) => a.name.localeCompare(b.name)) });

describe('campaigns and apps CLI on a data dir, then a server on it', () => {
  const dir = h.makeDataDir();
  let tmp, srv, fromFile, fromStdin, triggered, app;
  before(() => {
    tmp = fs.mkdtempSync(path.join(dir, 'files-'));
  });
  after(async () => {
    if (srv) await srv.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('create from a file prints the API\'s 201 body on one line', () => {
    const f = path.join(tmp, 'c.json');
    fs.writeFileSync(f, JSON.stringify(CAMPAIGN));
    fromFile = oneLine(h.cli(['campaigns', 'create', f], { dir }));
    assert.deepEqual(Object.keys(fromFile), ['campaign_id', 'variations']);
    assert.match(fromFile.campaign_id, h.UUID4_RE);
    assert.deepEqual(fromFile.variations.map((v) => [v.name, v.channel]), [['North', 'webhook'], ['South', 'webhook']]);
    for (const v of fromFile.variations) assert.match(v.id, h.UUID4_RE);
  });

  test('create from stdin (FILE -)', () => {
    fromStdin = oneLine(cliIn(['campaigns', 'create', '-'], JSON.stringify({ ...CAMPAIGN, name: 'From stdin' }), { dir }));
    assert.notEqual(fromStdin.campaign_id, fromFile.campaign_id);
    triggered = oneLine(cliIn(['campaigns', 'create', '-'], `\n  ${JSON.stringify(TRIGGERED)}\n\n`, { dir }));
    assert.deepEqual(Object.keys(triggered), ['campaign_id', 'variations', 'control_id']);
  });

  test('show prints the stored document, pretty; list shows a table and --json', () => {
    const r = ok(h.cli(['campaigns', 'show', fromFile.campaign_id], { dir }));
    assert.ok(r.stdout.split('\n').length > 10, `pretty-printed:\n${r.stdout}`);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(createdFrom(doc), fromFile);
    assert.equal(doc.name, 'Local teams');
    assert.equal(doc.kind, 'api');
    assert.equal(doc.first_sent, null);
    assert.match(doc.created_at, h.ISO_MS_RE);

    const table = ok(h.cli(['campaigns', 'list'], { dir })).stdout.split('\n');
    assert.match(table[0], /^ID\s+KIND\s+VARIATIONS\s+ARCHIVED\s+NAME$/);
    assert.equal(table.length, 5, table.join('\n')); // header, 3 campaigns, ''
    assert.match(table[1], new RegExp(`^${fromFile.campaign_id}\\s+api\\s+2\\s+no\\s+Local teams$`));
    assert.match(table[3], new RegExp(`^${triggered.campaign_id}\\s+api_triggered\\s+1\\s+no\\s+Welcome$`));

    const list = oneLine(h.cli(['campaigns', 'list', '--json'], { dir }));
    assert.deepEqual(list.map((c) => c.id), [fromFile.campaign_id, fromStdin.campaign_id, triggered.campaign_id]);
    assert.deepEqual(createdFrom(list[2]), triggered);
  });

  test('update keeps the variation ids and prints the stored document', () => {
    const f = path.join(tmp, 'u.json');
    fs.writeFileSync(f, JSON.stringify({ name: 'Local teams (Q4)', variations: [{ name: 'South', channel: 'webhook', percent: 30 },
                                                                                 { name: 'North', channel: 'webhook', percent: 70 }] }));
    const doc = oneLine(h.cli(['campaigns', 'update', fromFile.campaign_id, f], { dir }));
    assert.equal(doc.id, fromFile.campaign_id);
    assert.equal(doc.name, 'Local teams (Q4)');
    assert.deepEqual(doc.tags, ['smartersends'], 'fields left out keep their values');
    const ids = Object.fromEntries(fromFile.variations.map((v) => [v.name, v.id]));
    assert.deepEqual(doc.variations.map((v) => [v.name, v.id, v.percent]), [['South', ids.South, 30], ['North', ids.North, 70]]);
    const shown = JSON.parse(ok(h.cli(['campaigns', 'show', fromFile.campaign_id], { dir })).stdout);
    assert.deepEqual(shown.variations, doc.variations);
  });

  test('archive hides a campaign from list; --archived shows it', () => {
    const doc = oneLine(h.cli(['campaigns', 'archive', fromStdin.campaign_id], { dir }));
    assert.equal(doc.archived, true);
    assert.deepEqual(oneLine(h.cli(['campaigns', 'list', '--json'], { dir })).map((c) => c.id),
                     [fromFile.campaign_id, triggered.campaign_id]);
    const all = oneLine(h.cli(['campaigns', 'list', '--json', '--archived'], { dir }));
    assert.deepEqual(all.map((c) => [c.id, c.archived]),
                     [[fromFile.campaign_id, false], [fromStdin.campaign_id, true], [triggered.campaign_id, false]]);
    assert.match(ok(h.cli(['campaigns', 'list', '--archived'], { dir })).stdout, new RegExp(`${fromStdin.campaign_id}\\s+api\\s+2\\s+yes\\s+From stdin`));
  });

  test('apps create prints {app_id, name, platform}; apps list', () => {
    app = oneLine(h.cli(['apps', 'create', 'Shop iOS', '--platform', 'ios'], { dir }));
    assert.deepEqual(Object.keys(app), ['app_id', 'name', 'platform']);
    assert.match(app.app_id, h.UUID4_RE);
    assert.deepEqual([app.name, app.platform], ['Shop iOS', 'ios']);
    const web = oneLine(h.cli(['apps', 'create', 'Site'], { dir }));
    assert.equal(web.platform, 'web');
    const list = oneLine(h.cli(['apps', 'list', '--json'], { dir }));
    assert.deepEqual(list.map((a) => [a.app_id, a.name, a.platform]), [[app.app_id, 'Shop iOS', 'ios'], [web.app_id, 'Site', 'web']]);
    const table = ok(h.cli(['apps', 'list'], { dir })).stdout;
    assert.match(table, /^APP ID\s+PLATFORM\s+CREATED\s+NAME\n/);
    assert.match(table, new RegExp(`${app.app_id}\\s+ios\\s+\\S+Z\\s+Shop iOS\\n`));
  });

  test('a server started on the data dir answers what the CLI printed', async () => {
    srv = await h.startServer({ dir });
    assert.match(srv.key || '', h.UUID4_RE, 'bootstrap key on a store with campaigns but no keys');
    const admin = (p) => h.request(srv, 'GET', p, { key: srv.key });
    for (const c of [fromFile, triggered]) {
      const res = await admin(`/admin/campaigns/${c.campaign_id}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(byName(createdFrom(res.json)), byName(c), 'the ids the CLI printed');
      const shown = JSON.parse(ok(h.cli(['campaigns', 'show', c.campaign_id], { dir })).stdout);
      assert.deepEqual(shown, res.json, 'show prints what GET /admin/campaigns/{id} answers');
    }
    let res = await admin('/admin/campaigns?archived=true');
    assert.deepEqual(res.json.campaigns, oneLine(h.cli(['campaigns', 'list', '--json', '--archived'], { dir })));
    // The archived campaign is not in Braze's list.
    res = await admin('/campaigns/list');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.campaigns.map((c) => [c.id, c.name]),
                     [[fromFile.campaign_id, 'Local teams (Q4)'], [triggered.campaign_id, 'Welcome']]);
    res = await admin(`/campaigns/details?campaign_id=${fromStdin.campaign_id}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.archived, true);
    res = await admin('/admin/apps');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.apps, oneLine(h.cli(['apps', 'list', '--json'], { dir })));
    await srv.stop();
    srv = null;
  });
});

describe('campaigns and apps CLI beside a running server', () => {
  let srv, tmp;
  const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });
  before(async () => {
    srv = await h.startServer();
    tmp = fs.mkdtempSync(path.join(srv.dir, 'files-'));
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  const write = (name, text) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };

  test('a campaign the CLI creates is served at once; show equals GET', async () => {
    const c = oneLine(h.cli(['campaigns', 'create', write('a.json', JSON.stringify(CAMPAIGN))], { dir: srv.dir }));
    const res = await admin('GET', `/admin/campaigns/${c.campaign_id}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(createdFrom(res.json), c);
    assert.deepEqual(JSON.parse(ok(h.cli(['campaigns', 'show', c.campaign_id], { dir: srv.dir })).stdout), res.json);
    // The server can send it: a send id for it.
    const s = await admin('POST', '/sends/id/create', { campaign_id: c.campaign_id, send_id: 'cli-made' });
    assert.equal(s.status, 201, s.text);
  });

  test('a campaign created through the API is listed and shown by the CLI; the CLI updates and archives it', async () => {
    let res = await admin('POST', '/admin/campaigns', { ...CAMPAIGN, name: 'Via HTTP' });
    assert.equal(res.status, 201, res.text);
    const c = res.json;
    const list = oneLine(h.cli(['campaigns', 'list', '--json'], { dir: srv.dir }));
    const row = list.find((x) => x.id === c.campaign_id);
    assert.ok(row, JSON.stringify(list));
    assert.deepEqual(createdFrom(row), c);
    assert.match(ok(h.cli(['campaigns', 'list'], { dir: srv.dir })).stdout, new RegExp(`${c.campaign_id}\\s+api\\s+2\\s+no\\s+Via HTTP\\n`));
    res = await admin('GET', `/admin/campaigns/${c.campaign_id}`);
    assert.deepEqual(JSON.parse(ok(h.cli(['campaigns', 'show', c.campaign_id], { dir: srv.dir })).stdout), res.json);

    // Update: the same answer as the API's (but for updated_at), ids kept.
    const body = { name: 'Via HTTP, renamed', variations: [{ id: c.variations[1].id, name: 'South side', channel: 'webhook' },
                                                           { name: 'North', channel: 'webhook' }] };
    const doc = oneLine(cliIn(['campaigns', 'update', c.campaign_id, '-'], JSON.stringify(body), { dir: srv.dir }));
    assert.deepEqual(doc.variations.map((v) => [v.name, v.id]), [['South side', c.variations[1].id], ['North', c.variations[0].id]]);
    res = await admin('POST', `/admin/campaigns/${c.campaign_id}`, body);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual({ ...doc, updated_at: 0 }, { ...res.json, updated_at: 0 });
    res = await admin('GET', `/admin/campaigns/${c.campaign_id}`);
    assert.equal(res.json.name, 'Via HTTP, renamed');

    // Archive: gone from /campaigns/list at once, still there with include_archived.
    res = await admin('GET', '/campaigns/list');
    assert.ok(res.json.campaigns.some((x) => x.id === c.campaign_id), res.text);
    const archived = oneLine(h.cli(['campaigns', 'archive', c.campaign_id], { dir: srv.dir }));
    assert.equal(archived.archived, true);
    res = await admin('GET', '/campaigns/list');
    assert.ok(!res.json.campaigns.some((x) => x.id === c.campaign_id), res.text);
    res = await admin('GET', '/campaigns/list?include_archived=true');
    assert.ok(res.json.campaigns.some((x) => x.id === c.campaign_id), res.text);
    res = await admin('GET', '/admin/campaigns');
    assert.ok(!res.json.campaigns.some((x) => x.id === c.campaign_id), res.text);
  });

  test('apps: made by the CLI, served by the API; made by the API, listed by the CLI', async () => {
    const a = oneLine(h.cli(['apps', 'create', 'Android app', '--platform', 'android'], { dir: srv.dir }));
    let res = await admin('POST', '/admin/apps', { name: 'Via HTTP', platform: 'roku' });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(a), Object.keys(res.json));
    const b = res.json;
    res = await admin('GET', '/admin/apps');
    assert.deepEqual(res.json.apps.map((x) => x.app_id), [a.app_id, b.app_id]);
    assert.deepEqual(oneLine(h.cli(['apps', 'list', '--json'], { dir: srv.dir })), res.json.apps);
  });

  // Each bad body: the CLI's message is the API's, for the same bytes.
  const badBodies = [
    ['truncated JSON', '{"name": "x", "variations": ['],
    ['two JSON values', '{"name": "x"} {}'],
    ['not UTF-8', Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
    ['a number out of range', '{"name": "x", "control_percent": 1e999}'],
    ['not an object', '[1, 2]'],
    ['no name', JSON.stringify({ kind: 'api', variations: [{ name: 'A', channel: 'webhook' }] })],
    ['a bad kind', JSON.stringify({ ...CAMPAIGN, kind: 'canvas' })],
    ['a bad channel', JSON.stringify({ ...CAMPAIGN, variations: [{ name: 'A', channel: 'carrier-pigeon' }] })],
    ['percentages over 100', JSON.stringify({ ...CAMPAIGN, variations: [{ name: 'A', channel: 'webhook', percent: 80 },
                                                                        { name: 'B', channel: 'webhook', percent: 80 }] })],
    ['an unknown segment', JSON.stringify({ ...CAMPAIGN, segment_id: 'no-such-segment' })],
  ];
  for (const [what, bytes] of badBodies) {
    test(`campaigns create with ${what}: the API's message, exit 1`, async () => {
      const res = await h.request(srv, 'POST', '/admin/campaigns', { key: srv.key, raw: bytes, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, res.text);
      const f = write('bad.json', bytes);
      refused(h.cli(['campaigns', 'create', f], { dir: srv.dir }), 1, res.json.message);
      refused(cliIn(['campaigns', 'create', '-'], bytes, { dir: srv.dir }), 1, res.json.message);
    });
  }

  test('an empty body is no body, as over HTTP', async () => {
    const res = await h.request(srv, 'POST', '/admin/campaigns', { key: srv.key, raw: '', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400, res.text);
    refused(cliIn(['campaigns', 'create', '-'], '', { dir: srv.dir }), 1, res.json.message);
  });

  test('update with a bad body: the API\'s message, exit 1, nothing changed', async () => {
    const c = oneLine(h.cli(['campaigns', 'create', write('b.json', JSON.stringify({ ...CAMPAIGN, name: 'Kept' }))], { dir: srv.dir }));
    const before = await admin('GET', `/admin/campaigns/${c.campaign_id}`);
    for (const bytes of ['{"name": ""}', '{"name": "x"', JSON.stringify({ kind: 'nope' })]) {
      const res = await h.request(srv, 'POST', `/admin/campaigns/${c.campaign_id}`, { key: srv.key, raw: bytes, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, res.text);
      refused(cliIn(['campaigns', 'update', c.campaign_id, '-'], bytes, { dir: srv.dir }), 1, res.json.message);
    }
    assert.deepEqual((await admin('GET', `/admin/campaigns/${c.campaign_id}`)).json, before.json);
  });

  test('an unknown campaign id: the API\'s message, exit 1', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    let res = await admin('GET', `/admin/campaigns/${id}`);
    assert.equal(res.status, 404, res.text);
    refused(h.cli(['campaigns', 'show', id], { dir: srv.dir }), 1, res.json.message);
    res = await admin('POST', `/admin/campaigns/${id}`, { name: 'x' });
    assert.equal(res.status, 404, res.text);
    refused(cliIn(['campaigns', 'update', id, '-'], '{"name": "x"}', { dir: srv.dir }), 1, res.json.message);
    res = await admin('POST', `/admin/campaigns/${id}`, { archived: true });
    refused(h.cli(['campaigns', 'archive', id], { dir: srv.dir }), 1, res.json.message);
    const long = 'x'.repeat(65);
    res = await admin('GET', `/admin/campaigns/${long}`);
    assert.equal(res.status, 404, res.text);
    refused(h.cli(['campaigns', 'show', long], { dir: srv.dir }), 1, res.json.message);
    refused(h.cli(['campaigns', 'archive', long], { dir: srv.dir }), 1, res.json.message);
  });

  test('a FILE that cannot be read: exit 1, named', () => {
    const f = path.join(tmp, 'missing.json');
    refused(h.cli(['campaigns', 'create', f], { dir: srv.dir }), 1, `${f}: No such file or directory`);
    refused(h.cli(['campaigns', 'update', '00000000-0000-4000-8000-000000000000', tmp], { dir: srv.dir }), 1, new RegExp(`^brasa: ${tmp}: `));
  });

  test('apps create with a bad name or platform: the API\'s message, exit 1', async () => {
    for (const [args, body] of [[['Site', '--platform', 'symbian'], { name: 'Site', platform: 'symbian' }],
                                [[''], { name: '' }],
                                [['x'.repeat(256)], { name: 'x'.repeat(256) }]]) {
      const res = await admin('POST', '/admin/apps', body);
      assert.equal(res.status, 400, res.text);
      refused(h.cli(['apps', 'create', ...args], { dir: srv.dir }), 1, res.json.message);
    }
  });

  test('usage errors exit 2 with the usage', () => {
    const d = { dir: srv.dir };
    usageError(h.cli(['campaigns'], d), 'campaigns', /^usage: brasa campaigns create FILE/);
    usageError(h.cli(['campaigns', 'frobnicate'], d), 'campaigns', /^brasa: unknown campaigns command 'frobnicate'\n/);
    usageError(h.cli(['campaigns', 'create'], d), 'campaigns', /^brasa: campaigns create needs FILE\n/);
    usageError(h.cli(['campaigns', 'create', 'a.json', 'b.json'], d), 'campaigns', /^brasa: campaigns create needs FILE\n/);
    usageError(h.cli(['campaigns', 'update', 'ID'], d), 'campaigns', /^brasa: campaigns update needs ID and FILE\n/);
    usageError(h.cli(['campaigns', 'archive'], d), 'campaigns', /^brasa: campaigns archive needs ID\n/);
    usageError(h.cli(['campaigns', 'show'], d), 'campaigns', /^brasa: campaigns show needs ID\n/);
    usageError(h.cli(['campaigns', 'list', 'x'], d), 'campaigns', /^brasa: campaigns list takes no arguments\n/);
    usageError(h.cli(['apps'], d), 'apps', /^usage: brasa apps create NAME/);
    usageError(h.cli(['apps', 'delete', 'x'], d), 'apps', /^brasa: unknown apps command 'delete'\n/);
    usageError(h.cli(['apps', 'create'], d), 'apps', /^brasa: apps create needs one NAME\n/);
    usageError(h.cli(['apps', 'create', 'a', 'b'], d), 'apps', /^brasa: apps create needs one NAME\n/);
    usageError(h.cli(['apps', 'list', 'x'], d), 'apps', /^brasa: apps list takes no arguments\n/);
    usageError(h.cli(['apps', 'list', '--platform', 'ios'], d), 'apps', /^brasa: --platform goes with apps create\n/);
    for (const args of [['campaigns', 'list', '--nope'], ['apps', 'list', '--nope'], ['campaigns', 'update', 'a', 'b', 'c', 'd']]) {
      const r = h.cli(args, d);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^brasa: /);
    }
  });

  test('--help for each', () => {
    let r = ok(h.cli(['campaigns', '--help']));
    for (const s of ['create FILE', 'update ID FILE', 'archive ID', 'list [--archived] [--json]', 'show ID', '--data-dir', "'-'"])
      assert.ok(r.stdout.includes(s), `campaigns --help mentions ${s}:\n${r.stdout}`);
    r = ok(h.cli(['apps', '--help']));
    for (const s of ['create NAME', '--platform', 'list [--json]', '--data-dir']) assert.ok(r.stdout.includes(s), `apps --help mentions ${s}:\n${r.stdout}`);
    r = ok(h.cli(['campaigns', 'create', '--help']));
    assert.match(r.stdout, /^usage: brasa campaigns/);
    r = ok(h.cli(['--help']));
    assert.match(r.stdout, /\n {2}campaigns +\S/);
    assert.match(r.stdout, /\n {2}apps +\S/);
  });

  test('the server still works after the CLI traffic', async () => {
    const res = await admin('GET', '/admin/campaigns?archived=true');
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.campaigns.length >= 3);
  });
});
