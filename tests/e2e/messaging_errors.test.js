// messaging_errors.test.js -- every way the messaging endpoints refuse a
// request: /messages/send, /messages/schedule/{create,update,delete},
// /messages/scheduled_broadcasts, /campaigns/trigger/send,
// /campaigns/trigger/schedule/{create,update,delete}, /admin/dispatches/{id}.
//
// Each case checks the status and the exact error body, and that the store
// did not change (no dispatch, schedule, send id or profile written:
// refusals.js). Every webhook of these requests points at one receiver that
// must get nothing at all (the last test); the schedules that are meant to
// fire (to test what a fired schedule refuses) go to another one.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { webhookReceiver } = require('./webhook_receiver.js');
const { refused, table, raw, show, bigObject } = require('./refusals.js');

let srv, rx, okRx;
const fx = {}; // campaigns, variations, schedules, keys made in before()

const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });
const post = (p, body, key = srv.key) => h.request(srv, 'POST', p, { key, body });
const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();
const LATER = () => ({ time: inSeconds(86400) });

async function created(res) {
  assert.ok(res.status === 201, `${res.status} ${res.text}`);
  return res.json;
}
const campaign = async (body) => created(await admin('POST', '/admin/campaigns', body));

// A valid webhook message (to the receiver that must get nothing).
const wh = (extra = {}) => ({ url: rx.url('/never'), request_method: 'POST', body: '{"user":"{{${user_id}}}"}', ...extra });

before(async () => {
  srv = await h.startServer();
  rx = await webhookReceiver();
  okRx = await webhookReceiver();
  await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'u1', team: 'a' }, { external_id: 'u2', team: 'b' }] });
  let res = await admin('POST', '/admin/segments', {
    name: 'Team a', definition: { type: 'custom_attribute', name: 'team', op: 'equals', value: 'a' },
  });
  assert.equal(res.status, 201, res.text);
  fx.segment = res.json.segment.id;

  // An API campaign: two webhook variations, an email one, a control group.
  fx.api = await campaign({ name: 'API', kind: 'api', control_percent: 10, variations: [
    { name: 'A', channel: 'webhook' }, { name: 'B', channel: 'webhook' }, { name: 'E', channel: 'email' }] });
  [fx.A, fx.B, fx.E] = fx.api.variations.map((v) => v.id);
  fx.control = fx.api.control_id;
  fx.other = await campaign({ name: 'Other API', kind: 'api', variations: [{ name: 'O', channel: 'webhook' }] });
  fx.apiArchived = await campaign({ name: 'Archived API', kind: 'api', archived: true, variations: [{ name: 'A', channel: 'webhook' }] });
  fx.apiDraft = await campaign({ name: 'Draft API', kind: 'api', draft: true, variations: [{ name: 'A', channel: 'webhook' }] });
  // API-triggered campaigns store their message.
  const trig = (name, extra = {}, url = rx.url('/never')) => campaign({
    name, kind: 'api_triggered', ...extra,
    variations: [{ name: 'T', channel: 'webhook', content: { url, request_method: 'POST', body: '{{api_trigger_properties.${x}}}' } }],
  });
  fx.trig = await trig('Triggered');
  fx.trigArchived = await trig('Archived triggered', { archived: true });
  fx.trigDraft = await trig('Draft triggered', { draft: true });
  fx.trigOk = await trig('Triggered, fires', {}, okRx.url('/fired'));
  fx.apiLater = await campaign({ name: 'API, archived later', kind: 'api', variations: [{ name: 'A', channel: 'webhook' }] });
  fx.trigLater = await trig('Triggered, archived later');

  // Schedules in each state, from each family.
  const sched = async (p, body) => created(await post(p, body));
  fx.sPending = await sched('/messages/schedule/create', {
    campaign_id: fx.api.campaign_id, external_user_ids: ['u1'], schedule: LATER(),
    messages: { webhook: wh({ message_variation_id: fx.A }) } });
  fx.sDeleted = await sched('/messages/schedule/create', { external_user_ids: ['u1'], schedule: LATER(), messages: { webhook: wh() } });
  await created(await post('/messages/schedule/delete', { schedule_id: fx.sDeleted.schedule_id }));
  fx.sLater = await sched('/messages/schedule/create', {
    campaign_id: fx.apiLater.campaign_id, external_user_ids: ['u1'], schedule: LATER(),
    messages: { webhook: wh({ message_variation_id: fx.apiLater.variations[0].id }) } });
  fx.tPending = await sched('/campaigns/trigger/schedule/create', {
    campaign_id: fx.trig.campaign_id, recipients: [{ external_user_id: 'u1' }], schedule: LATER() });
  fx.tDeleted = await sched('/campaigns/trigger/schedule/create', {
    campaign_id: fx.trig.campaign_id, recipients: [{ external_user_id: 'u1' }], schedule: LATER() });
  await created(await post('/campaigns/trigger/schedule/delete', { campaign_id: fx.trig.campaign_id, schedule_id: fx.tDeleted.schedule_id }));
  fx.tLater = await sched('/campaigns/trigger/schedule/create', {
    campaign_id: fx.trigLater.campaign_id, recipients: [{ external_user_id: 'u1' }], schedule: LATER() });
  // These two fire (to okRx) in about a second.
  fx.sFired = await sched('/messages/schedule/create', {
    external_user_ids: ['u1'], schedule: { time: inSeconds(1) }, messages: { webhook: wh({ url: okRx.url('/fired') }) } });
  fx.tFired = await sched('/campaigns/trigger/schedule/create', {
    campaign_id: fx.trigOk.campaign_id, recipients: [{ external_user_id: 'u2' }], schedule: { time: inSeconds(1) } });
  await okRx.wait(2);
  // Both are marked fired once their dispatch is written.
  for (const d of [fx.sFired.dispatch_id, fx.tFired.dispatch_id])
    assert.ok(await h.poll(async () => (await admin('GET', `/admin/dispatches/${d}`)).status === 200), `dispatch ${d}`);

  // Archived after their schedules were made.
  for (const c of [fx.apiLater, fx.trigLater]) {
    res = await admin('POST', `/admin/campaigns/${c.campaign_id}`, { archived: true });
    assert.equal(res.status, 200, res.text);
  }

  fx.weak = (await h.createKey(srv, srv.key, { name: 'weak', permissions: ['users.track', 'campaigns.list'] })).key;
});

after(async () => {
  if (srv) await srv.stop();
  if (rx) await rx.close();
  if (okRx) await okRx.close();
});

// ---- cases shared by /messages/send and /messages/schedule/create ----------

