// campaigns_errors.test.js -- every way the campaign, send-id and app
// endpoints refuse a request: /campaigns/list, /campaigns/details,
// /campaigns/data_series, /sends/id/create, /sends/data_series,
// /admin/campaigns[/{id}], /admin/apps.
//
// Each case checks the status and the exact error body, and that the store
// did not change (no campaign written or changed, no send id, no app:
// refusals.js).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { refused, table, raw, show, snapshot } = require('./refusals.js');

let srv;
const fx = {};
const BAD = 'Bad Request: ';

const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });
const campaign = async (body) => {
  const res = await admin('POST', '/admin/campaigns', body);
  assert.equal(res.status, 201, res.text);
  return res.json;
};
const hook = (extra = {}) => ({ url: 'https://example.com/hook', request_method: 'POST', body: '{"u":"{{${user_id}}}"}', ...extra });

before(async () => {
  srv = await h.startServer();
  fx.api = await campaign({ name: 'API', kind: 'api', control_percent: 10,
    variations: [{ name: 'A', channel: 'webhook' }, { name: 'E', channel: 'email' }] });
  fx.trig = await campaign({ name: 'Triggered', kind: 'api_triggered',
    variations: [{ name: 'T', channel: 'webhook', content: hook() }] });
  fx.other = await campaign({ name: 'Other', kind: 'api', variations: [{ name: 'O', channel: 'webhook' }] });
  fx.doc = await campaign({ name: 'Doc', kind: 'api', variations: [{ name: 'A', channel: 'webhook' }] });
  const res = await admin('POST', '/sends/id/create', { campaign_id: fx.api.campaign_id, send_id: 'taken' });
  assert.equal(res.status, 201, res.text);
  fx.weak = (await h.createKey(srv, srv.key, { name: 'weak', permissions: ['users.track'] })).key;
});

after(async () => {
  if (srv) await srv.stop();
});

const get = (t, name, p, status, message, opts) => t.test(name, () => refused(srv, 'GET', p, undefined, status, message, opts));
const denied = (perm) => `Access Denied: this API key does not have the '${perm}' permission`;

// ---- Braze's read endpoints ------------------------------------------------

test('/campaigns/list: every refusal', async (t) => {
  for (const p of ['-1', 'x', '1.5', '', '1e3', '0x10', '1000001'])
    await get(t, `page ${show(p)}`, `/campaigns/list?page=${p}`, 400, `${BAD}'page' must be a non-negative integer`);
  for (const d of ['up', 'ASC', '', 'descending'])
    await get(t, `sort_direction ${show(d)}`, `/campaigns/list?sort_direction=${d}`, 400, `${BAD}'sort_direction' must be 'asc' or 'desc'`);
  for (const a of ['yes', '1', 'TRUE', ''])
    await get(t, `include_archived ${show(a)}`, `/campaigns/list?include_archived=${a}`, 400,
      `${BAD}'include_archived' must be true or false`);
  for (const q of ['last_edit.time[gt]=yesterday', 'last_edit.time%5Bgt%5D=2020-13-01T00:00:00Z', 'last_edit.time[gt]=1593388799'])
    await get(t, q, `/campaigns/list?${q}`, 400, `${BAD}'last_edit.time[gt]' must be an ISO 8601 time`);
  await get(t, 'a key without campaigns.list', '/campaigns/list', 403, denied('campaigns.list'), { key: fx.weak });
});

