// campaign_schedules.test.js -- the scheduled sends of a saved campaign in
// a real browser: an API-triggered webhook campaign scheduled for one user,
// moved and cancelled (the Braze API sees each change), a time in the past
// and bad trigger properties refused in words, one in users' local time,
// one that fires a few seconds later and reaches the webhook receiver; an
// API campaign scheduled for a segment with its form's message (segment
// names with script shown as text); an API-triggered campaign for its
// segment; a read-only operator who sees the list and no buttons.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const b = require('./harness.js');
const { h } = b;
const { webhookReceiver } = require('../e2e/webhook_receiver.js');

async function createCampaign(srv, body) {
  const r = await h.request(srv, 'POST', '/admin/campaigns', { key: srv.key, body });
  assert.equal(r.status, 201, r.text);
  return r.json.campaign_id;
}

// What the Braze API lists as scheduled (a year ahead).
async function scheduledNow(srv) {
  const end = new Date(Date.now() + 366 * 86400000).toISOString();
  const r = await h.request(srv, 'GET', `/messages/scheduled_broadcasts?end_time=${encodeURIComponent(end)}`, { key: srv.key });
  assert.equal(r.status, 200, r.text);
  return r.json.scheduled_broadcasts;
}

// A time ms from now, whole seconds, as the browser's datetime-local field
// takes it, as ISO, and as the page shows it.
function timeIn(page, ms) {
  return page.evaluate((ahead) => {
    const d = new Date(Math.floor((Date.now() + ahead) / 1000) * 1000);
    const value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    return { value, iso: d.toISOString(), shown: d.toLocaleString() };
  }, ms);
}

const HOUR = 3600000;
const XSS = '<img src=x onerror=window.__xss=1>';