// base(extra): a valid body of the endpoint, with extra merged in (an
// undefined value removes a field).
function messagesCases(base) {
  const camp = (vid, extra = {}) => base({ campaign_id: fx.api.campaign_id, messages: { webhook: wh({ message_variation_id: vid }) }, ...extra });
  const hook = (extra) => base({ messages: { webhook: wh(extra) } });
  const BAD = 'Bad Request: ';
  return [
    // the body and its fields
    ['the body is an array', raw('[]'), 400, `${BAD}the body must be a JSON object`],
    ['the body is a string', raw('"send"'), 400, `${BAD}the body must be a JSON object`],
    ['no body', undefined, 400, `${BAD}the body must be a JSON object`],
    ['invalid JSON', raw('{"external_user_ids": ["u1"],'), 400, /^Invalid JSON in request body: .+ at byte \d+$/],
    ['an unknown field', base({ foo: 1 }), 400, `${BAD}unknown field 'foo'`],
    ['recipients (a trigger field)', base({ recipients: [{ external_user_id: 'u1' }] }), 400, `${BAD}unknown field 'recipients'`],
    ['trigger_properties (a trigger field)', base({ trigger_properties: {} }), 400, `${BAD}unknown field 'trigger_properties'`],
    ['attachments (a trigger field)', base({ attachments: [] }), 400, `${BAD}unknown field 'attachments'`],
    ...[5, '', 'c'.repeat(65), true, ['x']].map((v) => [`campaign_id ${show(v)}`, base({ campaign_id: v }), 400,
      `${BAD}'campaign_id' must be a string of 1 to 64 bytes`]),
    ...[5, '', 's'.repeat(65), {}].map((v) => [`send_id ${show(v)}`, camp(fx.A, { send_id: v }), 400,
      `${BAD}'send_id' must be a string of 1 to 64 ASCII characters`]),
    ['send_id not ASCII', camp(fx.A, { send_id: 'sëmaine' }), 400, `${BAD}'send_id' must be printable ASCII`],
    ['send_id with a control character', camp(fx.A, { send_id: 'a\tb' }), 400, `${BAD}'send_id' must be printable ASCII`],
    ['send_id without campaign_id', base({ send_id: 'week-1' }), 400, `${BAD}'send_id' needs a 'campaign_id'`],
    ...['true', 1, {}].map((v) => [`broadcast ${show(v)}`, base({ broadcast: v }), 400, `${BAD}'broadcast' must be a boolean`]),
    ...[5, '', 's'.repeat(65)].map((v) => [`segment_id ${show(v)}`, base({ segment_id: v }), 400,
      `${BAD}'segment_id' must be a string of 1 to 64 bytes`]),
    ['audience not an object', base({ audience: 'team a' }), 400,
      `${BAD}audience: must be an object: a filter (custom_attribute, push_subscription_status, email_subscription_status, last_used_app) or a group (AND, OR)`],
    ['audience with an unknown comparison',
      base({ external_user_ids: undefined, broadcast: true, audience: { custom_attribute: { custom_attribute_name: 'team', comparison: 'resembles', value: 'a' } } }),
      400, /^Bad Request: audience: custom_attribute 'team': comparison 'resembles' is not one of /],
    ...['u1', {}, 5].map((v) => [`external_user_ids ${show(v)}`, base({ external_user_ids: v }), 400,
      `${BAD}'external_user_ids' must be an array of strings`]),
    ...[[5], [''], [null], [['u1']], ['x'.repeat(513)]].map((v) => [`external_user_ids ${show(v)}`,
      base({ external_user_ids: v }), 400, `${BAD}external_user_ids[0] must be a non-empty string`]),
    ...['a', { alias_name: 'a', alias_label: 'l' }].map((v) => [`user_aliases ${show(v)}`, base({ user_aliases: v }), 400,
      `${BAD}'user_aliases' must be an array of alias objects`]),
    ...[[5], [{ alias_name: 'a' }], [{ alias_name: '', alias_label: 'l' }], [{ alias_name: 5, alias_label: 'l' }], ['a']].map((v) => [
      `user_aliases ${show(v)}`, base({ user_aliases: v }), 400,
      `${BAD}user_aliases[0] must be an object with string alias_name and alias_label`]),
    ['51 external_user_ids', base({ external_user_ids: Array.from({ length: 51 }, (_, i) => `u${i}`) }), 400,
      'The max number of external_ids and aliases per request was exceeded: at most 50 external_user_ids and user_aliases together'],
    ['26 external_user_ids and 25 user_aliases',
      base({ external_user_ids: Array.from({ length: 26 }, (_, i) => `u${i}`),
             user_aliases: Array.from({ length: 25 }, (_, i) => ({ alias_name: `a${i}`, alias_label: 'l' })) }), 400,
      'The max number of external_ids and aliases per request was exceeded: at most 50 external_user_ids and user_aliases together'],
    // audience rules
    ['broadcast with external_user_ids', base({ broadcast: true, segment_id: fx.segment }), 400,
      `${BAD}'broadcast' true sends to a segment or audience and cannot take a recipient list`],
    ['broadcast with user_aliases', base({ external_user_ids: undefined, broadcast: true, segment_id: fx.segment,
      user_aliases: [{ alias_name: 'a', alias_label: 'l' }] }), 400,
      `${BAD}'broadcast' true sends to a segment or audience and cannot take a recipient list`],
    ...[['nobody', {}], ['a segment without broadcast', { segment_id: fx.segment }],
        ['broadcast false with a segment', { broadcast: false, segment_id: fx.segment }],
        ['an audience without broadcast', { audience: { custom_attribute: { custom_attribute_name: 'team', comparison: 'exists' } } }]].map(
      ([name, extra]) => [`no recipients: ${name}`, base({ external_user_ids: undefined, ...extra }), 400,
        'No Recipients: give recipients (external_user_ids, user_aliases or recipients), or broadcast: true with a segment_id or audience']),
    ['an empty external_user_ids', base({ external_user_ids: [] }), 400, 'No Recipients: the recipient list is empty'],
    ['empty external_user_ids and user_aliases', base({ external_user_ids: [], user_aliases: [] }), 400, 'No Recipients: the recipient list is empty'],
    ['broadcast without a segment or audience', base({ external_user_ids: undefined, broadcast: true }), 400,
      "No Recipients: 'broadcast' true needs a segment_id or an audience"],
    ['broadcast to an unknown segment', base({ external_user_ids: undefined, broadcast: true, segment_id: 'no-such-segment' }), 400,
      `${BAD}no segment with id 'no-such-segment'`],
    ['recipients within an unknown segment', base({ segment_id: 'no-such-segment' }), 400, `${BAD}no segment with id 'no-such-segment'`],
    // flags
    ...['no', 0].map((v) => [`override_frequency_capping ${show(v)}`, base({ override_frequency_capping: v }), 400,
      `${BAD}'override_frequency_capping' must be a boolean`]),
    ['override_messaging_limits "yes"', base({ override_messaging_limits: 'yes' }), 400, `${BAD}'override_messaging_limits' must be a boolean`],
    ...['everyone', 5, 'OPTED_IN'].map((v) => [`recipient_subscription_state ${show(v)}`, base({ recipient_subscription_state: v }), 400,
      `${BAD}'recipient_subscription_state' must be opted_in, subscribed or all`]),
    // messages
    ['messages missing', base({ messages: undefined }), 400, "No message to send: 'messages' is required"],
    ['messages null', base({ messages: null }), 400, "No message to send: 'messages' is required"],
    ['messages empty', base({ messages: {} }), 400, "No message to send: 'messages' has no channel object"],
    ...[[], 'webhook', 5].map((v) => [`messages ${show(v)}`, base({ messages: v }), 400, `${BAD}'messages' must be an object`]),
    ...['apple_push', 'android_push', 'kindle_push', 'web_push', 'content_card', 'sms', 'whats_app'].map((ch) => [
      `messages.${ch}`, base({ messages: { [ch]: { alert: 'hi', body: 'hi' } } }), 400, `${BAD}messages.${ch}: brasa does not deliver this channel`]),
    ['messages.apple_push beside a webhook', base({ messages: { webhook: wh(), apple_push: { alert: 'hi' } } }), 400,
      `${BAD}messages.apple_push: brasa does not deliver this channel`],
    ['an unknown channel', base({ messages: { carrier_pigeon: { body: 'coo' } } }), 400, `${BAD}messages: unknown channel 'carrier_pigeon'`],
    ['email (no relay)', base({ messages: { email: { app_id: 'a', from: 'A <a@example.com>', body: 'hi' } } }), 400,
      `${BAD}messages.email: no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)`],
    ['email beside a webhook', base({ messages: { webhook: wh(), email: { app_id: 'a', from: 'A <a@example.com>', body: 'hi' } } }), 400,
      `${BAD}messages.email: no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)`],
    // the webhook object
    ...[[], 'https://example.com', 5, null].map((v) => [`webhook ${show(v)}`, base({ messages: { webhook: v } }), 400,
      `${BAD}messages.webhook must be an object`]),
    ['webhook: an unknown field', hook({ headers: { a: 'b' } }), 400, `${BAD}messages.webhook: unknown field 'headers'`],
    ...[undefined, 5, '', ['https://example.com']].map((v) => [`webhook url ${show(v)}`, hook({ url: v }), 400,
      `${BAD}messages.webhook.url is required (a string)`]),
    ...['ftp://example.com/x', 'example.com/hook', 'javascript:alert(1)', 'file:///etc/passwd', 'gopher://127.0.0.1:6379/_FLUSHALL',
        ' https://example.com'].map((v) => [`webhook url ${v}`, hook({ url: v }), 400, `${BAD}messages.webhook.url must be an http:// or https:// URL`]),
    ['webhook url longer than 2048 bytes', hook({ url: `https://example.com/${'a'.repeat(2048)}` }), 400,
      `${BAD}messages.webhook.url is longer than 2048 bytes`],
    ...[undefined, 5, null].map((v) => [`webhook request_method ${show(v)}`, hook({ request_method: v }), 400,
      `${BAD}messages.webhook.request_method is required: POST, PUT, DELETE or GET`]),
    ...['PATCH', 'post', 'HEAD', 'CONNECT', ''].map((v) => [`webhook request_method ${show(v)}`, hook({ request_method: v }), 400,
      `${BAD}messages.webhook.request_method must be POST, PUT, DELETE or GET`]),
    ...['Content-Type: text/plain', [], 5].map((v) => [`webhook request_headers ${show(v)}`, hook({ request_headers: v }), 400,
      `${BAD}messages.webhook.request_headers must be an object of strings`]),
    ...[5, true, null, ['a'], { a: 1 }].map((v) => [`webhook request_headers value ${show(v)}`, hook({ request_headers: { 'X-A': v } }),
      400, `${BAD}messages.webhook.request_headers.X-A must be a string`]),
    ...['a\nb', 'a\r\nX-Evil: 1', 'a\r'].map((v) => [`webhook request_headers value ${show(v)}`, hook({ request_headers: { 'X-A': v } }),
      400, `${BAD}messages.webhook.request_headers.X-A must not contain a line break`]),
    ...['X A', 'X:A', '', 'X\nA', 'X\tA', 'X(A)', 'Ä'].map((k) => [`webhook request_headers name ${show(k)}`,
      hook({ request_headers: { [k]: 'v' } }), 400, `${BAD}messages.webhook.request_headers: '${k}' is not a header name`]),
    ['webhook with 65 request_headers', hook({ request_headers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`X-H${i}`, 'v'])) }),
      400, `${BAD}messages.webhook.request_headers has more than 64 entries`],
    ...[5, {}, ['a'], true].map((v) => [`webhook body ${show(v)}`, hook({ body: v }), 400,
      `${BAD}messages.webhook.body must be a string (JSON escaped into it)`]),
    ['webhook body over 512 KB', hook({ body: 'x'.repeat(512 * 1024 + 1) }), 400, `${BAD}messages.webhook.body is longer than 524288 bytes`],
    ['webhook message_variation_id 5', hook({ message_variation_id: 5 }), 400, `${BAD}messages.webhook.message_variation_id must be a string`],
    // Liquid: the field, the line and the column
    ['Liquid: an unclosed output in the url', hook({ url: 'https://example.com/{{ ${user_id}' }), 400,
      /^Bad Request: messages\.webhook\.url: Liquid syntax error at line 1, column 21: .+/],
    ['Liquid: a url made of Liquid that does not parse', hook({ url: '{{ webhook_url | }}' }), 400,
      /^Bad Request: messages\.webhook\.url: Liquid syntax error at line 1, column \d+: .+/],
    ['Liquid: an unknown tag on line 3 of the body', hook({ body: '{\n  "a": 1,\n  "b": "{% frobnicate %}"\n}' }), 400,
      /^Bad Request: messages\.webhook\.body: Liquid syntax error at line 3, column 9: unknown tag 'frobnicate'$/],
    ['Liquid: an if never closed in the body', hook({ body: '{% if ${user_id} %}\nhello' }), 400,
      /^Bad Request: messages\.webhook\.body: Liquid syntax error at line \d+, column \d+: .+/],
    ['Liquid: a bad filter in a header value', hook({ request_headers: { 'X-User': 'ok', 'X-Sig': '{{ ${user_id} | | md5 }}' } }), 400,
      /^Bad Request: messages\.webhook\.request_headers\.X-Sig: Liquid syntax error at line 1, column \d+: .+/],
    // the campaign it names
    ['an unknown campaign', base({ campaign_id: 'no-such-campaign', messages: { webhook: wh({ message_variation_id: fx.A }) } }), 400,
      "Invalid Campaign ID: no campaign with id 'no-such-campaign'"],
    ['an API-triggered campaign', base({ campaign_id: fx.trig.campaign_id, messages: { webhook: wh({ message_variation_id: fx.trig.variations[0].id }) } }),
      400, `Invalid Campaign ID: campaign '${fx.trig.campaign_id}' is API-triggered: send it with /campaigns/trigger/send`],
    ['an archived campaign', base({ campaign_id: fx.apiArchived.campaign_id, messages: { webhook: wh({ message_variation_id: fx.apiArchived.variations[0].id }) } }),
      400, `Invalid Campaign ID: campaign '${fx.apiArchived.campaign_id}' is archived`],
    ['a draft campaign', base({ campaign_id: fx.apiDraft.campaign_id, messages: { webhook: wh({ message_variation_id: fx.apiDraft.variations[0].id }) } }),
      400, `Invalid Campaign ID: campaign '${fx.apiDraft.campaign_id}' is a draft`],
    ['campaign_id without message_variation_id', camp(undefined), 400,
      'Message Variant Unspecified: messages.webhook.message_variation_id is required with a campaign_id'],
    ['an unknown variation', camp('no-such-variation'), 400,
      `Invalid Message Variant: 'no-such-variation' is not a message variation of campaign '${fx.api.campaign_id}'`],
    ["another campaign's variation", camp(fx.other.variations[0].id), 400,
      `Invalid Message Variant: '${fx.other.variations[0].id}' is not a message variation of campaign '${fx.api.campaign_id}'`],
    ["the control group's id", camp(fx.control), 400,
      `Invalid Message Variant: '${fx.control}' is the campaign's control group, which gets no message`],
    ['an email variation for a webhook', camp(fx.E), 400, `Mismatched Message Type: variation '${fx.E}' is an email variation, not webhook`],
  ];
}

