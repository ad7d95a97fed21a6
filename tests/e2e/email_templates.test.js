// email_templates.test.js -- Braze's email templates end to end: create,
// update, list and info in Braze's shapes; every refusal (missing fields,
// Liquid that does not compile, Content Blocks that do not exist, tags,
// should_inline_css, limits, unknown ids, permissions) with its status and
// message and nothing written; a message's email_template_id filled from
// the template field by field, through a real SMTP server, in /messages/send
// and in an API-triggered campaign (which keeps the template as it was when
// saved); an unknown email_template_id refused where the message comes in.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { smtpReceiver, parseEmail } = require('./smtp_receiver.js');

let srv, rx;
before(async () => {
  rx = await smtpReceiver();
  srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
});
after(async () => {
  if (srv) await srv.stop();
  if (rx) rx.close();
});

const post = (s, p, body, key = s.key) => h.request(s, 'POST', p, { key, body });
const get = (s, p, key = s.key) => h.request(s, 'GET', p, { key });
const create = (body, key) => post(srv, '/templates/email/create', body, key);
const update = (body, key) => post(srv, '/templates/email/update', body, key);
const info = (id, key) => get(srv, `/templates/email/info?email_template_id=${encodeURIComponent(id)}`, key);
const list = (query = '', key) => get(srv, `/templates/email/list${query}`, key);

async function createOk(body) {
  const res = await create(body);
  assert.equal(res.status, 201, res.text);
  return res.json.email_template_id;
}

async function infoOk(id) {
  const res = await info(id);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function done(id) {
  let d;
  await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 30000, intervalMs: 100 });
  return d;
}