test('/campaigns/details: every refusal', async (t) => {
  await get(t, 'no campaign_id', '/campaigns/details', 400, "Invalid Campaign ID: 'campaign_id' is required");
  await get(t, 'an empty campaign_id', '/campaigns/details?campaign_id=', 400, "Invalid Campaign ID: 'campaign_id' is required");
  await get(t, 'an unknown campaign', '/campaigns/details?campaign_id=no-such-campaign', 400,
    "Invalid Campaign ID: no campaign with id 'no-such-campaign'");
  await get(t, 'a variation id', `/campaigns/details?campaign_id=${fx.api.variations[0].id}`, 400,
    `Invalid Campaign ID: no campaign with id '${fx.api.variations[0].id}'`);
  await get(t, 'a campaign_id of 65 characters', `/campaigns/details?campaign_id=${'c'.repeat(65)}`, 400, 'Invalid Campaign ID: not a campaign id');
  await get(t, 'a key without campaigns.details', `/campaigns/details?campaign_id=${fx.api.campaign_id}`, 403, denied('campaigns.details'),
    { key: fx.weak });
});

// Both series take campaign_id, length and ending_at alike.
async function seriesCases(t, path, extra) {
  const c = fx.api.campaign_id;
  await get(t, 'no campaign_id', `${path}?length=1${extra}`, 400, "Invalid Campaign ID: 'campaign_id' is required");
  await get(t, 'an unknown campaign', `${path}?campaign_id=no-such-campaign&length=1${extra}`, 400,
    "Invalid Campaign ID: no campaign with id 'no-such-campaign'");
  for (const l of [null, '', '0', '101', '-1', 'x', '1.5', '10days', '1e2', '99999999999999999999'])
    await get(t, `length ${show(l)}`, `${path}?campaign_id=${c}${l === null ? '' : `&length=${l}`}${extra}`, 400,
      `${BAD}'length' must be an integer from 1 to 100`);
  for (const e of ['yesterday', '2020-02-30T00:00:00Z', '2020-01-01T25:00:00Z', '1593388799'])
    await get(t, `ending_at ${e}`, `${path}?campaign_id=${c}&length=1&ending_at=${e}${extra}`, 400, `${BAD}'ending_at' must be an ISO 8601 time`);
}

test('/campaigns/data_series: every refusal', async (t) => {
  await seriesCases(t, '/campaigns/data_series', '');
  await get(t, 'a key without campaigns.data_series', `/campaigns/data_series?campaign_id=${fx.api.campaign_id}&length=1`, 403,
    denied('campaigns.data_series'), { key: fx.weak });
});

test('/sends/data_series: every refusal', async (t) => {
  const c = fx.api.campaign_id;
  await seriesCases(t, '/sends/data_series', '&send_id=taken');
  for (const [name, q] of [['no send_id', ''], ['an empty send_id', '&send_id='], ['a send_id of 65 characters', `&send_id=${'s'.repeat(65)}`]])
    await get(t, name, `/sends/data_series?campaign_id=${c}&length=1${q}`, 400, `${BAD}'send_id' is required (a string of at most 64 characters)`);
  await get(t, 'an unknown send_id', `/sends/data_series?campaign_id=${c}&length=1&send_id=never-made`, 400,
    `${BAD}no send_id 'never-made' for campaign '${c}'`);
  await get(t, "another campaign's send_id", `/sends/data_series?campaign_id=${fx.other.campaign_id}&length=1&send_id=taken`, 400,
    `${BAD}no send_id 'taken' for campaign '${fx.other.campaign_id}'`);
  await get(t, 'a key without sends.data_series', `/sends/data_series?campaign_id=${c}&length=1&send_id=taken`, 403,
    denied('sends.data_series'), { key: fx.weak });
});

// ---- POST /sends/id/create -------------------------------------------------