test('schedule an API-triggered campaign for one user, move it, cancel it, and let one fire', async () => {
  const t = await b.start();
  const rx = await webhookReceiver();
  try {
    const { page, srv } = t;
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ana', first_name: 'Ana' }] });
    const id = await createCampaign(srv, { name: 'Reminder', kind: 'api_triggered',
      variations: [{ name: 'A', channel: 'webhook',
        content: { url: rx.url('/hook/{{${user_id}}}'), request_method: 'POST', body: 'Hi {{${first_name}}} {{api_trigger_properties.${when}}}' } }] });
    await b.signIn(page, t.base);
    await page.goto(`${t.base}/dashboard/campaigns/${id}`);
    await page.getByRole('heading', { name: 'Reminder', level: 1 }).waitFor();
    const sched = page.getByRole('region', { name: 'Scheduled sends' });
    await sched.getByText('Nothing scheduled in the next year: schedule a send with the form above.').waitFor();
    const form = sched.getByRole('form', { name: 'Schedule a send' });
    // No segment on the campaign: one user is the only choice.
    assert.equal(await form.getByLabel('Send to').count(), 0);

    // Refusals in words: a time in the past (the server's), no user, bad properties.
    await form.getByLabel('Send at').fill((await timeIn(page, -HOUR)).value);
    await form.getByLabel('User external id').fill('ana');
    await form.getByRole('button', { name: 'Schedule' }).click();
    await sched.getByRole('alert').filter({ hasText: 'Bad Request: schedule.time is in the past' }).waitFor();
    await form.getByLabel('Send at').fill((await timeIn(page, HOUR)).value);
    await form.getByLabel('User external id').fill('');
    await form.getByRole('button', { name: 'Schedule' }).click();
    await sched.getByRole('alert').filter({ hasText: 'Give the external id of the user to send to.' }).waitFor();
    await form.getByLabel('User external id').fill('ana');
    await form.getByLabel('Trigger properties (optional)').fill('[1]');
    await form.getByRole('button', { name: 'Schedule' }).click();
    await sched.getByRole('alert').filter({ hasText: 'Trigger properties: give a JSON object' }).waitFor();
    assert.deepEqual(await scheduledNow(srv), []);

    // An hour ahead, for ana: listed here and by the Braze API.
    const first = await timeIn(page, HOUR);
    await form.getByLabel('Send at').fill(first.value);
    await form.getByLabel('Trigger properties (optional)').fill('{"when": "soon"}');
    await form.getByRole('button', { name: 'Schedule' }).click();
    await page.getByText('Send scheduled.').waitFor();
    assert.equal(await sched.getByRole('alert').count(), 0);
    const row = sched.getByRole('row').filter({ hasText: first.shown });
    await row.waitFor();
    let [s] = await scheduledNow(srv);
    assert.equal(s.id, id);
    assert.equal(Date.parse(s.next_send_time), Date.parse(first.iso));
    await row.locator('code', { hasText: s.schedule_id }).waitFor();
    assert.equal(await form.getByLabel('Send at').inputValue(), '');

    // Moved to two hours ahead; a past time is refused there too.
    await row.getByRole('button', { name: 'Change time' }).click();
    const newTime = sched.getByLabel('New time');
    // A browser writes a time on a whole minute without its ":00".
    assert.equal((await newTime.inputValue()).replace(/:00$/, ''), first.value.replace(/:00$/, ''));
    await newTime.fill((await timeIn(page, -HOUR)).value);
    await sched.getByRole('button', { name: 'Save time' }).click();
    await sched.getByRole('alert').filter({ hasText: 'Bad Request: schedule.time is in the past' }).waitFor();
    const second = await timeIn(page, 2 * HOUR);
    await newTime.fill(second.value);
    await sched.getByRole('button', { name: 'Save time' }).click();
    await page.getByText('Scheduled send moved.').waitFor();
    await sched.getByRole('row').filter({ hasText: second.shown }).getByRole('button', { name: 'Change time' }).waitFor();
    assert.equal(await sched.getByRole('row').filter({ hasText: first.shown }).count(), 0);
    [s] = await scheduledNow(srv);
    assert.equal(Date.parse(s.next_send_time), Date.parse(second.iso));
    await b.shot(page, 'campaign-schedules');

    // Cancelled, once confirmed: a dismissed confirmation keeps it.
    page.once('dialog', (dlg) => dlg.dismiss());
    await sched.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await scheduledNow(srv)).length, 1);
    page.once('dialog', (dlg) => dlg.accept());
    await sched.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('Scheduled send cancelled.').waitFor();
    await sched.getByText('Nothing scheduled in the next year').waitFor();
    assert.deepEqual(await scheduledNow(srv), []);

    // In users' own time zones: the wall-clock time, kept when moved.
    const tomorrow = await timeIn(page, 24 * HOUR);
    await form.getByLabel('Send at').fill(tomorrow.value);
    await form.getByLabel('User external id').fill('ana');
    await form.getByLabel("In each user's local time").check();
    await form.getByRole('button', { name: 'Schedule' }).click();
    await page.getByText('Send scheduled.').waitFor();
    await sched.getByRole('cell', { name: 'local_time_zones' }).waitFor();
    await sched.getByRole('button', { name: 'Change time' }).click();
    await sched.getByLabel("New time (users' local time)").fill((await timeIn(page, 48 * HOUR)).value);
    await sched.getByRole('button', { name: 'Save time' }).click();
    await page.getByText('Scheduled send moved.').waitFor();
    [s] = await scheduledNow(srv);
    assert.equal(s.schedule_type, 'local_time_zones');
    assert.ok(Date.parse(s.next_send_time) > Date.now() + 24 * HOUR, s.next_send_time);
    page.once('dialog', (dlg) => dlg.accept());
    await sched.getByRole('button', { name: 'Cancel' }).click();
    await sched.getByText('Nothing scheduled in the next year').waitFor();

    // One 10 s ahead (room for a slow browser to submit it) fires: the
    // receiver gets it, rendered.
    await form.getByLabel('Send at').fill((await timeIn(page, 10000)).value);
    await form.getByLabel('User external id').fill('ana');
    await form.getByLabel('Trigger properties (optional)').fill('{"when": "now"}');
    await form.getByRole('button', { name: 'Schedule' }).click();
    await page.getByText('Send scheduled.').waitFor();
    const [got] = await rx.wait(1, 40000);
    assert.equal(got.url, '/hook/ana');
    assert.equal(got.body, 'Hi Ana now');
    assert.deepEqual(await scheduledNow(srv), []);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await rx.close();
    await t.close();
  }
});