test('create answers the id; info gives every field back; update changes only what it names', async () => {
  const res = await create({
    template_name: 'Welcome', subject: 'Hi {{${first_name}}}', body: '<p>Welcome {{${first_name}}}</p>',
    plaintext_body: 'Welcome {{${first_name}}}', preheader: 'Glad you came', tags: ['onboarding'],
    should_inline_css: true, description: 'first mail',
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(Object.keys(res.json), ['email_template_id', 'message']);
  assert.match(res.json.email_template_id, h.UUID4_RE);
  assert.equal(res.json.message, 'success');
  const id = res.json.email_template_id;
  const got = await infoOk(id);
  assert.match(got.created_at, h.ISO_MS_RE);
  assert.deepEqual(got, {
    email_template_id: id, template_name: 'Welcome', description: 'first mail', subject: 'Hi {{${first_name}}}',
    preheader: 'Glad you came', body: '<p>Welcome {{${first_name}}}</p>', plaintext_body: 'Welcome {{${first_name}}}',
    should_inline_css: true, tags: ['onboarding'], created_at: got.created_at, updated_at: got.created_at, message: 'success',
  });

  // The optional fields, left out, read back as null (the workspace's default for should_inline_css).
  const bare = await infoOk(await createOk({ template_name: 'Bare', subject: 's', body: 'b' }));
  assert.deepEqual([bare.plaintext_body, bare.preheader, bare.should_inline_css, bare.tags, bare.description],
                   [null, null, null, [], '']);

  const up = await update({ email_template_id: id, subject: 'Hello {{${first_name}}}', should_inline_css: false });
  assert.equal(up.status, 201, up.text);
  assert.deepEqual(up.json, { message: 'success' });
  const after = await infoOk(id);
  assert.deepEqual({ ...after, updated_at: 0 }, { ...got, subject: 'Hello {{${first_name}}}', should_inline_css: false, updated_at: 0 });
  assert.ok(after.updated_at >= got.updated_at);
});

test('create and update refusals: 400 with the reason, nothing written', async () => {
  const before = (await list('?limit=1000')).json.count;
  const base = { template_name: 'T', subject: 's', body: 'b' };
  h.assertError(await create({ subject: 's', body: 'b' }), 400, 'Template name is required');
  h.assertError(await create({ ...base, template_name: '  ' }), 400, 'Template name is required');
  h.assertError(await create({ ...base, template_name: 7 }), 400, 'Template name is required');
  h.assertError(await create({ ...base, template_name: 'n'.repeat(256) }), 400,
                "Bad Request: 'template_name' is longer than 255 characters");
  h.assertError(await create({ template_name: 'T', body: 'b' }), 400, "Bad Request: 'subject' is required (a string)");
  h.assertError(await create({ template_name: 'T', subject: 's' }), 400, "Bad Request: 'body' is required (a string)");
  h.assertError(await create({ ...base, body: ['b'] }), 400, "Bad Request: 'body' must be a string");
  h.assertError(await create({ ...base, preheader: 3 }), 400, "Bad Request: 'preheader' must be a string");
  h.assertError(await create({ ...base, description: {} }), 400, "Bad Request: 'description' must be a string");
  h.assertError(await create({ ...base, body: 'x'.repeat(2 * 1024 * 1024 + 1) }), 400,
                "Bad Request: 'body' is longer than 2097152 bytes");
  h.assertError(await create({ ...base, body: '<p>{{ first_name </p>' }), 400,
                /^Template contains malformed liquid: body: line 1, column \d+: .+/);
  h.assertError(await create({ ...base, subject: '{% if x %}open' }), 400, /^Template contains malformed liquid: subject: .+/);
  h.assertError(await create({ ...base, plaintext_body: '{% for %}' }), 400, /^Template contains malformed liquid: plaintext_body: .+/);
  h.assertError(await create({ ...base, preheader: '{{ a | }}' }), 400, /^Template contains malformed liquid: preheader: .+/);
  h.assertError(await create({ ...base, tags: 'promo' }), 400, 'Tags must be an array');
  h.assertError(await create({ ...base, tags: ['a', 1] }), 400, 'All tags must be strings');
  h.assertError(await create({ ...base, should_inline_css: 'true' }), 400,
                "Invalid value for 'should_inline_css'. One of 'true' or 'false' was expected");
  h.assertError(await create({ ...base, body: '<p>{{content_blocks.${no_such_block}}}</p>' }), 400,
                "Email must have valid Content Block names: no Content Block named 'no_such_block'");
  h.assertError(await create([base]), 400, 'Bad Request: the body must be a JSON object');
  assert.equal((await list('?limit=1000')).json.count, before, 'nothing was written');

  // A Content Block that exists may be named.
  assert.equal((await post(srv, '/content_blocks/create', { name: 'tpl_footer', content: '<p>bye</p>' })).status, 201);
  const id = await createOk({ ...base, body: '<p>x</p>{{content_blocks.${tpl_footer}}}' });

  h.assertError(await update({ subject: 'x' }), 400, "Bad Request: 'email_template_id' is required (a string)");
  h.assertError(await update({ email_template_id: '', subject: 'x' }), 400, "Bad Request: 'email_template_id' is required (a string)");
  h.assertError(await update({ email_template_id: 'nope', subject: 'x' }), 400, "Invalid email_template_id");
  h.assertError(await update({ email_template_id: 'x'.repeat(100), subject: 'x' }), 400,
                /^Invalid email_template_id: no email template with id 'x+'$/);
  h.assertError(await update({ email_template_id: id }), 400, 'Bad Request: give at least one field to change');
  h.assertError(await update({ email_template_id: id, subject: ' ' }), 400, "Bad Request: 'subject' cannot be blank");
  h.assertError(await update({ email_template_id: id, template_name: '' }), 400, 'Template name is required');
  h.assertError(await update({ email_template_id: id, body: '{{' }), 400, /^Template contains malformed liquid: body: /);
  h.assertError(await update({ email_template_id: id, should_inline_css: 1 }), 400,
                "Invalid value for 'should_inline_css'. One of 'true' or 'false' was expected");
  h.assertError(await update({ email_template_id: id, preheader: '{{content_blocks.${gone}}}' }), 400,
                "Email must have valid Content Block names: no Content Block named 'gone'");
  assert.equal((await infoOk(id)).body, '<p>x</p>{{content_blocks.${tpl_footer}}}', 'unchanged');
});

test('list: shape, paging by limit and offset, the modified_after/before window, and its refusals', async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await createOk({ template_name: `Page ${i}`, subject: 's', body: 'b', tags: ['paged'] }));
  const all = (await list('?limit=1000')).json;
  assert.equal(all.count, all.templates.length);
  assert.equal(all.message, 'success');
  const mine = all.templates.filter((t) => ids.includes(t.email_template_id));
  assert.deepEqual(mine.map((t) => t.template_name), ['Page 0', 'Page 1', 'Page 2']);
  assert.deepEqual(Object.keys(mine[0]), ['email_template_id', 'template_name', 'created_at', 'updated_at', 'tags']);
  assert.deepEqual(mine[0].tags, ['paged']);
  const first = all.templates.findIndex((t) => t.email_template_id === ids[0]);
  const page = (await list(`?limit=2&offset=${first + 1}`)).json;
  assert.deepEqual(page.templates.map((t) => t.email_template_id), [ids[1], ids[2]]);
  assert.equal(page.count, 2);
  assert.equal((await list(`?offset=${all.count}`)).json.count, 0);
  assert.equal((await list('?modified_after=2999-01-01T00:00:00Z')).json.count, 0);
  assert.equal((await list('?modified_before=2000-01-01T00:00:00Z')).json.count, 0);
  const last = mine[2].updated_at;
  const at = (await list(`?modified_after=${encodeURIComponent(last)}&modified_before=${encodeURIComponent(last)}&limit=1000`)).json;
  assert.ok(at.templates.some((t) => t.email_template_id === ids[2]), 'the window is inclusive');
  assert.equal((await list()).json.count, Math.min(all.count, 100), 'default limit 100');

  h.assertError(await list('?limit=0'), 400, "Bad Request: 'limit' must be an integer from 1 to 1000");
  h.assertError(await list('?limit=1001'), 400, "Bad Request: 'limit' must be an integer from 1 to 1000");
  h.assertError(await list('?limit=ten'), 400, "Bad Request: 'limit' must be an integer from 1 to 1000");
  h.assertError(await list('?offset=-1'), 400, "Bad Request: 'offset' must be a non-negative integer");
  h.assertError(await list('?modified_after=yesterday'), 400, "Bad Request: 'modified_after' must be an ISO 8601 time");
  h.assertError(await list('?modified_before=2020-13-45'), 400, "Bad Request: 'modified_before' must be an ISO 8601 time");
});