test('/messages/send: every refusal', async (t) => {
  const base = (extra = {}) => ({ external_user_ids: ['u1'], messages: { webhook: wh() }, ...extra });
  await table(t, srv, 'POST', '/messages/send', [
    ...messagesCases(base),
    ['a schedule', base({ schedule: LATER() }), 400, "Bad Request: unknown field 'schedule'"],
  ]);
  await t.test('a key without messages.send', () => refused(srv, 'POST', '/messages/send', base(), 403,
    "Access Denied: this API key does not have the 'messages.send' permission", { key: fx.weak }));
});

// schedule values that /messages/schedule/create, /campaigns/trigger/schedule/create
// and both updates refuse
const scheduleCases = () => [
  ...['tomorrow', 5, [], true].map((v) => [`schedule ${show(v)}`, v, "Bad Request: 'schedule' must be an object with a 'time'"]),
  ...[{}, { time: 5 }, { time: 'tomorrow at nine' }, { time: '2031-13-45T09:00:00Z' }, { time: '' }, { time: null },
      { time: '2031-02-30T09:00:00Z' }, { time: 1924992000000 }].map((v) => [
    `schedule ${show(v)}`, v, 'Bad Request: schedule.time must be an ISO 8601 time such as 2026-12-24T09:00:00Z']),
  ['a time in the past', { time: '2020-01-01T00:00:00Z' }, 'Bad Request: schedule.time is in the past'],
  ['a time a minute ago', { time: inSeconds(-60) }, 'Bad Request: schedule.time is in the past'],
  // local and optimal time: a wall-clock time, and one some zone has still to reach
  ...['2031-01-01T09:00:00+02:00', '2031-01-01T09:00:00.000-05:00'].map((time) => [`local time ${time}`,
    { in_local_time: true, time }, 'Bad Request: schedule.time: with in_local_time, give the time without a time zone (2026-12-24T09:00:00)']),
  ['optimal time with a zone', { at_optimal_time: true, in_local_time: true, time: '2031-01-01T09:00:00+01:00' },
    'Bad Request: schedule.time: with at_optimal_time, give the time without a time zone (2026-12-24T09:00:00)'],
  // 12 hours behind UTC is the last zone to reach a time
  ['local time passed in every zone', { in_local_time: true, time: inSeconds(-12 * 3600 - 60).slice(0, 19) },
    'Bad Request: in_local_time is true but time has passed in every time zone'],
  ['optimal time on a date passed everywhere', { at_optimal_time: true, time: inSeconds(-3 * 86400).slice(0, 19) },
    'Bad Request: at_optimal_time is true but the date has passed in every time zone'],
  ...[{ in_local_time: 'yes' }, { at_optimal_time: 1 }].map((v) => [`schedule ${show(v)}`, { time: inSeconds(3600), ...v },
    'Bad Request: schedule.in_local_time and at_optimal_time must be booleans']),
  ['an unknown schedule field', { time: inSeconds(3600), timezone: 'Europe/Paris' }, "Bad Request: schedule: unknown field 'timezone'"],
];