test('/sends/id/create: every refusal', async (t) => {
  const c = () => fx.api.campaign_id;
  await table(t, srv, 'POST', '/sends/id/create', [
    ['the body is an array', raw('[]'), 400, `${BAD}the body must be a JSON object`],
    ['no body', undefined, 400, `${BAD}the body must be a JSON object`],
    ...[undefined, 5, null, ['x'], {}].map((v) => [`campaign_id ${show(v)}`, { campaign_id: v, send_id: 'x' }, 400,
      "Invalid Campaign ID: 'campaign_id' is required (a string)"]),
    ['campaign_id empty', { campaign_id: '' }, 400, "Invalid Campaign ID: 'campaign_id' is required"],
    ['campaign_id of 65 characters', { campaign_id: 'c'.repeat(65) }, 400, 'Invalid Campaign ID: not a campaign id'],
    ['an unknown campaign', { campaign_id: 'no-such-campaign', send_id: 'x' }, 400, "Invalid Campaign ID: no campaign with id 'no-such-campaign'"],
    ['an API-triggered campaign', { campaign_id: fx.trig.campaign_id, send_id: 'x' }, 400,
      `Invalid Campaign ID: send ids are for API campaigns; '${fx.trig.campaign_id}' is API-triggered`],
    ['an API-triggered campaign, no send_id', { campaign_id: fx.trig.campaign_id }, 400,
      `Invalid Campaign ID: send ids are for API campaigns; '${fx.trig.campaign_id}' is API-triggered`],
    ...[5, '', 's'.repeat(65), 'sëmaine', 'a\nb', ['x'], true].map((v) => [`send_id ${show(v)}`,
      { campaign_id: c(), send_id: v }, 400, `${BAD}'send_id' must be a string of 1 to 64 printable ASCII characters`]),
    ['an unknown field', { campaign_id: c(), send_id: 'x', name: 'week 1' }, 400, `${BAD}unknown field 'name'`],
    ['a send_id that exists', { campaign_id: c(), send_id: 'taken' }, 400, `${BAD}send_id 'taken' exists already for this campaign`],
  ]);
  await t.test('a key without sends.id.create', () => refused(srv, 'POST', '/sends/id/create', { campaign_id: c(), send_id: 'x' }, 403,
    denied('sends.id.create'), { key: fx.weak }));
});

test('/sends/id/create: 100 new send ids a day per workspace, then 429', async () => {
  const s = await h.startServer();
  try {
    const post = (body) => h.request(s, 'POST', '/sends/id/create', { key: s.key, body });
    const mk = async (name) => {
      const res = await h.request(s, 'POST', '/admin/campaigns', { key: s.key, body: { name, kind: 'api', variations: [{ channel: 'webhook' }] } });
      assert.equal(res.status, 201, res.text);
      return res.json.campaign_id;
    };
    const [c1, c2] = [await mk('one'), await mk('two')];
    for (let i = 0; i < 100; i++) {
      const res = await post({ campaign_id: i % 2 ? c1 : c2, send_id: `s${i}` });
      assert.equal(res.status, 201, `send id ${i}: ${res.text}`);
    }
    await refused(s, 'POST', '/sends/id/create', { campaign_id: c1, send_id: 's100' }, 429,
      'Rate Limited: at most 100 send ids can be created a day');
    await refused(s, 'POST', '/sends/id/create', { campaign_id: c2 }, 429, 'Rate Limited: at most 100 send ids can be created a day');
    // one that exists is still that error, not the limit's
    await refused(s, 'POST', '/sends/id/create', { campaign_id: c1, send_id: 's1' }, 400, `${BAD}send_id 's1' exists already for this campaign`);
  } finally {
    await s.stop();
  }
});

// ---- /admin/campaigns ------------------------------------------------------

// base(extra): a valid create body (an API campaign), extra merged in.
const base = (extra = {}) => ({ name: 'C', kind: 'api', variations: [{ name: 'A', channel: 'webhook' }], ...extra });
// tbase(content): an API-triggered one whose one webhook variation stores content.
const tbase = (content, extra = {}) => ({ name: 'T', kind: 'api_triggered', variations: [{ name: 'T', channel: 'webhook', content }], ...extra });
const nVars = (n) => Array.from({ length: n }, (_, i) => ({ name: `V${i}`, channel: 'webhook' }));