test("an API campaign is scheduled with its form's message for a segment; an API-triggered one for its segment", async () => {
  const t = await b.start();
  const rx = await webhookReceiver();
  try {
    const { page, srv } = t;
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'bo', first_name: 'Bo', team: 'north' }, { external_id: 'cy', first_name: 'Cy' }] });
    const seg = await h.request(srv, 'POST', '/admin/segments', { key: srv.key, body: {
      name: 'North team', definition: { type: 'custom_attribute', name: 'team', op: 'equals', value: 'north' } } });
    assert.equal(seg.status, 201, seg.text);
    const xss = await h.request(srv, 'POST', '/admin/segments', { key: srv.key, body: { name: XSS, definition: { type: 'country', op: 'equals', value: 'US' } } });
    assert.equal(xss.status, 201, xss.text);
    const id = await createCampaign(srv, { name: 'Local news', kind: 'api',
      variations: [{ name: 'North', channel: 'webhook' }] });
    await b.signIn(page, t.base);
    await page.goto(`${t.base}/dashboard/campaigns/${id}`);
    const v = page.getByRole('group', { name: 'Variation 1' });
    await v.getByLabel('Webhook URL').fill(rx.url('/north'));
    await v.getByLabel('Request body (Liquid)').fill('Hello {{${first_name}}}');
    const sched = page.getByRole('region', { name: 'Scheduled sends' });
    const form = sched.getByRole('form', { name: 'Schedule a send' });
    const at = await timeIn(page, HOUR);
    await form.getByLabel('Send at').fill(at.value);
    // A segment's name with script in it is an option's text, never run.
    assert.equal(await form.getByLabel('Send to').locator('option', { hasText: `Segment “${XSS}”` }).count(), 1);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await form.getByLabel('Send to').selectOption({ label: 'Segment “North team”' });
    assert.ok(await form.getByLabel('User external id').isHidden());
    await form.getByRole('button', { name: 'Schedule' }).click();
    await page.getByText('Send scheduled.').waitFor();
    await sched.getByRole('row').filter({ hasText: at.shown }).waitFor();
    const [s] = await scheduledNow(srv);
    assert.equal(s.id, id);

    // Moved to a few seconds ahead, it sends the form's message to the segment.
    const soon = await timeIn(page, 10000);
    await sched.getByRole('button', { name: 'Change time' }).click();
    await sched.getByLabel('New time').fill(soon.value);
    await sched.getByRole('button', { name: 'Save time' }).click();
    await page.getByText('Scheduled send moved.').waitFor();
    const [got] = await rx.wait(1, 40000);
    assert.equal(got.url, '/north');
    assert.equal(got.body, 'Hello Bo');
    await rx.quiet();
    assert.equal(rx.got.length, 1);

    // An API-triggered campaign with a segment may be scheduled for it all.
    const trig = await createCampaign(srv, { name: 'North news', kind: 'api_triggered', segment_id: seg.json.segment.id,
      variations: [{ name: 'A', channel: 'webhook', content: { url: rx.url('/all'), request_method: 'POST', body: 'x' } }] });
    await page.goto(`${t.base}/dashboard/campaigns/${trig}`);
    await page.getByRole('heading', { name: 'North news', level: 1 }).waitFor();
    await form.getByLabel('Send at').fill(at.value);
    await form.getByLabel('Send to').selectOption({ label: "The campaign's segment" });
    await form.getByRole('button', { name: 'Schedule' }).click();
    await page.getByText('Send scheduled.').waitFor();
    await sched.getByRole('row').filter({ hasText: at.shown }).waitFor();
    assert.deepEqual((await scheduledNow(srv)).map((x) => x.id), [trig]);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await rx.close();
    await t.close();
  }
});

test('a read-only operator sees the scheduled sends and no button to change them', async () => {
  const t = await b.start();
  try {
    const { page, srv } = t;
    b.addOperator(srv.dir, 'rob', 'read-only');
    const id = await createCampaign(srv, { name: 'Welcome', kind: 'api_triggered',
      variations: [{ name: 'A', channel: 'webhook', content: { url: 'http://127.0.0.1:9/x', request_method: 'POST', body: 'x' } }] });
    const time = new Date(Math.floor(Date.now() / 1000) * 1000 + HOUR).toISOString();
    const r = await h.request(srv, 'POST', '/campaigns/trigger/schedule/create', { key: srv.key, body: {
      campaign_id: id, recipients: [{ external_user_id: 'cy' }], schedule: { time } } });
    assert.equal(r.status, 201, r.text);
    await b.signIn(page, t.base, 'rob');
    await page.goto(`${t.base}/dashboard/campaigns/${id}`);
    const sched = page.getByRole('region', { name: 'Scheduled sends' });
    await sched.locator('code', { hasText: r.json.schedule_id }).waitFor();
    const shown = await page.evaluate((iso) => new Date(iso).toLocaleString(), time);
    await sched.getByRole('cell', { name: shown }).waitFor();
    assert.equal(await sched.getByRole('form').count(), 0);
    assert.equal(await sched.getByLabel('Send at').count(), 0);
    for (const name of ['Schedule', 'Change time', 'Cancel'])
      assert.equal(await sched.getByRole('button', { name, exact: true }).count(), 0, name);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});