test('/messages/schedule/create: every refusal', async (t) => {
  const base = (extra = {}) => ({ external_user_ids: ['u1'], messages: { webhook: wh() }, schedule: LATER(), ...extra });
  await table(t, srv, 'POST', '/messages/schedule/create', [
    ...messagesCases(base),
    ['no schedule', base({ schedule: undefined }), 400, "Bad Request: 'schedule' is required"],
    ['schedule null', base({ schedule: null }), 400, "Bad Request: 'schedule' is required"],
    ...scheduleCases().map(([name, s, msg]) => [name, base({ schedule: s }), 400, msg]),
  ]);
  await t.test('a key without messages.schedule.create', () => refused(srv, 'POST', '/messages/schedule/create', base(), 403,
    "Access Denied: this API key does not have the 'messages.schedule.create' permission", { key: fx.weak }));
});

test('/messages/schedule/update: every refusal', async (t) => {
  const id = () => fx.sPending.schedule_id;
  const upd = (extra) => ({ schedule_id: id(), schedule: LATER(), ...extra });
  await table(t, srv, 'POST', '/messages/schedule/update', [
    ['the body is an array', raw('[]'), 400, 'Bad Request: the body must be a JSON object'],
    ['no body', undefined, 400, 'Bad Request: the body must be a JSON object'],
    ...[undefined, 5, '', ['x'], 'x'.repeat(200)].map((v) => [`schedule_id ${show(v)}`.slice(0, 40), upd({ schedule_id: v }), 400,
      "Bad Request: 'schedule_id' is required (a string)"]),
    ['neither schedule nor messages', { schedule_id: id() }, 400, "Bad Request: give a 'schedule', 'messages', or both"],
    ['schedule and messages null', { schedule_id: id(), schedule: null, messages: null }, 400, "Bad Request: give a 'schedule', 'messages', or both"],
    ['an unknown field', upd({ foo: 1 }), 400, "Bad Request: unknown field 'foo'"],
    ['campaign_id (a trigger field)', upd({ campaign_id: fx.api.campaign_id }), 400, "Bad Request: unknown field 'campaign_id'"],
    ['external_user_ids (not changeable)', upd({ external_user_ids: ['u2'] }), 400, "Bad Request: unknown field 'external_user_ids'"],
    ['an unknown schedule', upd({ schedule_id: 'no-such-schedule' }), 400, "Bad Request: no schedule with id 'no-such-schedule'"],
    ['a schedule that fired', upd({ schedule_id: fx.sFired.schedule_id }), 400,
      `Bad Request: schedule '${fx.sFired.schedule_id}' has already been sent`],
    ['a deleted schedule', upd({ schedule_id: fx.sDeleted.schedule_id }), 400,
      `Bad Request: schedule '${fx.sDeleted.schedule_id}' has already been deleted`],
    ['a trigger schedule', upd({ schedule_id: fx.tPending.schedule_id }), 400,
      `Bad Request: schedule '${fx.tPending.schedule_id}' was made with /campaigns/trigger/schedule/create`],
    ['a schedule whose campaign was archived since', upd({ schedule_id: fx.sLater.schedule_id }), 400,
      `Invalid Campaign ID: campaign '${fx.apiLater.campaign_id}' is archived`],
    ...scheduleCases().map(([name, s, msg]) => [name, upd({ schedule: s }), 400, msg]),
    ['messages empty', upd({ messages: {} }), 400, "No message to send: 'messages' has no channel object"],
    ['messages an array', upd({ messages: [] }), 400, "Bad Request: 'messages' must be an object"],
    ['messages.email (no relay)', upd({ messages: { email: { app_id: 'a', from: 'A <a@example.com>', body: 'hi' } } }), 400,
      'Bad Request: messages.email: no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)'],
    ['messages.sms', upd({ messages: { sms: { body: 'hi' } } }), 400, 'Bad Request: messages.sms: brasa does not deliver this channel'],
    ['a webhook with a bad url', upd({ messages: { webhook: wh({ url: 'ftp://x', message_variation_id: fx.A }) } }), 400,
      'Bad Request: messages.webhook.url must be an http:// or https:// URL'],
    ['a webhook with a Liquid error', upd({ messages: { webhook: wh({ body: 'ok\n{{ a | }}', message_variation_id: fx.A }) } }), 400,
      /^Bad Request: messages\.webhook\.body: Liquid syntax error at line 2, column \d+: .+/],
    ['a webhook without message_variation_id (the schedule has a campaign)', upd({ messages: { webhook: wh() } }), 400,
      'Message Variant Unspecified: messages.webhook.message_variation_id is required with a campaign_id'],
    ['an unknown variation', upd({ messages: { webhook: wh({ message_variation_id: 'no-such-variation' }) } }), 400,
      `Invalid Message Variant: 'no-such-variation' is not a message variation of campaign '${fx.api.campaign_id}'`],
    ["the control group's id", upd({ messages: { webhook: wh({ message_variation_id: fx.control }) } }), 400,
      `Invalid Message Variant: '${fx.control}' is the campaign's control group, which gets no message`],
    ['an email variation for a webhook', upd({ messages: { webhook: wh({ message_variation_id: fx.E }) } }), 400,
      `Mismatched Message Type: variation '${fx.E}' is an email variation, not webhook`],
  ]);
  await t.test('a key without messages.schedule.update', () => refused(srv, 'POST', '/messages/schedule/update', upd(), 403,
    "Access Denied: this API key does not have the 'messages.schedule.update' permission", { key: fx.weak }));
});