// Cases of the document itself: for create, and (with their own base) update.
function documentCases(b) {
  return [
    ['an unknown field', b({ foo: 1 }), `${BAD}unknown field 'foo'`],
    ...['id', 'channels', 'control_id', 'created_at'].map((k) => [`the field ${k}`, b({ [k]: 'x' }), `${BAD}unknown field '${k}'`]),
    ...[5, '', 'n'.repeat(256), null, ['C']].map((v) => [`name ${show(v)}`, b({ name: v }),
      `${BAD}'name' must be a string of 1 to 255 bytes`]),
    ...['vip', {}, 5].map((v) => [`tags ${show(v)}`, b({ tags: v }), `${BAD}'tags' must be an array of at most 50 strings`]),
    ['51 tags', b({ tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }), `${BAD}'tags' must be an array of at most 50 strings`],
    ...[[5], [''], ['t'.repeat(256)], [null]].map((v) => [`tags ${show(v)}`, b({ tags: v }),
      `${BAD}'tags' must be an array of at most 50 strings of 1 to 255 bytes`]),
    ...[5, ['d'], 'd'.repeat(10001)].map((v) => [`description ${show(v)}`, b({ description: v }),
      `${BAD}'description' must be a string of at most 10000 bytes`]),
    ...['10', -1, 101, true, 100.5].map((v) => [`control_percent ${show(v)}`, b({ control_percent: v }),
      `${BAD}'control_percent' must be a number from 0 to 100`]),
    ...[null, 'A', {}, [], nVars(9)].map((v) => [`variations ${show(v)}`, b({ variations: v }),
      `${BAD}'variations' must be an array of 1 to 8 variations`]),
    ...[5, 'A', null, []].map((v) => [`variations[0] ${show(v)}`, b({ variations: [v] }), `${BAD}variations[0] must be an object`]),
    ['a variation with an unknown field', b({ variations: [{ name: 'A', channel: 'webhook', url: 'https://x' }] }),
      `${BAD}variations[0]: unknown field 'url'`],
    ...[5, '', 'n'.repeat(256)].map((v) => [`variation name ${show(v)}`, b({ variations: [{ name: v, channel: 'webhook' }] }),
      `${BAD}variations[0].name must be a string of 1 to 255 bytes`]),
    ['two variations with one name', b({ variations: [{ name: 'A', channel: 'webhook' }, { name: 'A', channel: 'webhook' }] }),
      `${BAD}variations[1].name 'A' is used twice`],
    ["a name that is another variation's default", b({ variations: [{ channel: 'webhook' }, { name: 'Variation 1', channel: 'webhook' }] }),
      `${BAD}variations[1].name 'Variation 1' is used twice`],
    ...[undefined, 'sms', 5, 'Webhook', 'apple_push'].map((v) => [`variation channel ${show(v)}`, b({ variations: [{ name: 'Z', channel: v }] }),
      `${BAD}variations[0].channel must be "webhook" or "email"`]),
    ...['50', -1, 101, true].map((v) => [`variation percent ${show(v)}`, b({ variations: [{ name: 'A', channel: 'webhook', percent: v }] }),
      `${BAD}variations[0].percent must be a number from 0 to 100`]),
    ['percentages that add up to 90', b({ variations: [{ name: 'A', channel: 'webhook', percent: 50 }, { name: 'B', channel: 'webhook', percent: 40 }] }),
      `${BAD}the variations' percentages and control_percent must add up to 100`],
    ['percentages that add up to 110', b({ variations: [{ name: 'A', channel: 'webhook', percent: 60 }, { name: 'B', channel: 'webhook', percent: 50 }] }),
      `${BAD}the variations' percentages and control_percent add up to more than 100`],
    ['percentages and control over 100', b({ control_percent: 50, variations: [{ name: 'A', channel: 'webhook', percent: 60 }, { name: 'B', channel: 'webhook' }] }),
      `${BAD}the variations' percentages and control_percent add up to more than 100`],
    ['percentages and control at 101', b({ control_percent: 5, variations: [{ name: 'A', channel: 'webhook', percent: 95 }, { name: 'B', channel: 'webhook', percent: 1 }] }),
      `${BAD}the variations' percentages and control_percent add up to more than 100`],
    ...[5, 's'.repeat(65), ['s'], true].map((v) => [`segment_id ${show(v)}`, b({ segment_id: v }),
      `${BAD}'segment_id' must be a segment id (a string)`]),
    ['an unknown segment', b({ segment_id: 'no-such-segment' }), `${BAD}segment_id: no segment with id 'no-such-segment'`],
    ...['opens', {}, 5].map((v) => [`conversion_events ${show(v)}`, b({ conversion_events: v }),
      `${BAD}'conversion_events' must be an array of at most 4 events`]),
    ['5 conversion_events', b({ conversion_events: Array.from({ length: 5 }, () => ({ type: 'starts_session' })) }),
      `${BAD}'conversion_events' must be an array of at most 4 events`],
    ...[5, 'starts_session', null].map((v) => [`conversion_events [${show(v)}]`, b({ conversion_events: [v] }),
      `${BAD}conversion_events[0] must be an object`]),
    ...[undefined, 'opens_email', 5, 'Starts Session'].map((v) => [`conversion type ${show(v)}`, b({ conversion_events: [{ type: v }] }),
      `${BAD}conversion_events[0].type must be performs_custom_event, makes_purchase or starts_session`]),
    ['the second conversion event', b({ conversion_events: [{ type: 'starts_session' }, { type: 'clicks' }] }),
      `${BAD}conversion_events[1].type must be performs_custom_event, makes_purchase or starts_session`],
    ['a custom event without a name', b({ conversion_events: [{ type: 'performs_custom_event' }] }),
      `${BAD}conversion_events[0].name is required for performs_custom_event`],
    ['a custom event named 5', b({ conversion_events: [{ type: 'performs_custom_event', name: 5 }] }),
      `${BAD}conversion_events[0].name is required for performs_custom_event`],
    ['a purchase named 5', b({ conversion_events: [{ type: 'makes_purchase', name: 5 }] }), `${BAD}conversion_events[0].name must be a string`],
    ...[0, 721, '24', 1.5, -1].map((w) => [`window_hours ${show(w)}`, b({ conversion_events: [{ type: 'starts_session', window_hours: w }] }),
      `${BAD}conversion_events[0].window_hours must be an integer from 1 to 720`]),
    ['a conversion event with an unknown field', b({ conversion_events: [{ type: 'starts_session', window: 3600 }] }),
      `${BAD}conversion_events[0]: unknown field 'window'`],
    ...[-1, '60', 1.5, 100000001, true].map((v) => [`rate_limit_per_minute ${show(v)}`, b({ rate_limit_per_minute: v }),
      `${BAD}'rate_limit_per_minute' must be a non-negative integer (0: no limit)`]),
    ...['frequency_capping', 'draft', 'archived'].flatMap((k) => ['yes', 1, 'false'].map((v) => [`${k} ${show(v)}`, b({ [k]: v }),
      `${BAD}'${k}' must be a boolean`])),
  ];
}

