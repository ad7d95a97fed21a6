// content_blocks.test.js -- Braze's Content Blocks end to end: create,
// update, list and info answer in Braze's shapes; every refusal is a 400
// with Braze's text (and nothing written); the update rules of active and
// draft blocks; paging and the modified_after/before window; permissions;
// blocks survive a clean restart and a SIGKILL; an archived block is
// "deleted" and keeps its name.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const srv = h.fileServer();

const post = (s, p, body, key = s.key) => h.request(s, 'POST', p, { key, body });
const get = (s, p, key = s.key) => h.request(s, 'GET', p, { key });
const create = (s, body, key) => post(s, '/content_blocks/create', body, key);
const update = (s, body, key) => post(s, '/content_blocks/update', body, key);
const info = (s, id, extra = '') => get(s, `/content_blocks/info?content_block_id=${encodeURIComponent(id)}${extra}`);
const list = (s, query = '') => get(s, `/content_blocks/list${query}`);

async function createOk(s, body) {
  const res = await create(s, body);
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function infoOk(s, id, extra) {
  const res = await info(s, id, extra);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function listOk(s, query) {
  const res = await list(s, query);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.count, res.json.content_blocks.length);
  return res.json;
}

const names = (l) => l.content_blocks.map((b) => b.name);

test('create: 201 with the id, the Liquid tag and the creation time; info gives the block back', async () => {
  const res = await create(srv, {
    name: 'welcome_Header-1',
    description: 'top of every welcome email',
    content: '<h1>Hello {{${first_name} | default: "friend"}}</h1>',
    tags: ['onboarding', 'email'],
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(Object.keys(res.json), ['content_block_id', 'liquid_tag', 'created_at', 'message']);
  assert.match(res.json.content_block_id, h.UUID4_RE);
  assert.equal(res.json.liquid_tag, '{{content_blocks.${welcome_Header-1}}}');
  assert.match(res.json.created_at, h.ISO_MS_RE);
  assert.equal(res.json.message, 'success');

  const got = await infoOk(srv, res.json.content_block_id);
  assert.deepEqual(got, {
    content_block_id: res.json.content_block_id,
    name: 'welcome_Header-1',
    content: '<h1>Hello {{${first_name} | default: "friend"}}</h1>',
    description: 'top of every welcome email',
    content_type: 'html',
    tags: ['onboarding', 'email'],
    created_at: res.json.created_at,
    last_edited: res.json.created_at,
    inclusion_count: 0,
    state: 'active',
    message: 'success',
  });
  const withData = await infoOk(srv, res.json.content_block_id, '&include_inclusion_data=true');
  assert.deepEqual(withData.inclusion_data, []);
  assert.equal('inclusion_data' in (await infoOk(srv, res.json.content_block_id, '&include_inclusion_data=false')), false);
});

test('create: defaults (active, no description, no tags), text content, the longest name and content', async () => {
  const plain = await createOk(srv, { name: 'plain_text', content: 'Use code {{custom_attribute.${code}}} by Friday' });
  let b = await infoOk(srv, plain.content_block_id);
  assert.equal(b.content_type, 'text');
  assert.equal(b.state, 'active');
  assert.equal(b.description, '');
  assert.deepEqual(b.tags, []);

  const name99 = 'n'.repeat(99);
  const big = 'x'.repeat(50 * 1024 - 1);
  const longest = await createOk(srv, { name: name99, content: big, description: 'é'.repeat(249), state: 'draft', tags: [] });
  b = await infoOk(srv, longest.content_block_id);
  assert.equal(b.name, name99);
  assert.equal(b.content.length, big.length);
  assert.equal(b.state, 'draft');
  assert.equal(b.description, 'é'.repeat(249));
});

test('create: every refusal is a 400 with Braze\'s text, and writes nothing', async () => {
  const before = await listOk(srv, '?limit=1000');
  const cases = [
    [{ content: 'x' }, 'Content Block name cannot be blank'],
    [{ name: null, content: 'x' }, 'Content Block name cannot be blank'],
    [{ name: '', content: 'x' }, 'Content Block name cannot be blank'],
    [{ name: 'n'.repeat(100), content: 'x' }, 'Content Block name must be shorter than 100 characters'],
    [{ name: 'has space', content: 'x' }, 'Content Block name can only contain alphanumeric characters'],
    [{ name: 'dot.ted', content: 'x' }, 'Content Block name can only contain alphanumeric characters'],
    [{ name: 'café', content: 'x' }, 'Content Block name can only contain alphanumeric characters'],
    [{ name: 42, content: 'x' }, "Bad Request: 'name' must be a string"],
    [{ name: 'fresh' }, 'Content cannot be blank'],
    [{ name: 'fresh', content: '' }, 'Content cannot be blank'],
    [{ name: 'fresh', content: ' \n\t' }, 'Content cannot be blank'],
    [{ name: 'fresh', content: 12 }, 'Content must be a string'],
    [{ name: 'fresh', content: ['a'] }, 'Content must be a string'],
    [{ name: 'fresh', content: 'x'.repeat(50 * 1024) }, 'Content must be smaller than 50kb'],
    [{ name: 'fresh', content: 'Hi {{ first_name' }, /^Content contains malformed liquid: 1:4: /],
    [{ name: 'fresh', content: 'line one\n  {% if x %}never closed' }, /^Content contains malformed liquid: 2:3: /],
    [{ name: 'fresh', content: '{{ a | }}' }, /^Content contains malformed liquid: 1:\d+: /],
    [{ name: 'selfish', content: 'a {{content_blocks.${selfish}}} b' }, 'Content Block cannot be referenced within itself'],
    [{ name: 'selfish', content: '{% content_blocks.${ selfish } %}' }, 'Content Block cannot be referenced within itself'],
    [{ name: 'fresh', content: 'x', description: '' }, 'Content Block description cannot be blank'],
    [{ name: 'fresh', content: 'x', description: '   ' }, 'Content Block description cannot be blank'],
    [{ name: 'fresh', content: 'x', description: 'd'.repeat(250) }, 'Content Block description must be shorter than 250 characters'],
    [{ name: 'fresh', content: 'x', description: 7 }, "Bad Request: 'description' must be a string"],
    [{ name: 'fresh', content: 'x', state: 'live' }, 'Content Block state must be either active or draft'],
    [{ name: 'fresh', content: 'x', state: 'Active' }, 'Content Block state must be either active or draft'],
    [{ name: 'fresh', content: 'x', state: true }, 'Content Block state must be either active or draft'],
    [{ name: 'fresh', content: 'x', tags: 'promo' }, 'Tags must be an array'],
    [{ name: 'fresh', content: 'x', tags: { a: 1 } }, 'Tags must be an array'],
    [{ name: 'fresh', content: 'x', tags: ['ok', 3] }, 'All tags must be strings'],
    [{ name: 'fresh', content: 'x', tags: [null] }, 'All tags must be strings'],
    [{ name: 'welcome_Header-1', content: 'x' }, 'Content Block with this name already exists'],
  ];
  for (const [body, message] of cases) h.assertError(await create(srv, body), 400, message);
  h.assertError(await h.request(srv, 'POST', '/content_blocks/create', { key: srv.key, raw: '["name"]', headers: { 'content-type': 'application/json' } }),
                400, 'Bad Request: the body must be a JSON object');
  assert.deepEqual(await listOk(srv, '?limit=1000'), before);
});

test('update: 201 in the create shape; fields not sent are kept; the creation time stays', async () => {
  const c = await createOk(srv, { name: 'footer', description: 'legal', content: 'v1', tags: ['a'] });
  await new Promise((r) => setTimeout(r, 5));
  let res = await update(srv, { content_block_id: c.content_block_id, content: '<p>v2</p>', tags: ['b', 'c'] });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { content_block_id: c.content_block_id, liquid_tag: '{{content_blocks.${footer}}}',
                               created_at: c.created_at, message: 'success' });
  let b = await infoOk(srv, c.content_block_id);
  assert.equal(b.content, '<p>v2</p>');
  assert.equal(b.content_type, 'html');
  assert.equal(b.description, 'legal');
  assert.deepEqual(b.tags, ['b', 'c']);
  assert.equal(b.created_at, c.created_at);
  assert.ok(b.last_edited > b.created_at, JSON.stringify(b));

  // Only an id: nothing changes but the edit time; the same name is no rename.
  res = await update(srv, { content_block_id: c.content_block_id, name: 'footer', description: 'legal v2', state: 'active' });
  assert.equal(res.status, 201, res.text);
  b = await infoOk(srv, c.content_block_id);
  assert.equal(b.description, 'legal v2');
  assert.equal(b.content, '<p>v2</p>');
  assert.equal((await update(srv, { content_block_id: c.content_block_id })).status, 201);
});

test('update: an active block keeps its name and never goes back to draft; a draft may do both', async () => {
  const active = await createOk(srv, { name: 'act', content: 'a' });
  h.assertError(await update(srv, { content_block_id: active.content_block_id, name: 'act2' }), 400,
                'Content Block name cannot be updated for active Content Blocks');
  h.assertError(await update(srv, { content_block_id: active.content_block_id, state: 'draft' }), 400,
                'Active Content Block can not be updated to Draft. Create a new Content Block.');
  assert.equal((await infoOk(srv, active.content_block_id)).name, 'act');

  const draft = await createOk(srv, { name: 'drft', content: 'Hi {{content_blocks.${drft_renamed}}}', state: 'draft' });
  // Renamed so that its content would include itself: refused.
  h.assertError(await update(srv, { content_block_id: draft.content_block_id, name: 'drft_renamed' }), 400,
                'Content Block cannot be referenced within itself');
  h.assertError(await update(srv, { content_block_id: draft.content_block_id, name: 'act' }), 400,
                'Content Block with this name already exists');
  let res = await update(srv, { content_block_id: draft.content_block_id, name: 'drft2', content: 'Hi', state: 'draft' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.liquid_tag, '{{content_blocks.${drft2}}}');
  res = await update(srv, { content_block_id: draft.content_block_id, name: 'published', state: 'active' });
  assert.equal(res.status, 201, res.text);
  const b = await infoOk(srv, draft.content_block_id);
  assert.equal(b.name, 'published');
  assert.equal(b.state, 'active');
  h.assertError(await update(srv, { content_block_id: draft.content_block_id, name: 'drft' }), 400,
                'Content Block name cannot be updated for active Content Blocks');
  // The old names are free again.
  await createOk(srv, { name: 'drft2', content: 'again' });
});

test('update: refusals are 400s with Braze\'s text, and change nothing', async () => {
  const c = await createOk(srv, { name: 'upd_target', content: 'keep me', description: 'keep', tags: ['k'] });
  const id = c.content_block_id;
  const snapshot = await infoOk(srv, id);
  const cases = [
    [{ content: 'x' }, 'Content Block ID cannot be blank'],
    [{ content_block_id: null, content: 'x' }, 'Content Block ID cannot be blank'],
    [{ content_block_id: '', content: 'x' }, 'Content Block ID cannot be blank'],
    [{ content_block_id: 12, content: 'x' }, 'Content Block ID is invalid for this workspace'],
    [{ content_block_id: '00000000-0000-4000-8000-000000000000', content: 'x' }, 'Content Block ID is invalid for this workspace'],
    [{ content_block_id: id, content: '' }, 'Content cannot be blank'],
    [{ content_block_id: id, content: false }, 'Content must be a string'],
    [{ content_block_id: id, content: 'y'.repeat(51200) }, 'Content must be smaller than 50kb'],
    [{ content_block_id: id, content: '{% for %}' }, /^Content contains malformed liquid: 1:1: /],
    [{ content_block_id: id, content: '{{content_blocks.${upd_target}}}' }, 'Content Block cannot be referenced within itself'],
    [{ content_block_id: id, name: '' }, 'Content Block name cannot be blank'],
    [{ content_block_id: id, name: 'a/b' }, 'Content Block name can only contain alphanumeric characters'],
    [{ content_block_id: id, name: 'z'.repeat(120) }, 'Content Block name must be shorter than 100 characters'],
    [{ content_block_id: id, description: '' }, 'Content Block description cannot be blank'],
    [{ content_block_id: id, description: 'd'.repeat(300) }, 'Content Block description must be shorter than 250 characters'],
    [{ content_block_id: id, state: 'archived' }, 'Content Block state must be either active or draft'],
    [{ content_block_id: id, tags: 'k' }, 'Tags must be an array'],
    [{ content_block_id: id, tags: [{}] }, 'All tags must be strings'],
  ];
  for (const [body, message] of cases) h.assertError(await update(srv, body), 400, message);
  assert.deepEqual(await infoOk(srv, id), snapshot);
});

test('list: Braze\'s shape, creation order, limit and offset, modified_after/before inclusive', async () => {
  const s = await h.startServer();
  try {
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push(await createOk(s, { name: `blk${i}`, content: i % 2 ? `<b>${i}</b>` : `${i}`, tags: [`t${i}`] }));
      await new Promise((r) => setTimeout(r, 3));
    }
    let l = await listOk(s);
    assert.deepEqual(Object.keys(l), ['count', 'content_blocks', 'message']);
    assert.equal(l.count, 5);
    assert.equal(l.message, 'success');
    assert.deepEqual(names(l), ['blk0', 'blk1', 'blk2', 'blk3', 'blk4']);
    const first = l.content_blocks[1];
    assert.deepEqual(first, {
      content_block_id: made[1].content_block_id,
      name: 'blk1',
      content_type: 'html',
      liquid_tag: '{{content_blocks.${blk1}}}',
      inclusion_count: 0,
      created_at: made[1].created_at,
      last_edited: made[1].created_at,
      tags: ['t1'],
    });
    assert.equal(l.content_blocks[2].content_type, 'text');

    assert.deepEqual(names(await listOk(s, '?limit=2')), ['blk0', 'blk1']);
    assert.deepEqual(names(await listOk(s, '?limit=2&offset=2')), ['blk2', 'blk3']);
    assert.deepEqual(names(await listOk(s, '?offset=4')), ['blk4']);
    assert.deepEqual(names(await listOk(s, '?offset=5')), []);
    assert.deepEqual(names(await listOk(s, '?offset=99999999999999')), []);
    assert.deepEqual(names(await listOk(s, '?limit=1000')).length, 5);

    // The window is on last_edited, both ends included.
    const t1 = made[1].created_at, t3 = made[3].created_at;
    assert.deepEqual(names(await listOk(s, `?modified_after=${t1}&modified_before=${t3}`)), ['blk1', 'blk2', 'blk3']);
    assert.deepEqual(names(await listOk(s, `?modified_after=${t3}`)), ['blk3', 'blk4']);
    assert.deepEqual(names(await listOk(s, `?modified_before=${t1}`)), ['blk0', 'blk1']);
    assert.deepEqual(names(await listOk(s, '?modified_after=2000-01-01&modified_before=2000-12-31')), []);
    // An edit moves a block into a later window, not in the order.
    await new Promise((r) => setTimeout(r, 5));
    const upd = await update(s, { content_block_id: made[0].content_block_id, content: 'edited' });
    assert.equal(upd.status, 201, upd.text);
    const edited = (await infoOk(s, made[0].content_block_id)).last_edited;
    assert.deepEqual(names(await listOk(s, `?modified_after=${encodeURIComponent(edited)}`)), ['blk0']);
    assert.deepEqual(names(await listOk(s, '?limit=2')), ['blk0', 'blk1']);
  } finally {
    await s.stop();
  }
});

test('list: bad parameters are 400s with Braze\'s text', async () => {
  const cases = [
    ['modified_after=yesterday', 'Modified after time is invalid'],
    ['modified_after=', 'Modified after time is invalid'],
    ['modified_after=2024-13-01T00:00:00Z', 'Modified after time is invalid'],
    ['modified_before=soon', 'Modified before time is invalid'],
    ['limit=ten', 'Content Block number limit is invalid'],
    ['limit=1.5', 'Content Block number limit is invalid'],
    ['limit=', 'Content Block number limit is invalid'],
    ['limit=%2B5', 'Content Block number limit is invalid'],
    ['limit=0', 'Content Block number limit must be greater than 0'],
    ['limit=-3', 'Content Block number limit must be greater than 0'],
    ['limit=1001', 'Content Block number limit exceeds maximum of 1000'],
    ['limit=99999999999999999999999', 'Content Block number limit exceeds maximum of 1000'],
    ['offset=-1', 'Offset is invalid'],
    ['offset=two', 'Offset is invalid'],
    ['offset=', 'Offset is invalid'],
  ];
  for (const [q, message] of cases) h.assertError(await list(srv, `?${q}`), 400, message);
});

test('info: bad or unknown ids are 400s with Braze\'s text', async () => {
  h.assertError(await get(srv, '/content_blocks/info'), 400, 'Content Block ID cannot be blank');
  h.assertError(await get(srv, '/content_blocks/info?content_block_id='), 400, 'Content Block ID cannot be blank');
  h.assertError(await info(srv, '00000000-0000-4000-8000-000000000000'), 400, 'Content Block ID is invalid for this workspace');
  h.assertError(await info(srv, 'not-an-id'), 400, 'Content Block ID is invalid for this workspace');
  h.assertError(await info(srv, 'x'.repeat(500)), 400, 'Content Block ID is invalid for this workspace');
  const c = await createOk(srv, { name: 'info_flags', content: 'x' });
  h.assertError(await info(srv, c.content_block_id, '&include_inclusion_data=yes'), 400,
                "Bad Request: 'include_inclusion_data' must be true or false");
});

test('permissions: each endpoint needs its own content_blocks permission (403 otherwise)', async () => {
  const c = await createOk(srv, { name: 'perm_target', content: 'x' });
  const reader = await h.createKey(srv, srv.key, { name: 'cb-reader', permissions: ['content_blocks.list', 'content_blocks.info'] });
  const writer = await h.createKey(srv, srv.key, { name: 'cb-writer', permissions: ['content_blocks.create'] });
  h.assertError(await create(srv, { name: 'by_reader', content: 'x' }, reader.key), 403,
                /^Access Denied.*content_blocks\.create/);
  h.assertError(await update(srv, { content_block_id: c.content_block_id, content: 'y' }, reader.key), 403,
                /^Access Denied.*content_blocks\.update/);
  assert.equal((await get(srv, '/content_blocks/list', reader.key)).status, 200);
  assert.equal((await get(srv, `/content_blocks/info?content_block_id=${c.content_block_id}`, reader.key)).status, 200);
  assert.equal((await create(srv, { name: 'by_writer', content: 'x' }, writer.key)).status, 201);
  h.assertError(await update(srv, { content_block_id: c.content_block_id, content: 'y' }, writer.key), 403,
                /^Access Denied.*content_blocks\.update/);
  h.assertError(await get(srv, '/content_blocks/list', writer.key), 403, /^Access Denied.*content_blocks\.list/);
  h.assertError(await get(srv, `/content_blocks/info?content_block_id=${c.content_block_id}`, writer.key), 403,
                /^Access Denied.*content_blocks\.info/);
  h.assertError(await create(srv, { name: 'nokey', content: 'x' }, 'nope'), 401, 'Invalid API key: nope');
  assert.equal((await infoOk(srv, c.content_block_id)).content, 'x');
});

test('blocks survive a clean restart and a SIGKILL; an archived block is deleted and keeps its name', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let s = await h.startServer({ dir });
  const key = s.key;
  let a, b, snapshot;
  try {
    a = await createOk(s, { name: 'keep_a', content: '<p>A</p>', tags: ['x'], description: 'first' });
    b = await createOk(s, { name: 'keep_b', content: 'B', state: 'draft' });
    snapshot = await listOk(s);
    await s.stop();
  } finally {
    await s.cleanup();
  }
  s = await h.startServer({ dir });
  try {
    s.key = key;
    assert.deepEqual(await listOk(s), snapshot);
    assert.equal((await infoOk(s, a.content_block_id)).description, 'first');
    // Acknowledged writes survive a crash too.
    const res = await update(s, { content_block_id: b.content_block_id, content: 'B2', state: 'active' });
    assert.equal(res.status, 201, res.text);
    await s.kill9();
  } finally {
    await s.cleanup();
  }
  // Archive keep_a as the dashboard would (no API route archives).
  const q = spawnSync('sqlite3', [path.join(dir, 'brasa.db'), `UPDATE content_blocks SET archived_at = 1 WHERE id = '${a.content_block_id}'`],
                      { encoding: 'utf8' });
  assert.equal(q.status, 0, q.stderr);
  s = await h.startServer({ dir });
  try {
    s.key = key;
    const got = await infoOk(s, b.content_block_id);
    assert.equal(got.content, 'B2');
    assert.equal(got.state, 'active');
    h.assertError(await info(s, a.content_block_id), 400, 'Content Block has been deleted—content not available');
    h.assertError(await update(s, { content_block_id: a.content_block_id, content: 'z' }), 400,
                  'Content Block has been deleted—content not available');
    h.assertError(await create(s, { name: 'keep_a', content: 'z' }), 400, 'Content Block with this name already exists');
    assert.deepEqual(names(await listOk(s)), ['keep_b']);
    await s.stop();
  } finally {
    await s.cleanup();
  }
});
