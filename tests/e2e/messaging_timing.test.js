// messaging_timing.test.js -- schedules sent in each user's local time and
// at each user's optimal time (send/timing.h), end to end: a wave reaches
// exactly the users whose zone (or engagement hour) it is, users without
// a zone take the workspace's (POST /admin/workspace), the dispatch id is
// Braze's one for every wave, a started schedule can be deleted but not
// changed, and the workspace setting refuses what it cannot use.
//
// The optimal-time test cannot wait for the top of an hour: it starts the
// test build with BRASA_TEST_CLOCK_SKEW_MS (lib/clock.c), so the server's
// clock stands a few seconds before one.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { webhookReceiver } = require('./webhook_receiver.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });
const HOUR = 3600 * 1000;
const wall = (ms) => new Date(ms).toISOString().slice(0, 19); // no zone designator

const hook = (rx) => ({
  webhook: { url: rx.url('/to/{{${user_id}}}'), request_method: 'POST', body: '{{campaign.${dispatch_id}}}' },
});

test('in_local_time: each user at the wall-clock time in their zone, the workspace zone for users without one', async () => {
  const srv = await h.startServer();
  const rx = await webhookReceiver();
  try {
    // Etc/GMT-3 is UTC+3 (POSIX signs); the workspace is there too.
    let res = await post(srv, '/admin/workspace', { time_zone: 'Etc/GMT-3' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { time_zone: 'Etc/GMT-3', remove_bot_clicks: false });
    await h.usersApi(srv).trackOk({ attributes: [
      { external_id: 'east', time_zone: 'Etc/GMT-3' },
      { external_id: 'nozone' },
      { external_id: 'badzone', time_zone: 'Mars/Olympus' },
      { external_id: 'utc', time_zone: 'UTC' },
      { external_id: 'west', time_zone: 'America/Los_Angeles' },
    ] });
    // A wall time that UTC+3 reaches in 4 seconds, and UTC in 3 hours.
    const due = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    res = await post(srv, '/messages/schedule/create', {
      external_user_ids: ['east', 'nozone', 'badzone', 'utc', 'west'],
      schedule: { time: wall(due + 3 * HOUR), in_local_time: true }, messages: hook(rx) });
    assert.equal(res.status, 201, res.text);
    const { dispatch_id: dispatchId, schedule_id: scheduleId } = res.json;

    res = await get(srv, `/messages/scheduled_broadcasts?end_time=${wall(Date.now() + 86400000)}`);
    const listed = res.json.scheduled_broadcasts.find((b) => b.schedule_id === scheduleId);
    assert.equal(listed.schedule_type, 'local_time_zones');
    assert.equal(listed.next_send_time, new Date(due).toISOString());

    await rx.wait(3);
    const got = (await rx.quiet(1000)).map((g) => [g.url, g.body]).sort();
    assert.deepEqual(got, [['/to/badzone', dispatchId], ['/to/east', dispatchId], ['/to/nozone', dispatchId]]);
    assert.ok(Date.now() >= due, 'not before their time');

    let d;
    await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${dispatchId}`)).json).state === 'done',
      { deadlineMs: 10000 });
    assert.deepEqual([d.total, d.sent, d.waves], [3, 3, 1]);

    // Sending has begun: the schedule can no longer change, but can be deleted.
    res = await post(srv, '/messages/schedule/update', { schedule_id: scheduleId, schedule: { time: wall(due + 5 * HOUR), in_local_time: true } });
    h.assertError(res, 400, `Bad Request: schedule '${scheduleId}' has begun sending in some time zones: it can be deleted, not changed`);
    res = await post(srv, '/messages/schedule/delete', { schedule_id: scheduleId });
    assert.equal(res.status, 201, res.text);
    res = await get(srv, `/messages/scheduled_broadcasts?end_time=${wall(Date.now() + 86400000)}`);
    assert.equal(res.json.scheduled_broadcasts.find((b) => b.schedule_id === scheduleId), undefined);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('at_optimal_time: each user at their most engaged hour on the date, the audience\'s hour without history', async () => {
  // The server's clock: 6 s before the next top of an hour at least a minute away.
  const now = Date.now();
  const top = Math.ceil((now + 60000) / HOUR) * HOUR;
  const srv = await h.startServer({ env: { BRASA_TEST_CLOCK_SKEW_MS: String(top - 6000 - now) } });
  const rx = await webhookReceiver();
  try {
    const hourAt = (daysAgo, hoursAfterTop) => new Date(top - daysAgo * 86400000 + hoursAfterTop * HOUR + 600000).toISOString();
    const events = (id, n, hoursAfterTop) => Array.from({ length: n }, (_, i) => (
      { external_id: id, name: 'opened_app', time: hourAt(i + 1, hoursAfterTop) }));
    await h.usersApi(srv).trackOk({
      attributes: ['morning', 'evening', 'fresh'].map((id) => ({ external_id: id, time_zone: 'UTC' })),
      // morning engages at the coming hour (4 times), evening 6 hours later (3 times)
      events: [...events('morning', 4, 0), ...events('evening', 3, 6)],
    });
    const res = await post(srv, '/messages/schedule/create', {
      external_user_ids: ['morning', 'evening', 'fresh'],
      schedule: { time: `${new Date(top).toISOString().slice(0, 10)}T23:59:00`, at_optimal_time: true }, messages: hook(rx) });
    assert.equal(res.status, 201, res.text);
    const list = await get(srv, `/messages/scheduled_broadcasts?end_time=${wall(top + 3 * 86400000)}`);
    assert.equal(list.json.scheduled_broadcasts.find((b) => b.schedule_id === res.json.schedule_id).schedule_type,
      'intelligent_delivery');

    // At the top of the hour: morning (their hour) and fresh (no history:
    // the audience's most engaged hour, morning's); evening later.
    await rx.wait(2, 20000);
    const got = (await rx.quiet(1500)).map((g) => g.url).sort();
    assert.deepEqual(got, ['/to/fresh', '/to/morning']);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('/admin/workspace: the default, every refusal, and the permission', async () => {
  const srv = await h.startServer();
  try {
    let res = await get(srv, '/admin/workspace');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { time_zone: 'UTC', remove_bot_clicks: false });
    const bad = "Bad Request: 'time_zone' must be an IANA time zone name such as America/New_York";
    const none = "Bad Request: give 'time_zone' or 'remove_bot_clicks' to change";
    for (const [body, msg] of [
      [[], 'Bad Request: the body must be a JSON object'],
      [{ time_zone: 'Europe/Paris', locale: 'fr' }, "Bad Request: unknown field 'locale'"],
      [{}, none], [{ time_zone: null }, none], [{ time_zone: 5 }, bad], [{ time_zone: '' }, bad], [{ time_zone: 'Mars/Olympus' }, bad],
      [{ time_zone: '../../etc/passwd' }, bad], [{ time_zone: 'x'.repeat(80) }, bad],
      [{ remove_bot_clicks: 'yes' }, "Bad Request: 'remove_bot_clicks' must be true or false"],
      [{ time_zone: 'Europe/Paris', remove_bot_clicks: 1 }, "Bad Request: 'remove_bot_clicks' must be true or false"],
    ]) h.assertError(await post(srv, '/admin/workspace', body), 400, msg);
    assert.deepEqual((await get(srv, '/admin/workspace')).json, { time_zone: 'UTC', remove_bot_clicks: false }, 'unchanged by refusals');
    // Each setting alone keeps the other.
    res = await post(srv, '/admin/workspace', { remove_bot_clicks: true });
    assert.deepEqual([res.status, res.json], [200, { time_zone: 'UTC', remove_bot_clicks: true }]);
    res = await post(srv, '/admin/workspace', { time_zone: 'Europe/Paris' });
    assert.deepEqual([res.status, res.json], [200, { time_zone: 'Europe/Paris', remove_bot_clicks: true }]);
    const weak = (await h.createKey(srv, srv.key, { name: 'weak', permissions: ['messages.send'] })).key;
    res = await h.request(srv, 'POST', '/admin/workspace', { key: weak, body: { time_zone: 'Europe/Paris' } });
    h.assertError(res, 403, "Access Denied: this API key does not have the 'brasa.keys' permission");
  } finally {
    await srv.stop();
  }
});