// Content stored by an API-triggered campaign: every field of it.
function contentCases() {
  const L = 'Liquid syntax error at line';
  return [
    ['an API-triggered variation without content', { name: 'T', kind: 'api_triggered', variations: [{ name: 'T', channel: 'webhook' }] },
      `${BAD}variations[0].content is required: an API-triggered or transactional campaign stores its message`],
    ...[5, 'https://x', []].map((v) => [`content ${show(v)}`, tbase(v), `${BAD}variations[0].content must be an object`]),
    ['content with message_variation_id', tbase(hook({ message_variation_id: 'x' })),
      `${BAD}variations[0].content.message_variation_id does not belong in a campaign's stored content`],
    ['content with an unknown field', tbase(hook({ method: 'POST' })), `${BAD}variations[0].content: unknown field 'method'`],
    ['content without url', tbase(hook({ url: undefined })), `${BAD}variations[0].content.url is required (a string)`],
    ['content with an ftp url', tbase(hook({ url: 'ftp://example.com' })), `${BAD}variations[0].content.url must be an http:// or https:// URL`],
    ['content without request_method', tbase(hook({ request_method: undefined })),
      `${BAD}variations[0].content.request_method is required: POST, PUT, DELETE or GET`],
    ['content with request_method PATCH', tbase(hook({ request_method: 'PATCH' })),
      `${BAD}variations[0].content.request_method must be POST, PUT, DELETE or GET`],
    ['content with a header that is not a string', tbase(hook({ request_headers: { 'X-A': 1 } })),
      `${BAD}variations[0].content.request_headers.X-A must be a string`],
    ['content with a header value with a newline', tbase(hook({ request_headers: { 'X-A': 'a\r\nb' } })),
      `${BAD}variations[0].content.request_headers.X-A must not contain a line break`],
    ['content with a body that is not a string', tbase(hook({ body: { a: 1 } })),
      `${BAD}variations[0].content.body must be a string (JSON escaped into it)`],
    ['Liquid: the url', tbase(hook({ url: 'https://example.com/{{ ${user_id} ' })),
      new RegExp(`^${BAD}variations\\[0\\]\\.content\\.url: ${L} 1, column 21: .+`)],
    ['Liquid: line 2 of the body', tbase(hook({ body: '{\n  "x": "{% unless x %}"\n}' })),
      new RegExp(`^${BAD}variations\\[0\\]\\.content\\.body: ${L} \\d+, column \\d+: .+`)],
    ['Liquid: an unknown tag on line 2 of the body', tbase(hook({ body: 'hello\n  {% frobnicate %}' })),
      `${BAD}variations[0].content.body: ${L} 2, column 3: unknown tag 'frobnicate'`],
    ['Liquid: a header value', tbase(hook({ request_headers: { 'X-Sig': '{{ api_trigger_properties.${x} | }}' } })),
      new RegExp(`^${BAD}variations\\[0\\]\\.content\\.request_headers\\.X-Sig: ${L} 1, column \\d+: .+`)],
    ['Liquid: the second variation', { name: 'T', kind: 'api_triggered', control_percent: 0, variations: [
      { name: 'T1', channel: 'webhook', content: hook() }, { name: 'T2', channel: 'webhook', content: hook({ body: '{{' }) }] },
    new RegExp(`^${BAD}variations\\[1\\]\\.content\\.body: ${L} 1, column 1: .+`)],
    ['email content without from', { name: 'T', kind: 'api_triggered', variations: [{ name: 'E', channel: 'email',
      content: { app_id: 'a', body: 'hi', subject: 's' } }] }, `${BAD}variations[0].content.from is required ("Display Name <address@domain>")`],
    ['email content: Liquid in the subject', { name: 'T', kind: 'api_triggered', variations: [{ name: 'E', channel: 'email',
      content: { app_id: 'a', from: 'A <a@example.com>', body: 'hi', subject: 'Hi {{ ${first_name} | default: }}' } }] },
    new RegExp(`^${BAD}variations\\[0\\]\\.content\\.subject: ${L} 1, column \\d+: .+`)],
  ];
}