test('info refusals: no id, an unknown id', async () => {
  h.assertError(await get(srv, '/templates/email/info'), 400, "Bad Request: 'email_template_id' is required");
  h.assertError(await info('00000000-0000-4000-8000-000000000000'), 400,
                "Invalid email_template_id: no email template with id '00000000-0000-4000-8000-000000000000'");
  h.assertError(await info('y'.repeat(300)), 400, /^Invalid email_template_id: /);
});

test('permissions: each endpoint needs its own templates.email permission (403 otherwise)', async () => {
  const id = await createOk({ template_name: 'Perm', subject: 's', body: 'b' });
  const reader = await h.createKey(srv, srv.key, { name: 'tpl-reader', permissions: ['templates.email.list', 'templates.email.info'] });
  const writer = await h.createKey(srv, srv.key, { name: 'tpl-writer', permissions: ['templates.email.create'] });
  h.assertError(await create({ template_name: 'R', subject: 's', body: 'b' }, reader.key), 403, /^Access Denied.*templates\.email\.create/);
  h.assertError(await update({ email_template_id: id, subject: 'x' }, reader.key), 403, /^Access Denied.*templates\.email\.update/);
  assert.equal((await list('', reader.key)).status, 200);
  assert.equal((await info(id, reader.key)).status, 200);
  assert.equal((await create({ template_name: 'W', subject: 's', body: 'b' }, writer.key)).status, 201);
  h.assertError(await list('', writer.key), 403, /^Access Denied.*templates\.email\.list/);
  h.assertError(await info(id, writer.key), 403, /^Access Denied.*templates\.email\.info/);
  h.assertError(await create({ template_name: 'K', subject: 's', body: 'b' }, 'nope'), 401, 'Invalid API key: nope');
});

