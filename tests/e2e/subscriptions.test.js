// subscriptions.test.js -- subscription groups: made over
// /admin/subscription_groups, states set with /subscription/status/set (v1
// and v2) and read with /subscription/status/get and
// /subscription/user/status, the StateChange events, the
// subscription_group segment filter, every refusal and the permissions.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });


test('subscription groups: set (v1, v2), get, user status, events and the segment filter', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const srv = await h.startServer({ dir });
  try {
    let res = await post(srv, '/admin/subscription_groups', { name: 'Newsletter', channel: 'email' });
    assert.equal(res.status, 201, res.text);
    const news = res.json.subscription_group_id;
    assert.match(news, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(res.json, { subscription_group_id: news, name: 'Newsletter', channel: 'email', message: 'success' });
    const sms = (await post(srv, '/admin/subscription_groups', { name: 'Alerts', channel: 'sms' })).json.subscription_group_id;
    res = await get(srv, '/admin/subscription_groups');
    assert.deepEqual(res.json.subscription_groups.map((g) => [g.name, g.channel]), [['Newsletter', 'email'], ['Alerts', 'sms']]);

    await h.usersApi(srv).trackOk({ attributes: [
      { external_id: 'u1', email: 'u1@example.com', phone: '+15555550101' },
      { external_id: 'u2', email: 'shared@example.com' },
      { external_id: 'u3', email: 'shared@example.com' },
      { external_id: 'u4' },
    ] });
    res = await post(srv, '/subscription/status/set', { subscription_group_id: news, subscription_state: 'subscribed',
      external_id: ['u1', 'nobody'], email: 'shared@example.com' });
    assert.deepEqual([res.status, res.json], [201, { message: 'success' }]);
    res = await post(srv, '/v2/subscription/status/set', { subscription_groups: [
      { subscription_group_id: news, subscription_state: 'unsubscribed', external_ids: ['u3'] },
      { subscription_group_id: sms, subscription_state: 'subscribed', phones: ['+15555550101'] },
      { subscription_group_id: sms, subscription_state: 'unsubscribed', external_id: 'u4' }, // singular: accepted
    ] });
    assert.deepEqual([res.status, res.json], [201, { message: 'success' }]);

    res = await get(srv, `/subscription/status/get?subscription_group_id=${news}&external_id[]=u1&external_id[]=u3&external_id[]=u4&external_id[]=zz`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { status: { u1: 'Subscribed', u3: 'Unsubscribed', u4: 'unknown', zz: 'unknown' }, message: 'success' });
    res = await get(srv, `/subscription/status/get?subscription_group_id=${news}&email=shared@example.com`);
    assert.equal(res.json.status['shared@example.com'], 'Unsubscribed'); // u3: the most recently updated
    res = await get(srv, `/subscription/status/get?subscription_group_id=${sms}&phone=%2B15555550101&external_id=u4`);
    assert.deepEqual(res.json.status, { u4: 'Unsubscribed' }); // the external id wins

    res = await get(srv, '/subscription/user/status?external_id=u1&external_id=u4&email=shared@example.com');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.total_count, 3);
    assert.equal(res.json.message, 'success');
    const u1 = res.json.users.find((u) => u.external_id === 'u1');
    assert.deepEqual(u1, { email: 'u1@example.com', phone: '+15555550101', external_id: 'u1', subscription_groups: [
      { id: news, name: 'Newsletter', channel: 'email', status: 'Subscribed' },
      { id: sms, name: 'Alerts', channel: 'sms', status: 'Subscribed' }] });
    res = await get(srv, '/subscription/user/status?external_id=u1&external_id=u4&limit=1&offset=1');
    assert.deepEqual([res.json.total_count, res.json.users.map((u) => u.external_id)], [2, ['u4']]);

    // Events: one per change; setting a state a user already has is none.
    await post(srv, '/subscription/status/set', { subscription_group_id: news, subscription_state: 'subscribed', external_id: 'u1' });
    const ev = h.outboxEvents(dir, 'users.behaviors.subscriptiongroup.StateChange', 'outbox');
    assert.equal(ev.length, 6, JSON.stringify(ev)); // u1, u2, u3 (news), then u3, u1 (sms), u4
    const e = ev.find((x) => x.external_user_id === 'u1' && x.channel === 'sms');
    assert.deepEqual([e.subscription_group_id, e.subscription_status, e.channel_identifier, e.phone_number, e.email_address,
      e.state_change_source], [sms, 'Subscribed', '+15555550101', '+15555550101', 'u1@example.com', 'REST API']);

    // The segment filter.
    const size = async (def) => {
      const s = await post(srv, '/admin/segments', { name: `s${Math.random()}`, definition: def });
      assert.equal(s.status, 201, s.text);
      return s.json.segment.size;
    };
    assert.equal(await size({ type: 'subscription_group', group_id: news, op: 'equals', value: 'subscribed' }), 2);
    assert.equal(await size({ type: 'subscription_group', group_id: news, op: 'equals', value: 'unsubscribed' }), 1);
    assert.equal(await size({ type: 'subscription_group', group_id: news, op: 'not_equals', value: 'subscribed' }), 2);
    assert.equal(await size({ type: 'subscription_group', group_id: sms, op: 'in', value: ['subscribed', 'unsubscribed'] }), 2);
    for (const [def, msg] of [
      [{ type: 'subscription_group', op: 'equals', value: 'subscribed' }, "a subscription_group filter needs a string 'group_id'"],
      [{ type: 'subscription_group', group_id: news, op: 'equals', value: 'opted_in' }, "subscription_group values are 'subscribed' and 'unsubscribed'"],
      [{ type: 'subscription_group', group_id: news, op: 'contains', value: 's' }, "'contains' is not an operator of subscription_group filters"],
    ]) {
      const s = await post(srv, '/admin/segments', { name: 'bad', definition: def });
      assert.equal(s.status, 400, s.text);
      assert.match(s.json.message, new RegExp(msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
  } finally {
    await srv.stop();
  }
});

test('subscription endpoints: every refusal, and the permissions', async () => {
  const srv = await h.startServer();
  try {
    const news = (await post(srv, '/admin/subscription_groups', { name: 'N', channel: 'email' })).json.subscription_group_id;
    for (const [body, status, msg] of [
      [{ name: 'N', channel: 'email' }, 409, 'Already exists: a subscription group has that name'],
      [{ channel: 'email' }, 400, "Bad Request: 'name' must be a string of 1 to 255 characters"],
      [{ name: 'x'.repeat(256), channel: 'email' }, 400, "Bad Request: 'name' must be a string of 1 to 255 characters"],
      [{ name: 'P', channel: 'push' }, 400, "Bad Request: 'channel' must be 'email' or 'sms'"],
      [{ name: 'P', channel: 'sms', id: 'x' }, 400, "Bad Request: unknown field 'id'"],
    ]) h.assertError(await post(srv, '/admin/subscription_groups', body), status, msg);

    const base = { subscription_group_id: news, subscription_state: 'subscribed' };
    const many = Array.from({ length: 51 }, (_, i) => `u${i}`);
    for (const [body, status, msg] of [
      [{ ...base, subscription_group_id: 'nope', external_id: 'a' }, 400, 'Invalid subscription group ID'],
      [{ ...base, subscription_group_id: undefined, external_id: 'a' }, 400, "Bad Request: 'subscription_group_id' is required"],
      [{ ...base, subscription_state: 'opted_in', external_id: 'a' }, 400, "Bad Request: 'subscription_state' must be 'subscribed' or 'unsubscribed'"],
      [{ ...base }, 400, "Bad Request: give 'external_id', 'email' or 'phone'"],
      [{ ...base, email: 'a@x.org', phone: '+15555550100' }, 400, 'Either an email address or a phone number should be provided, but not both.'],
      [{ ...base, external_id: many }, 400, "Bad Request: 'external_id' may list at most 50 values"],
      [{ ...base, external_id: [5] }, 400, "Bad Request: 'external_id' must be an external id or an array of them"],
      [{ ...base, email: 'nope' }, 400, "Bad Request: 'email' must be an email address or an array of them"],
      [{ ...base, phone: '5555' }, 400, "Bad Request: 'phone' must be a phone number in E.164 format (+15555550100) or an array of them"],
      [{ ...base, external_id: 'a', extra: 1 }, 400, "Bad Request: unknown field 'extra'"],
    ]) h.assertError(await post(srv, '/subscription/status/set', body), status, msg);

    const g = (o) => ({ subscription_group_id: news, subscription_state: 'unsubscribed', ...o });
    for (const [body, msg] of [
      [{}, "Bad Request: 'subscription_groups' must be a non-empty array of objects"],
      [{ subscription_groups: [] }, "Bad Request: 'subscription_groups' must be a non-empty array of objects"],
      [{ subscription_groups: [5] }, "Bad Request: 'subscription_groups' must be a non-empty array of objects"],
      [{ subscription_groups: Array.from({ length: 26 }, () => g({ external_ids: ['a'] })) }, "Bad Request: 'subscription_groups' may list at most 25 groups"],
      [{ subscription_groups: [g({ external_ids: ['a'] })], use_double_opt_in_logic: 'yes' }, "Bad Request: 'use_double_opt_in_logic' must be a boolean"],
      [{ subscription_groups: [g({ emails: ['a@x.org'], phones: ['+15555550100'] })] }, 'Either an email address or a phone number should be provided, but not both.'],
      [{ subscription_groups: [g({})] }, "Bad Request: give 'external_ids', 'emails' or 'phones'"],
      [{ subscription_groups: [g({ emails: ['bad'] })] }, "Bad Request: 'emails' must be an email address or an array of them"],
      [{ subscription_groups: [g({ external_ids: ['a'] }), g({ subscription_group_id: 'nope', external_ids: ['a'] })] }, 'Invalid subscription group ID'],
    ]) h.assertError(await post(srv, '/v2/subscription/status/set', body), 400, msg);
    assert.equal((await post(srv, '/v2/subscription/status/set', { subscription_groups: [g({ external_ids: ['a'] })],
      use_double_opt_in_logic: true })).status, 201);

    const many50 = Array.from({ length: 51 }, (_, i) => `external_id[]=u${i}`).join('&');
    for (const [q, msg] of [
      ['?external_id=a', "Bad Request: 'subscription_group_id' is required"],
      [`?subscription_group_id=${news}`, "Bad Request: give 'external_id', 'email' or 'phone'"],
      [`?subscription_group_id=nope&external_id=a`, 'Invalid subscription group ID'],
      [`?subscription_group_id=${news}&email=a@x.org&phone=%2B15555550100`, 'Either an email address or a phone number should be provided, but not both.'],
      [`?subscription_group_id=${news}&${many50}`, "Bad Request: 'external_id' may be given at most 50 times"],
      [`?subscription_group_id=${news}&email=bad`, "Bad Request: 'email' must be an email address"],
      [`?subscription_group_id=${news}&phone=123`, "Bad Request: 'phone' must be a phone number in E.164 format (+15555550100)"],
    ]) h.assertError(await get(srv, `/subscription/status/get${q}`), 400, msg);
    for (const [q, msg] of [
      ['', "Bad Request: give 'external_id', 'email' or 'phone'"],
      ['?external_id=a&limit=0', "Bad Request: 'limit' must be an integer from 1 to 100"],
      ['?external_id=a&limit=101', "Bad Request: 'limit' must be an integer from 1 to 100"],
      ['?external_id=a&offset=-1', "Bad Request: 'offset' must be an integer from 0 to 1000000000"],
    ]) h.assertError(await get(srv, `/subscription/user/status${q}`), 400, msg);
    assert.deepEqual((await get(srv, '/subscription/user/status?external_id=nobody')).json, { users: [], total_count: 0, message: 'success' });

    const weak = (await h.createKey(srv, srv.key, { name: 'weak', permissions: ['users.track'] })).key;
    for (const [method, p, perm, body] of [
      ['POST', '/subscription/status/set', 'subscription.status.set', { subscription_group_id: news, subscription_state: 'subscribed', external_id: 'a' }],
      ['POST', '/v2/subscription/status/set', 'subscription.status.set', { subscription_groups: [g({ external_ids: ['a'] })] }],
      ['GET', `/subscription/status/get?subscription_group_id=${news}&external_id=a`, 'subscription.status.get'],
      ['GET', '/subscription/user/status?external_id=a', 'subscription.groups.get'],
      ['GET', '/admin/subscription_groups', 'brasa.marketing'],
      ['POST', '/admin/subscription_groups', 'brasa.marketing', { name: 'Z', channel: 'sms' }],
    ]) h.assertError(await h.request(srv, method, p, { key: weak, body }), 403, `Access Denied: this API key does not have the '${perm}' permission`);
  } finally {
    await srv.stop();
  }
});