test('/messages/schedule/delete: every refusal', async (t) => {
  await table(t, srv, 'POST', '/messages/schedule/delete', [
    ['the body is an array', raw('[]'), 400, 'Bad Request: the body must be a JSON object'],
    ['no body', undefined, 400, 'Bad Request: the body must be a JSON object'],
    ...[undefined, 5, '', null].map((v) => [`schedule_id ${show(v)}`, { schedule_id: v }, 400,
      "Bad Request: 'schedule_id' is required (a string)"]),
    ['an unknown field', { schedule_id: fx.sPending.schedule_id, campaign_id: fx.api.campaign_id }, 400, "Bad Request: unknown field 'campaign_id'"],
    ['an unknown schedule', { schedule_id: 'no-such-schedule' }, 400, "Bad Request: no schedule with id 'no-such-schedule'"],
    ['a schedule that fired', { schedule_id: fx.sFired.schedule_id }, 400, `Bad Request: schedule '${fx.sFired.schedule_id}' has already been sent`],
    ['a deleted schedule', { schedule_id: fx.sDeleted.schedule_id }, 400,
      `Bad Request: schedule '${fx.sDeleted.schedule_id}' has already been deleted`],
    ['a trigger schedule', { schedule_id: fx.tPending.schedule_id }, 400,
      `Bad Request: schedule '${fx.tPending.schedule_id}' was made with /campaigns/trigger/schedule/create`],
  ]);
  await t.test('a key without messages.schedule.delete', () => refused(srv, 'POST', '/messages/schedule/delete',
    { schedule_id: fx.sPending.schedule_id }, 403,
    "Access Denied: this API key does not have the 'messages.schedule.delete' permission", { key: fx.weak }));
});

test('/messages/scheduled_broadcasts: every refusal', async (t) => {
  for (const [name, q, msg] of [
    ['no end_time', '', "Bad Request: 'end_time' is required (an ISO 8601 time)"],
    ['an empty end_time', '?end_time=', "Bad Request: 'end_time' is required (an ISO 8601 time)"],
    ['end_time not a time', '?end_time=next%20week', "Bad Request: 'end_time' must be an ISO 8601 time"],
    ['end_time a number', '?end_time=1924992000', "Bad Request: 'end_time' must be an ISO 8601 time"],
    ['end_time with a bad month', '?end_time=2031-13-01T00:00:00Z', "Bad Request: 'end_time' must be an ISO 8601 time"],
  ]) await t.test(name, () => refused(srv, 'GET', `/messages/scheduled_broadcasts${q}`, undefined, 400, msg));
  await t.test('a key without messages.schedule_broadcasts', () => refused(srv, 'GET',
    `/messages/scheduled_broadcasts?end_time=${inSeconds(86400)}`, undefined, 403,
    "Access Denied: this API key does not have the 'messages.schedule_broadcasts' permission", { key: fx.weak }));
});

// ---- /campaigns/trigger/* --------------------------------------------------