test('POST /admin/campaigns: every refusal', async (t) => {
  await table(t, srv, 'POST', '/admin/campaigns', [
    ['the body is an array', raw('[]'), `${BAD}the body must be a JSON object`],
    ['the body is a string', raw('"C"'), `${BAD}the body must be a JSON object`],
    ['no body', undefined, `${BAD}the body must be a JSON object`],
    ...[undefined, 'email', 5, 'API', 'api-triggered'].map((v) => [`kind ${show(v)}`, base({ kind: v }),
      `${BAD}'kind' must be "api", "api_triggered" or "transactional"`]),
    ['a variation id on create', base({ variations: [{ id: fx.api.variations[0].id, name: 'A', channel: 'webhook' }] }),
      `${BAD}variations[0].id is not a variation of this campaign`],
    ['content in an API campaign', base({ variations: [{ name: 'A', channel: 'webhook', content: hook() }] }),
      `${BAD}variations[0].content: an API campaign's content comes with each /messages/send request`],
    ...documentCases(base),
    ...contentCases(),
  ].map(([name, body, message]) => [name, body, 400, message]));
  await t.test('a key without brasa.marketing', () => refused(srv, 'POST', '/admin/campaigns', base(), 403, denied('brasa.marketing'), { key: fx.weak }));
});