test('email_template_id: the template fills what the message leaves out, field by field, through SMTP', async () => {
  await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'tina', email: 'tina@example.com', first_name: 'Tina' }] });
  const id = await createOk({
    template_name: 'Receipt', subject: 'Receipt for {{${first_name}}}',
    body: '<html><body><h1>Thanks {{${first_name}}}</h1><p>Order {{api_trigger_properties.${order} | default: "n/a"}}</p></body></html>',
    plaintext_body: 'Thanks {{${first_name}}} (plain)', preheader: 'Your receipt is inside',
  });
  const n = rx.got.length;
  // The message overrides the subject; body, plaintext_body and preheader come from the template.
  let res = await post(srv, '/messages/send', { external_user_ids: ['tina'], messages: { email: {
    app_id: 'app', from: 'Shop <shop@brand.example>', email_template_id: id, subject: 'Your order, {{${first_name}}}' } } });
  assert.equal(res.status, 201, res.text);
  assert.equal((await done(res.json.dispatch_id)).sent, 1);
  await rx.wait(n + 1);
  let m = parseEmail(rx.got[n].data);
  assert.deepEqual(m.defects, []);
  assert.deepEqual(m.headers.subject, ['Your order, Tina']);
  assert.match(m.html, /<h1>Thanks Tina<\/h1>/);
  assert.match(m.html, /Your receipt is inside/);
  assert.equal(m.text.trim(), 'Thanks Tina (plain)');

  // Overriding the body and the preheader keeps the template's subject.
  res = await post(srv, '/messages/send', { external_user_ids: ['tina'], messages: { email: {
    app_id: 'app', from: 'shop@brand.example', email_template_id: id, body: '<p>Own body for {{${first_name}}}</p>',
    preheader: 'Own preheader' } } });
  assert.equal(res.status, 201, res.text);
  await done(res.json.dispatch_id);
  await rx.wait(n + 2);
  m = parseEmail(rx.got[n + 1].data);
  assert.deepEqual(m.headers.subject, ['Receipt for Tina']);
  assert.match(m.html, /Own body for Tina/);
  assert.match(m.html, /Own preheader/);
  assert.doesNotMatch(m.html, /Your receipt is inside/);

  // An API-triggered campaign's variation takes the template as it is when the campaign is saved.
  const c = await post(srv, '/admin/campaigns', { name: 'Receipts', kind: 'api_triggered', variations: [{ name: 'A', channel: 'email',
    content: { app_id: 'app', from: 'shop@brand.example', email_template_id: id } }] });
  assert.equal(c.status, 201, c.text);
  const doc = (await get(srv, `/admin/campaigns/${c.json.campaign_id}`)).json;
  assert.equal(doc.variations[0].content.subject, 'Receipt for {{${first_name}}}');
  assert.equal(doc.variations[0].content.email_template_id, id);
  assert.equal((await update({ email_template_id: id, subject: 'Edited later' })).status, 201);
  res = await post(srv, '/campaigns/trigger/send', { campaign_id: c.json.campaign_id, recipients: [
    { external_user_id: 'tina', trigger_properties: { order: 'A-17' } }] });
  assert.equal(res.status, 201, res.text);
  await done(res.json.dispatch_id);
  await rx.wait(n + 3);
  m = parseEmail(rx.got[n + 2].data);
  assert.deepEqual(m.headers.subject, ['Receipt for Tina']);
  assert.match(m.html, /Order A-17/);
  // A /messages/send takes the template as it is now.
  res = await post(srv, '/messages/send', { external_user_ids: ['tina'], messages: { email: {
    app_id: 'app', from: 'shop@brand.example', email_template_id: id } } });
  await done(res.json.dispatch_id);
  await rx.wait(n + 4);
  assert.deepEqual(parseEmail(rx.got[n + 3].data).headers.subject, ['Edited later']);
});

test('an unknown email_template_id is refused where the message comes in', async () => {
  const bad = '00000000-0000-4000-8000-00000000dead';
  const email = { app_id: 'app', from: 'shop@brand.example', email_template_id: bad };
  const msg = `Invalid email_template_id: messages.email.email_template_id: no email template with id '${bad}'`;
  h.assertError(await post(srv, '/messages/send', { external_user_ids: ['tina'], messages: { email } }), 400, msg);
  const time = new Date(Date.now() + 3600000).toISOString();
  h.assertError(await post(srv, '/messages/schedule/create', { external_user_ids: ['tina'], schedule: { time }, messages: { email } }),
                400, msg);
  const id = await createOk({ template_name: 'Sched', subject: 's', body: 'b' });
  const sc = await post(srv, '/messages/schedule/create', { external_user_ids: ['tina'], schedule: { time },
    messages: { email: { ...email, email_template_id: id } } });
  assert.equal(sc.status, 201, sc.text);
  h.assertError(await post(srv, '/messages/schedule/update', { schedule_id: sc.json.schedule_id, messages: { email } }), 400, msg);
  assert.equal((await post(srv, '/messages/schedule/delete', { schedule_id: sc.json.schedule_id })).status, 201);
  h.assertError(await post(srv, '/admin/campaigns', { name: 'Bad', kind: 'api_triggered', variations: [{ channel: 'email',
    content: email }] }), 400, `Invalid email_template_id: variations[0].content.email_template_id: no email template with id '${bad}'`);
  h.assertError(await post(srv, '/messages/send', { external_user_ids: ['tina'], messages: { email: { ...email, email_template_id: 5 } } }),
                400, 'Bad Request: messages.email.email_template_id must be a string');
});

test('templates survive a restart', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => require('node:fs').rmSync(dir, { recursive: true, force: true }));
  let s = await h.startServer({ dir });
  const key = s.key;
  let res, got;
  try {
    res = await h.request(s, 'POST', '/templates/email/create', { key, body: { template_name: 'Kept', subject: 'S {{${first_name}}}',
      body: '<p>B</p>', preheader: 'P', tags: ['k'] } });
    assert.equal(res.status, 201, res.text);
    got = (await h.request(s, 'GET', `/templates/email/info?email_template_id=${res.json.email_template_id}`, { key })).json;
    await s.stop();
  } finally {
    await s.cleanup();
  }
  s = await h.startServer({ dir });
  try {
    const again = await h.request(s, 'GET', `/templates/email/info?email_template_id=${res.json.email_template_id}`, { key });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json, got);
  } finally {
    await s.stop();
  }
});