function triggerCases(base) {
  const BAD = 'Bad Request: ';
  const rcp = (r) => base({ recipients: [r] });
  const many = (n) => Array.from({ length: n }, (_, i) => ({ external_user_id: `u${i}` }));
  return [
    ['the body is an array', raw('[{"campaign_id":"x"}]'), 400, `${BAD}the body must be a JSON object`],
    ['no body', undefined, 400, `${BAD}the body must be a JSON object`],
    ['invalid JSON', raw('{"campaign_id": "x", recipients: []}'), 400, /^Invalid JSON in request body: .+ at byte \d+$/],
    ...['foo', 'messages', 'external_user_ids', 'user_aliases', 'segment_id', 'override_frequency_capping', 'context'].map((k) => [
      `the field ${k}`, base({ [k]: k === 'external_user_ids' ? ['u1'] : {} }), 400, `${BAD}unknown field '${k}'`]),
    // the campaign
    ['no campaign_id', base({ campaign_id: undefined }), 400, "Invalid Campaign ID: 'campaign_id' is required"],
    ['campaign_id null', base({ campaign_id: null }), 400, "Invalid Campaign ID: 'campaign_id' is required"],
    ...[5, '', 'c'.repeat(65), {}].map((v) => [`campaign_id ${show(v)}`, base({ campaign_id: v }), 400,
      `${BAD}'campaign_id' must be a string of 1 to 64 bytes`]),
    ['an unknown campaign', base({ campaign_id: 'no-such-campaign' }), 400, "Invalid Campaign ID: no campaign with id 'no-such-campaign'"],
    ['an API campaign', base({ campaign_id: fx.api.campaign_id }), 400,
      `Invalid Campaign ID: campaign '${fx.api.campaign_id}' is not an API-triggered campaign`],
    ['an archived campaign', base({ campaign_id: fx.trigArchived.campaign_id }), 400,
      `Invalid Campaign ID: campaign '${fx.trigArchived.campaign_id}' is archived`],
    ['a draft campaign', base({ campaign_id: fx.trigDraft.campaign_id }), 400,
      `Invalid Campaign ID: campaign '${fx.trigDraft.campaign_id}' is a draft`],
    ['an archived campaign, with a user to create', base({ campaign_id: fx.trigArchived.campaign_id,
      recipients: [{ external_user_id: 'new-user', send_to_existing_only: false, attributes: { team: 'z' } }] }), 400,
      `Invalid Campaign ID: campaign '${fx.trigArchived.campaign_id}' is archived`],
    // send_id
    ...[5, '', 's'.repeat(65)].map((v) => [`send_id ${show(v)}`, base({ send_id: v }), 400,
      `${BAD}'send_id' must be a string of 1 to 64 ASCII characters`]),
    ['send_id not ASCII', base({ send_id: '週末' }), 400, `${BAD}'send_id' must be printable ASCII`],
    // trigger_properties
    ...['x', [], 5, true].map((v) => [`trigger_properties ${show(v)}`, base({ trigger_properties: v }), 400,
      `${BAD}'trigger_properties' must be an object`]),
    ['trigger_properties over 50 KB', base({ trigger_properties: bigObject(51 * 1024) }), 400, `${BAD}'trigger_properties' is larger than 50 KB`],
    // broadcast, audience, recipients
    ...['yes', 1].map((v) => [`broadcast ${show(v)}`, base({ broadcast: v }), 400, `${BAD}'broadcast' must be a boolean`]),
    ['broadcast with recipients', base({ broadcast: true }), 400,
      `${BAD}'broadcast' true sends to a segment or audience and cannot take a recipient list`],
    ['no recipients and no broadcast', base({ recipients: undefined }), 400,
      'No Recipients: give recipients (external_user_ids, user_aliases or recipients), or broadcast: true with a segment_id or audience'],
    ['an audience without broadcast', base({ recipients: undefined, audience: { custom_attribute: { custom_attribute_name: 'team', comparison: 'exists' } } }),
      400, 'No Recipients: give recipients (external_user_ids, user_aliases or recipients), or broadcast: true with a segment_id or audience'],
    ['an empty recipients list', base({ recipients: [] }), 400, 'No Recipients: the recipient list is empty'],
    ['broadcast, and the campaign has no segment', base({ recipients: undefined, broadcast: true }), 400,
      'No Recipients: a broadcast needs a segment_id or an audience (the campaign has no segment)'],
    ['a bad audience', base({ recipients: undefined, broadcast: true, audience: { AND: [] } }), 400,
      "Bad Request: audience: 'AND' must be a non-empty array of filters and groups"],
    ['51 recipients', base({ recipients: many(51) }), 400, 'The max number of ids per request was exceeded: at most 50 recipients'],
    ...['u1', { external_user_id: 'u1' }, 5].map((v) => [`recipients ${show(v)}`, base({ recipients: v }), 400,
      `${BAD}'recipients' must be an array of recipient objects`]),
    ...[5, 'u1', null, []].map((v) => [`recipients [${show(v)}]`, base({ recipients: [v] }), 400, `${BAD}recipients[0] must be an object`]),
    ['the second recipient is not an object', base({ recipients: [{ external_user_id: 'u1' }, 'u2'] }), 400, `${BAD}recipients[1] must be an object`],
    ...[{}, { trigger_properties: { a: 1 } }, { external_user_id: 'u1', braze_id: 'b' }, { external_user_id: 'u1', email: 'a@example.com', prioritization: ['identified'] },
        { user_alias: { alias_name: 'a', alias_label: 'l' }, braze_id: 'b' }].map((r) => [
      `a recipient ${show(r)}`, rcp(r), 400,
      `${BAD}recipients[0] needs exactly one of external_user_id, user_alias, braze_id or email`]),
    ['a recipient with an unknown field', rcp({ external_user_id: 'u1', name: 'x' }), 400, `${BAD}recipients[0]: unknown field 'name'`],
    ...[['external_user_id', 5], ['external_user_id', ''], ['braze_id', 5], ['braze_id', ''], ['email', ['a@example.com']],
        ['external_user_id', 'x'.repeat(513)]].map(([k, v]) => [
      `recipient ${k} ${show(v)}`, rcp({ [k]: v, ...(k === 'email' ? { prioritization: ['identified'] } : {}) }), 400,
      `${BAD}recipients[0].${k} must be a non-empty string`]),
    ...['a', { alias_name: 'a' }, { alias_name: 'a', alias_label: 5 }].map((v) => [`recipient user_alias ${show(v)}`,
      rcp({ user_alias: v }), 400, `${BAD}recipients[0].user_alias must be an object with string alias_name and alias_label`]),
    ...[undefined, 'identified', []].map((p) => [`email with prioritization ${show(p)}`, rcp({ email: 'a@example.com', prioritization: p }),
      400, `${BAD}recipients[0].prioritization (an array) is required with 'email'`]),
    ['email with prioritization [5]', rcp({ email: 'a@example.com', prioritization: [5] }), 400,
      `${BAD}recipients[0].prioritization must be an array of strings`],
    ['email with an unknown prioritization', rcp({ email: 'a@example.com', prioritization: ['identified', 'newest'] }), 400,
      `${BAD}recipients[0].prioritization: 'newest' is not identified, unidentified, most_recently_updated or least_recently_updated`],
    ...['x', [], 5].map((v) => [`recipient trigger_properties ${show(v)}`, rcp({ external_user_id: 'u1', trigger_properties: v }), 400,
      `${BAD}'recipients[0].trigger_properties' must be an object`]),
    ['recipient trigger_properties over 50 KB', rcp({ external_user_id: 'u1', trigger_properties: bigObject(51 * 1024) }), 400,
      `${BAD}'recipients[0].trigger_properties' is larger than 50 KB`],
    ...['false', 0].map((v) => [`send_to_existing_only ${show(v)}`, rcp({ external_user_id: 'u1', send_to_existing_only: v }), 400,
      `${BAD}recipients[0].send_to_existing_only must be a boolean`]),
    ['send_to_existing_only false without attributes', rcp({ external_user_id: 'new-user', send_to_existing_only: false }), 400,
      `${BAD}recipients[0]: 'attributes' is required when send_to_existing_only is false`],
    ...[['user_alias', { alias_name: 'a', alias_label: 'l' }], ['braze_id', 'b'], ['email', 'a@example.com']].map(([k, v]) => [
      `send_to_existing_only false with ${k}`, rcp({ [k]: v, ...(k === 'email' ? { prioritization: ['identified'] } : {}),
                                                    send_to_existing_only: false, attributes: { team: 'z' } }), 400,
      `${BAD}recipients[0]: send_to_existing_only false creates users by external_user_id only`]),
    ...['team z', [], 5].map((v) => [`recipient attributes ${show(v)}`, rcp({ external_user_id: 'u1', attributes: v }), 400,
      `${BAD}recipients[0].attributes must be an object`]),
    ['recipient attributes the tracking refuses', rcp({ external_user_id: 'new-user', send_to_existing_only: false, attributes: { team: { $add: 5 } } }), 400,
      /^Bad Request: recipients' attributes: .+/],
    // attachments
    ...['x', {}, 5].map((v) => [`attachments ${show(v)}`, base({ attachments: v }), 400, `${BAD}'attachments' must be an array`]),
    ['attachments with broadcast', base({ recipients: undefined, broadcast: true, attachments: [] }), 400,
      `${BAD}'attachments' cannot be used with broadcast`],
    ['attachment without a url', base({ attachments: [{ file_name: 'a' }] }), 400,
      `${BAD}attachments[0].url must be an http:// or https:// URL`],
    ['attachment with a path in its name', base({ attachments: [{ file_name: '../etc/passwd', url: 'https://example.com/a' }] }), 400,
      `${BAD}attachments[0].file_name must be a name of 1 to 255 characters without an extension, '/' or '\\'`],
    ['attachment with an unknown field', base({ attachments: [{ file_name: 'a', url: 'https://example.com/a', size: 1 }] }), 400,
      `${BAD}attachments[0]: unknown field 'size'`],
    ['eleven attachments', base({ attachments: Array.from({ length: 11 }, () => ({ file_name: 'a', url: 'https://example.com/a' })) }), 400,
      `${BAD}attachments has more than 10 files`],
  ];
}

test('/campaigns/trigger/send: every refusal', async (t) => {
  const base = (extra = {}) => ({ campaign_id: fx.trig.campaign_id, recipients: [{ external_user_id: 'u1' }], ...extra });
  await table(t, srv, 'POST', '/campaigns/trigger/send', [
    ...triggerCases(base),
    ['a schedule', base({ schedule: LATER() }), 400, "Bad Request: unknown field 'schedule'"],
  ]);
  await t.test('a key without campaigns.trigger.send', () => refused(srv, 'POST', '/campaigns/trigger/send', base(), 403,
    "Access Denied: this API key does not have the 'campaigns.trigger.send' permission", { key: fx.weak }));
});

test('/campaigns/trigger/schedule/create: every refusal', async (t) => {
  const base = (extra = {}) => ({ campaign_id: fx.trig.campaign_id, recipients: [{ external_user_id: 'u1' }], schedule: LATER(), ...extra });
  await table(t, srv, 'POST', '/campaigns/trigger/schedule/create', [
    ...triggerCases(base),
    ['no schedule', base({ schedule: undefined }), 400, "Bad Request: 'schedule' is required"],
    ...scheduleCases().map(([name, s, msg]) => [name, base({ schedule: s }), 400, msg]),
  ]);
  await t.test('a key without campaigns.trigger.schedule.create', () => refused(srv, 'POST', '/campaigns/trigger/schedule/create', base(), 403,
    "Access Denied: this API key does not have the 'campaigns.trigger.schedule.create' permission", { key: fx.weak }));
});

test('/campaigns/trigger/schedule/update: every refusal', async (t) => {
  const upd = (extra = {}) => ({ campaign_id: fx.trig.campaign_id, schedule_id: fx.tPending.schedule_id, schedule: LATER(), ...extra });
  await table(t, srv, 'POST', '/campaigns/trigger/schedule/update', [
    ['the body is an array', raw('[]'), 400, 'Bad Request: the body must be a JSON object'],
    ...[undefined, 5, ''].map((v) => [`schedule_id ${show(v)}`, upd({ schedule_id: v }), 400, "Bad Request: 'schedule_id' is required (a string)"]),
    ...[undefined, 5, null].map((v) => [`campaign_id ${show(v)}`, upd({ campaign_id: v }), 400, "Invalid Campaign ID: 'campaign_id' is required"]),
    ['no schedule', upd({ schedule: undefined }), 400, "Bad Request: 'schedule' is required"],
    ['messages (not for a trigger schedule)', upd({ messages: { webhook: wh() } }), 400, "Bad Request: unknown field 'messages'"],
    ['recipients (not changeable)', upd({ recipients: [{ external_user_id: 'u2' }] }), 400, "Bad Request: unknown field 'recipients'"],
    ['trigger_properties (not changeable)', upd({ trigger_properties: { x: 1 } }), 400, "Bad Request: unknown field 'trigger_properties'"],
    ['an unknown schedule', upd({ schedule_id: 'no-such-schedule' }), 400, "Bad Request: no schedule with id 'no-such-schedule'"],
    ['a /messages schedule', upd({ schedule_id: fx.sPending.schedule_id, campaign_id: fx.api.campaign_id }), 400,
      `Bad Request: schedule '${fx.sPending.schedule_id}' was made with /messages/schedule/create`],
    ['another campaign', upd({ campaign_id: fx.trigOk.campaign_id }), 400, 'Invalid Campaign ID: the schedule does not belong to that campaign'],
    ['an unknown campaign', upd({ campaign_id: 'no-such-campaign' }), 400, 'Invalid Campaign ID: the schedule does not belong to that campaign'],
    ['a schedule that fired', upd({ campaign_id: fx.trigOk.campaign_id, schedule_id: fx.tFired.schedule_id }), 400,
      `Bad Request: schedule '${fx.tFired.schedule_id}' has already been sent`],
    ['a deleted schedule', upd({ schedule_id: fx.tDeleted.schedule_id }), 400,
      `Bad Request: schedule '${fx.tDeleted.schedule_id}' has already been deleted`],
    ['a schedule whose campaign was archived since', upd({ campaign_id: fx.trigLater.campaign_id, schedule_id: fx.tLater.schedule_id }), 400,
      `Invalid Campaign ID: campaign '${fx.trigLater.campaign_id}' is archived`],
    ...scheduleCases().map(([name, s, msg]) => [name, upd({ schedule: s }), 400, msg]),
  ]);
  await t.test('a key without campaigns.trigger.schedule.update', () => refused(srv, 'POST', '/campaigns/trigger/schedule/update', upd(), 403,
    "Access Denied: this API key does not have the 'campaigns.trigger.schedule.update' permission", { key: fx.weak }));
});

test('/campaigns/trigger/schedule/delete: every refusal', async (t) => {
  const del = (extra = {}) => ({ campaign_id: fx.trig.campaign_id, schedule_id: fx.tPending.schedule_id, ...extra });
  await table(t, srv, 'POST', '/campaigns/trigger/schedule/delete', [
    ['the body is an array', raw('[]'), 400, 'Bad Request: the body must be a JSON object'],
    ['no body', undefined, 400, 'Bad Request: the body must be a JSON object'],
    ...[undefined, 5, ''].map((v) => [`schedule_id ${show(v)}`, del({ schedule_id: v }), 400, "Bad Request: 'schedule_id' is required (a string)"]),
    ...[undefined, 5, []].map((v) => [`campaign_id ${show(v)}`, del({ campaign_id: v }), 400, "Invalid Campaign ID: 'campaign_id' is required"]),
    ['an unknown field', del({ schedule: LATER() }), 400, "Bad Request: unknown field 'schedule'"],
    ['an unknown schedule', del({ schedule_id: 'no-such-schedule' }), 400, "Bad Request: no schedule with id 'no-such-schedule'"],
    ['a /messages schedule', del({ schedule_id: fx.sPending.schedule_id, campaign_id: fx.api.campaign_id }), 400,
      `Bad Request: schedule '${fx.sPending.schedule_id}' was made with /messages/schedule/create`],
    ['another campaign', del({ campaign_id: fx.trigOk.campaign_id }), 400, 'Invalid Campaign ID: the schedule does not belong to that campaign'],
    ['a schedule that fired', del({ campaign_id: fx.trigOk.campaign_id, schedule_id: fx.tFired.schedule_id }), 400,
      `Bad Request: schedule '${fx.tFired.schedule_id}' has already been sent`],
    ['a deleted schedule', del({ schedule_id: fx.tDeleted.schedule_id }), 400,
      `Bad Request: schedule '${fx.tDeleted.schedule_id}' has already been deleted`],
  ]);
  await t.test('a key without campaigns.trigger.schedule.delete', () => refused(srv, 'POST', '/campaigns/trigger/schedule/delete', del(), 403,
    "Access Denied: this API key does not have the 'campaigns.trigger.schedule.delete' permission", { key: fx.weak }));
});

test('/admin/dispatches/{id}: unknown ids, permission', async (t) => {
  await t.test('an unknown id', () => refused(srv, 'GET', '/admin/dispatches/0123456789abcdef01234567', undefined, 404,
    "Not Found: no dispatch with id '0123456789abcdef01234567'"));
  await t.test('a word', () => refused(srv, 'GET', '/admin/dispatches/nope', undefined, 404, "Not Found: no dispatch with id 'nope'"));
  await t.test('longer than a dispatch id', () => refused(srv, 'GET', `/admin/dispatches/${'a'.repeat(25)}`, undefined, 404,
    'Not Found: no such dispatch'));
  await t.test("a schedule's id", () => refused(srv, 'GET', `/admin/dispatches/${fx.sPending.schedule_id}`, undefined, 404,
    /^Not Found: no (such dispatch|dispatch with id '.*')$/));
  await t.test('the dispatch id of a schedule that has not fired', () => refused(srv, 'GET', `/admin/dispatches/${fx.sPending.dispatch_id}`,
    undefined, 404, `Not Found: no dispatch with id '${fx.sPending.dispatch_id}'`));
  await t.test('a key without brasa.marketing', () => refused(srv, 'GET', `/admin/dispatches/${fx.sFired.dispatch_id}`, undefined, 403,
    "Access Denied: this API key does not have the 'brasa.marketing' permission", { key: fx.weak }));
});

test('a schedule whose campaign is archived before its time sends nothing, and makes no dispatch', async () => {
  const c = await campaign({ name: 'Archived before it fires', kind: 'api_triggered',
    variations: [{ name: 'T', channel: 'webhook', content: wh() }] });
  const s = await created(await post('/campaigns/trigger/schedule/create', {
    campaign_id: c.campaign_id, recipients: [{ external_user_id: 'u1' }], schedule: { time: inSeconds(1) } }));
  const res = await admin('POST', `/admin/campaigns/${c.campaign_id}`, { archived: true });
  assert.equal(res.status, 200, res.text);
  await new Promise((r) => setTimeout(r, 2500));
  h.assertError(await admin('GET', `/admin/dispatches/${s.dispatch_id}`), 404, `Not Found: no dispatch with id '${s.dispatch_id}'`);
});

// Not refusals: what the checks above must still let through.

test("recipients' attributes are applied as /users/track would: external_user_id creates, email is an attribute", async () => {
  await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'u3', email: 'u3@example.com' }] });
  const before = okRx.got.length;
  const res = await post('/campaigns/trigger/send', { campaign_id: fx.trigOk.campaign_id, recipients: [
    { external_user_id: 'made-by-send', send_to_existing_only: false, attributes: { team: 'c', email: 'made@example.com' } },
    { email: 'u3@example.com', prioritization: ['identified'], attributes: { team: 'd' } },
  ] });
  assert.equal(res.status, 201, res.text);
  await okRx.wait(before + 2);
  const made = await h.usersApi(srv).user('made-by-send', ['email', 'custom_attributes']);
  assert.deepEqual(made, { email: 'made@example.com', custom_attributes: { team: 'c' } });
  const u3 = await h.usersApi(srv).user('u3', ['custom_attributes']);
  assert.deepEqual(u3.custom_attributes, { team: 'd' }, 'the prioritization is not an attribute');
});