test('POST /admin/campaigns/{id}: every refusal, and the stored campaign is unchanged', async (t) => {
  const api = `/admin/campaigns/${fx.api.campaign_id}`, trig = `/admin/campaigns/${fx.trig.campaign_id}`;
  const [A, E] = fx.api.variations.map((v) => v.id);
  const cases = (p, list) => table(t, srv, 'POST', p, list.map(([name, body, message]) => [name, body, 400, message]));
  await t.test('an unknown campaign', () => refused(srv, 'POST', '/admin/campaigns/no-such-campaign', { name: 'x' }, 404,
    "Not Found: no campaign with id 'no-such-campaign'"));
  await t.test('an id of 65 characters', () => refused(srv, 'POST', `/admin/campaigns/${'c'.repeat(65)}`, { name: 'x' }, 404,
    'Not Found: no such campaign'));
  await cases(api, [
    ['the body is an array', raw('[]'), `${BAD}the body must be a JSON object`],
    ['no body', undefined, `${BAD}the body must be a JSON object`],
    ['kind changed to api_triggered', { kind: 'api_triggered' }, `${BAD}'kind' cannot change once a campaign exists`],
    ...[5, 'email', null].map((v) => [`kind ${show(v)}`, { kind: v }, `${BAD}'kind' must be "api", "api_triggered" or "transactional"`]),
    ["another campaign's variation id", { variations: [{ id: fx.other.variations[0].id, name: 'A' }] },
      `${BAD}variations[0].id is not a variation of this campaign`],
    ["the control group's id as a variation's", { variations: [{ id: fx.api.control_id, name: 'A', channel: 'webhook' }] },
      `${BAD}variations[0].id is not a variation of this campaign`],
    ['a variation id twice', { variations: [{ id: A, name: 'A' }, { id: A, name: 'A2' }] }, `${BAD}variations[1].id '${A}' is used twice`],
    ['9 variations', { variations: [{ id: A }, { id: E }, ...nVars(7)] }, `${BAD}'variations' must be an array of 1 to 8 variations`],
    ['percentages that no longer add up', { variations: [{ id: A, percent: 45 }, { id: E, percent: 40 }] },
      `${BAD}the variations' percentages and control_percent must add up to 100`],
    ['control_percent that no longer fits', { control_percent: 80, variations: [{ id: A, percent: 45 }, { id: E, percent: 45 }] },
      `${BAD}the variations' percentages and control_percent add up to more than 100`],
    ['content in an API campaign', { variations: [{ id: A, content: hook() }] },
      `${BAD}variations[0].content: an API campaign's content comes with each /messages/send request`],
    ['archived "yes"', { archived: 'yes' }, `${BAD}'archived' must be a boolean`],
  ]);
  // every field, on a campaign of one webhook variation and no control group
  await cases(`/admin/campaigns/${fx.doc.campaign_id}`, documentCases((extra) => ({ name: 'Doc', ...extra })));
  const T = fx.trig.variations[0].id;
  await cases(trig, [
    ['kind changed to api', { kind: 'api' }, `${BAD}'kind' cannot change once a campaign exists`],
    ['a variation restated without its content', { variations: [{ id: T }] },
      `${BAD}variations[0].content is required: an API-triggered or transactional campaign stores its message`],
    ['a new variation without content', { variations: [{ id: T, content: hook() }, { name: 'New', channel: 'webhook' }] },
      `${BAD}variations[1].content is required: an API-triggered or transactional campaign stores its message`],
    ['content replaced by one with a Liquid error', { variations: [{ id: T, content: hook({ body: 'line 1\nline 2 {% if %}' }) }] },
      `${BAD}variations[0].content.body: Liquid syntax error at line 2, column 14: expected a value, got end of markup`],
    ['content replaced by one with a bad header', { variations: [{ id: T, content: hook({ request_headers: { 'Bad Header': 'x' } }) }] },
      `${BAD}variations[0].content.request_headers: 'Bad Header' is not a header name`],
  ]);
  await t.test('a key without brasa.marketing', () => refused(srv, 'POST', api, { name: 'x' }, 403, denied('brasa.marketing'), { key: fx.weak }));
});