test('legacy clients: api_key in the body authenticates, and is no unknown field', async () => {
  const legacy = (p, body) => h.request(srv, 'POST', p, { body: { api_key: srv.key, ...body } });
  let res = await legacy('/messages/schedule/create', { external_user_ids: ['u1'], schedule: LATER(), messages: { webhook: wh() } });
  assert.equal(res.status, 201, res.text);
  const s = res.json.schedule_id;
  res = await legacy('/messages/schedule/update', { schedule_id: s, schedule: LATER() });
  assert.equal(res.status, 201, res.text);
  res = await legacy('/messages/schedule/delete', { schedule_id: s });
  assert.equal(res.status, 201, res.text);
  res = await legacy('/campaigns/trigger/schedule/create', { campaign_id: fx.trig.campaign_id, recipients: [{ external_user_id: 'u1' }],
                                                            schedule: LATER() });
  assert.equal(res.status, 201, res.text);
  const t = res.json.schedule_id;
  res = await legacy('/campaigns/trigger/schedule/update', { campaign_id: fx.trig.campaign_id, schedule_id: t, schedule: LATER() });
  assert.equal(res.status, 201, res.text);
  res = await legacy('/campaigns/trigger/schedule/delete', { campaign_id: fx.trig.campaign_id, schedule_id: t });
  assert.equal(res.status, 201, res.text);
  res = await legacy('/sends/id/create', { campaign_id: fx.api.campaign_id, send_id: 'legacy' });
  assert.equal(res.status, 201, res.text);
  // and a send to nobody that exists: accepted, delivers nothing
  res = await legacy('/messages/send', { external_user_ids: ['nobody-at-all'], messages: { webhook: wh() } });
  assert.equal(res.status, 201, res.text);
});

// Last: after every refusal above, the receiver they all pointed at got nothing.
test('no refused request sent anything', async () => {
  const got = await rx.quiet(1500);
  assert.deepEqual(got.map((g) => `${g.method} ${g.url}`), []);
  assert.deepEqual([...new Set(okRx.got.map((g) => g.url))], ['/fired'], 'only what was meant to be sent was');
});