test('GET /admin/campaigns[/{id}]: every refusal', async (t) => {
  for (const a of ['yes', '1', ''])
    await get(t, `archived ${show(a)}`, `/admin/campaigns?archived=${a}`, 400, `${BAD}'archived' must be true or false`);
  await get(t, 'an unknown campaign', '/admin/campaigns/no-such-campaign', 404, "Not Found: no campaign with id 'no-such-campaign'");
  await get(t, 'an id of 65 characters', `/admin/campaigns/${'c'.repeat(65)}`, 404, 'Not Found: no such campaign');
  await get(t, 'a key without brasa.marketing (list)', '/admin/campaigns', 403, denied('brasa.marketing'), { key: fx.weak });
  await get(t, 'a key without brasa.marketing (one)', `/admin/campaigns/${fx.api.campaign_id}`, 403, denied('brasa.marketing'), { key: fx.weak });
});

test('variations keep distinct ids when one takes an old id and another the old name', async () => {
  const c = await campaign({ name: 'Renames', kind: 'api', variations: [{ name: 'A', channel: 'webhook' }] });
  const A = c.variations[0].id;
  const res = await admin('POST', `/admin/campaigns/${c.campaign_id}`, { variations: [{ id: A, name: 'B' }, { name: 'A', channel: 'webhook' }] });
  assert.equal(res.status, 200, res.text);
  const ids = res.json.variations.map((v) => v.id);
  assert.equal(ids[0], A);
  assert.notEqual(ids[1], A);
  assert.deepEqual(res.json.variations.map((v) => v.name), ['B', 'A']);
});

// ---- /admin/apps -----------------------------------------------------------

test('/admin/apps: every refusal', async (t) => {
  await table(t, srv, 'POST', '/admin/apps', [
    ['the body is an array', raw('[]'), 400, `${BAD}the body must be a JSON object`],
    ['no body', undefined, 400, `${BAD}the body must be a JSON object`],
    ...[undefined, 5, '', 'n'.repeat(256), ['app']].map((v) => [`name ${show(v)}`, { name: v, platform: 'ios' }, 400,
      `${BAD}'name' must be a string of 1 to 255 bytes`]),
    ...['windows', 'iOS', '', 5, ['ios']].map((v) => [`platform ${show(v)}`, { name: 'App', platform: v }, 400,
      `${BAD}'platform' must be one of ios, android, web, kindle, tvos, roku, other`]),
    ['an unknown field', { name: 'App', platform: 'ios', bundle_id: 'com.example' }, 400, `${BAD}unknown field 'bundle_id'`],
  ]);
  await t.test('a key without brasa.keys (create)', () => refused(srv, 'POST', '/admin/apps', { name: 'App' }, 403, denied('brasa.keys'),
    { key: fx.weak }));
  await get(t, 'a key without brasa.marketing (list)', '/admin/apps', 403, denied('brasa.marketing'), { key: fx.weak });
});

test('nothing refused was stored', () => {
  const s = snapshot(srv);
  assert.equal(s.apps, 0);
  assert.deepEqual(s.send_ids, [[fx.api.campaign_id, 'taken']]);
  assert.equal(s.campaigns.length, 5, 'the four of before() and the renamed one');
});
