// email_tracking.test.js -- the links an email carries back to brasa,
// followed as a recipient's mail client would: the open pixel (a person's
// opens and a privacy proxy's), a tracked link's redirect, the counters in
// /campaigns/data_series and /sends/data_series, campaigns_received's
// engaged flags and the Currents events; the unsubscribe page that only
// asks, the one-click POST of RFC 8058 after which the next broadcast
// skips the user, the subscribe link; a campaign with tracking turned off;
// and every link that does not check (forged, truncated, another kind's,
// a click pointed elsewhere) answered 404 without a redirect.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { smtpReceiver, parseEmail } = require('./smtp_receiver.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';


async function done(srv, id) {
  let d;
  await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 30000, intervalMs: 100 });
  return d;
}

// Follows a link of a received email as a client would (no redirect followed).
async function follow(url, { method = 'GET', ua = BROWSER, body, type } = {}) {
  const headers = { 'user-agent': ua };
  if (type) headers['content-type'] = type;
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const hrefs = (html) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));

test('opens, clicks and the one-click unsubscribe, followed from a received email', async () => {
  const rx = await smtpReceiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url } });
  try {
    await h.usersApi(srv).trackOk({ attributes: [
      { external_id: 'ann', email: 'ann@example.com', first_name: 'Ann' },
      { external_id: 'ben', email: 'ben@example.com', first_name: 'Ben' },
    ] });
    const c = (await post(srv, '/admin/campaigns', { name: 'Sale', kind: 'api', variations: [{ name: 'Main', channel: 'email' }] })).json;
    const vid = c.variations[0].id;
    const send = async (ids) => {
      const res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, send_id: 'week1', external_user_ids: ids, messages: { email: {
        app_id: 'app', message_variation_id: vid, from: 'Brand <news@brand.example>', subject: 'Hi {{${first_name}}}',
        body: '<html><body><p>Our <a href="https://shop.example.com/sale?utm=mail&amp;x=1">sale</a> is on.</p>' +
              '<p><a href="{{${set_user_to_unsubscribed_url}}}">Unsubscribe</a></p>{{${email_footer}}}</body></html>',
      } } });
      assert.equal(res.status, 201, res.text);
      return done(srv, res.json.dispatch_id);
    };
    assert.equal((await send(['ann', 'ben'])).sent, 2);
    const m = parseEmail(rx.got.find((x) => x.rcpt_tos[0] === 'ann@example.com').data);
    assert.deepEqual(m.defects, []);

    // The pixel before </body>, the sale link tracked, the unsubscribe links not.
    const pixel = m.html.match(/<img src="([^"]+)" width="1" height="1"/)[1];
    assert.ok(pixel.startsWith(`${srv.url}/t/o/`), pixel);
    assert.match(m.html, /<img [^>]+><\/body>/);
    const links = hrefs(m.html);
    const click = links.find((u) => u.includes('/t/c/'));
    assert.ok(click.startsWith(`${srv.url}/t/c/`), click);
    assert.equal(new URL(click).searchParams.get('u'), 'https://shop.example.com/sale?utm=mail&x=1');
    const unsub = links.filter((u) => u.includes('/t/u/'));
    assert.equal(unsub.length, 2, 'the unsubscribe link and the footer\'s');
    assert.match(m.text, /sale \(https:\/\/shop\.example\.com\/sale\?utm=mail&x=1\)/, 'the text part reads the link as written');
    // List-Unsubscribe (RFC 2369) with one-click (RFC 8058)
    assert.deepEqual(m.headers['list-unsubscribe'], [`<${unsub[0]}>`]);
    assert.deepEqual(m.headers['list-unsubscribe-post'], ['List-Unsubscribe=One-Click']);

    // Two opens by Ann, one by Apple's privacy proxy: 3 opens, 1 unique, 1 machine.
    let r = await follow(pixel);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/gif');
    assert.match(r.headers.get('cache-control'), /no-store/);
    assert.equal(r.body.subarray(0, 6).toString(), 'GIF89a');
    await follow(pixel);
    await follow(pixel, { ua: 'Mozilla/5.0' });
    r = await follow(click);
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), 'https://shop.example.com/sale?utm=mail&x=1');

    const series = async () => {
      const res = await get(srv, `/sends/data_series?campaign_id=${c.campaign_id}&send_id=week1&length=1`);
      assert.equal(res.status, 200, res.text);
      return res.json.data[0].messages.email[0];
    };
    let s = await series();
    assert.deepEqual([s.sent, s.delivered, s.opens, s.unique_opens, s.machine_open, s.clicks, s.unique_clicks, s.unsubscribes],
      [2, 2, 3, 1, 1, 1, 1, 0], JSON.stringify(s));
    const cs = (await get(srv, `/campaigns/data_series?campaign_id=${c.campaign_id}&length=1`)).json.data[0].messages.email[0];
    assert.deepEqual([cs.opens, cs.unique_opens, cs.clicks, cs.unique_clicks], [3, 1, 1, 1]);

    const exp = async (id) => (await post(srv, '/users/export/ids', { external_ids: [id], fields_to_export: ['email_subscribe', 'campaigns_received'] })).json.users[0];
    let ann = await exp('ann');
    assert.deepEqual(ann.campaigns_received[0].engaged, { opened_email: true, clicked_email: true });
    assert.deepEqual((await exp('ben')).campaigns_received[0].engaged, { opened_email: false, clicked_email: false });

    // The unsubscribe page only asks; the one-click POST unsubscribes.
    r = await follow(unsub[0]);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.match(r.body.toString(), /<form method="post">/);
    assert.equal((await exp('ann')).email_subscribe, 'subscribed', 'a GET changes nothing (mail scanners open links)');
    r = await follow(unsub[0], { method: 'POST', body: 'List-Unsubscribe=One-Click', type: 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 200, r.body.toString());
    assert.match(r.body.toString(), /no longer receive/);
    ann = await exp('ann');
    assert.equal(ann.email_subscribe, 'unsubscribed');
    assert.equal((await series()).unsubscribes, 1);

    // The next broadcast skips Ann.
    const before = rx.got.length;
    const d = await send(['ann', 'ben']);
    assert.deepEqual([d.sent, d.skipped], [1, 1]);
    assert.deepEqual(rx.got.slice(before).map((x) => x.rcpt_tos[0]), ['ben@example.com']);

    // The Currents events, with Braze's fields.
    const ev = h.outboxEvents(dir, 'users.messages.email.');
    const opens = ev.filter((e) => e.event_type === 'users.messages.email.Open');
    assert.equal(opens.length, 3);
    assert.equal(new Set(opens.map((e) => e.id)).size, 3, 'each event its own id');
    const o = opens[0];
    assert.deepEqual([o.external_user_id, o.email_address, o.campaign_id, o.campaign_name, o.send_id, o.message_variation_id,
      o.message_variation_name, o.user_agent], ['ann', 'ann@example.com', c.campaign_id, 'Sale', 'week1', vid, 'Main', BROWSER]);
    assert.equal(o.dispatch_id.length, 24);
    assert.deepEqual(opens.map((e) => e.machine_open || null), [null, null, 'true']);
    const cl = ev.find((e) => e.event_type === 'users.messages.email.Click');
    assert.deepEqual([cl.url, cl.link_id, cl.external_user_id], ['https://shop.example.com/sale?utm=mail&x=1', '1', 'ann']);
    const un = ev.find((e) => e.event_type === 'users.messages.email.Unsubscribe');
    assert.deepEqual([un.external_user_id, un.email_address, un.campaign_id], ['ann', 'ann@example.com', c.campaign_id]);

    const gsc = h.outboxEvents(dir, 'users.behaviors.subscription.GlobalStateChange', 'outbox').filter((e) => e.state_change_source === 'Email Link');
    assert.deepEqual(gsc.map((e) => [e.external_user_id, e.subscription_status, e.email_address]), [['ann', 'Unsubscribed', 'ann@example.com']]);

    // The subscribe link (a Liquid tag like the others) puts her back.
    const m2 = parseEmail(rx.got.at(-1).data);
    assert.ok(m2.headers['list-unsubscribe'][0].includes(srv.url));
    r = await follow(unsub[0].replace('/t/u/', '/t/s/'));
    assert.equal(r.status, 404, 'an unsubscribe token is not a subscribe token');
  } finally {
    await srv.stop();
    rx.close();
  }
});

test('links that do not check answer 404 and record nothing; a public URL; tracking turned off per campaign', async () => {
  const rx = await smtpReceiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url, BRASA_PUBLIC_URL: 'https://links.example.com/' } });
  let running = true;
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ann', email: 'ann@example.com' }] });
    const mk = async (body) => (await post(srv, '/admin/campaigns', body)).json;
    const on = await mk({ name: 'On', kind: 'api', variations: [{ name: 'A', channel: 'email' }] });
    const off = await mk({ name: 'Off', kind: 'api', variations: [{ name: 'A', channel: 'email' }], email_tracking: { opens: false, clicks: false } });
    const email = { app_id: 'a', from: 'news@brand.example', subject: 's',
      body: '<html><body><a href="https://shop.example.com/">shop</a> <a href="{{${set_user_to_subscribed_url}}}">sub</a></body></html>' };
    for (const c of [on, off]) {
      const res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, external_user_ids: ['ann'],
        messages: { email: { ...email, message_variation_id: c.variations[0].id } } });
      assert.equal(res.status, 201, res.text);
      assert.equal((await done(srv, res.json.dispatch_id)).sent, 1);
    }
    const [mOn, mOff] = rx.got.map((x) => parseEmail(x.data));
    // The links lead to the public URL.
    assert.ok(hrefs(mOn.html).every((u) => u.startsWith('https://links.example.com/t/')), mOn.html);
    assert.ok(mOn.headers['list-unsubscribe'][0].startsWith('<https://links.example.com/t/u/'));
    // Off: no pixel, links as written; List-Unsubscribe stays.
    assert.doesNotMatch(mOff.html, /<img/);
    assert.equal(hrefs(mOff.html)[0], 'https://shop.example.com/');
    assert.ok(mOff.headers['list-unsubscribe']);

    // The same links, against this server.
    const local = (u) => u.replace('https://links.example.com', srv.url);
    const click = local(hrefs(mOn.html)[0]);
    const pixel = local(mOn.html.match(/<img src="([^"]+)"/)[1]);
    const unsub = local(mOn.headers['list-unsubscribe'][0].slice(1, -1));
    const tok = (u) => new URL(u).pathname.split('/')[3];
    const bad = [
      click.replace(/u=[^&]+/, `u=${encodeURIComponent('https://evil.example.net/')}`), // pointed elsewhere
      click.replace(/\?u=.*/, ''),                                                    // no destination
      pixel.slice(0, -3),                                                             // truncated
      `${srv.url}/t/o/${tok(pixel).slice(0, 10)}${tok(pixel)[10] === 'x' ? 'y' : 'x'}${tok(pixel).slice(11)}`, // altered
      `${srv.url}/t/o/${tok(unsub)}`,                                                 // another kind's token
      `${srv.url}/t/c/${tok(pixel)}?u=https%3A%2F%2Fshop.example.com%2F`,
      `${srv.url}/t/u/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,  // forged
    ];
    for (const u of bad) {
      const r = await follow(u);
      assert.equal(r.status, 404, u);
      assert.equal(r.headers.get('location'), null, u);
      assert.match(r.headers.get('content-type'), /^text\/html/);
      assert.match(r.body.toString(), /Link not valid/);
    }
    let r = await follow(`${srv.url}/t/u/${tok(pixel)}`, { method: 'POST', body: 'x', type: 'text/plain' });
    assert.equal(r.status, 404, 'a POST with another kind\'s token');
    const s = (await get(srv, `/campaigns/data_series?campaign_id=${on.campaign_id}&length=1`)).json.data[0].messages.email[0];
    assert.deepEqual([s.opens, s.clicks, s.unsubscribes], [0, 0, 0], 'nothing recorded');
    assert.deepEqual(h.outboxEvents(dir, 'users.messages.email.Open'), []);
    // An unknown method on a link path
    r = await follow(pixel, { method: 'DELETE' });
    assert.equal(r.status, 405);

    // A valid click still redirects after a restart: the key lives in the data directory.
    running = false;
    await srv.stop();
    const again = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url } });
    try {
      r = await follow(click.replace(srv.url, again.url));
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), 'https://shop.example.com/');
      const s2 = (await h.request(again, 'GET', `/campaigns/data_series?campaign_id=${on.campaign_id}&length=1`, { key: srv.key })).json.data[0].messages.email[0];
      assert.deepEqual([s2.clicks, s2.unique_clicks], [1, 1]);
    } finally {
      await again.stop();
    }
  } finally {
    if (running) await srv.stop();
    rx.close();
  }
});

test('suspected bot clicks: the reason always; once the workspace removes them, the flag, and no count', async () => {
  const rx = await smtpReceiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url } });
  try {
    await h.usersApi(srv).trackOk({ attributes: [
      { external_id: 'ann', email: 'ann@example.com' }, { external_id: 'ben', email: 'ben@example.com' },
    ] });
    const c = (await post(srv, '/admin/campaigns', { name: 'Bots', kind: 'api', variations: [{ name: 'Main', channel: 'email' }] })).json;
    const clickOf = async (user, sendId) => {
      const n = rx.got.length;
      const res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, send_id: sendId, external_user_ids: [user], messages: { email: {
        app_id: 'app', message_variation_id: c.variations[0].id, from: 'news@brand.example', subject: 'Hi',
        body: '<html><body><a href="https://shop.example.com/">shop</a></body></html>' } } });
      assert.equal(res.status, 201, res.text);
      await done(srv, res.json.dispatch_id);
      await rx.wait(n + 1);
      return hrefs(parseEmail(rx.got[n].data).html).find((u) => u.includes('/t/c/'));
    };
    const series = async (sendId) => (await get(srv, `/sends/data_series?campaign_id=${c.campaign_id}&send_id=${sendId}&length=1`)).json.data[0].messages.email[0];
    const clicks = () => h.outboxEvents(dir, 'users.messages.email.Click');

    // Not removed (the default): every click counts; the reasons are there, the flag is not.
    let link = await clickOf('ann', 'w1');
    for (const [method, ua] of [['GET', 'Mimecast Security Scanner/1.0'], ['HEAD', BROWSER], ['GET', ''], ['GET', BROWSER]]) {
      const r = await follow(link, { method, ua });
      assert.equal(r.status, 302, `${method} ${ua}`);
    }
    let s = await series('w1');
    assert.deepEqual([s.clicks, s.unique_clicks], [4, 1]);
    assert.deepEqual(clicks().map((e) => [e.suspected_bot_click_reason || null, 'is_suspected_bot_click' in e]),
      [[['user_agent'], false], [['head_request'], false], [['user_agent'], false], [null, false]]);

    // Removed: a bot's click is in no count and flagged; a person's counts, flagged false.
    assert.equal((await post(srv, '/admin/workspace', { remove_bot_clicks: true })).status, 200);
    link = await clickOf('ben', 'w2');
    for (const ua of ['python-requests/2.31.0', 'Mozilla/5.0 (compatible; Googlebot/2.1)', BROWSER]) assert.equal((await follow(link, { ua })).status, 302);
    s = await series('w2');
    assert.deepEqual([s.clicks, s.unique_clicks], [1, 1]);
    const ben = clicks().filter((e) => e.external_user_id === 'ben');
    assert.deepEqual(ben.map((e) => [e.is_suspected_bot_click, e.suspected_bot_click_reason || null]),
      [[true, ['user_agent']], [true, ['user_agent']], [false, null]]);
    // Opens are not judged this way (a privacy proxy's open is a machine open).
    assert.ok(h.outboxEvents(dir, 'users.messages.email.Open').every((e) => !('is_suspected_bot_click' in e)));
  } finally {
    await srv.stop();
    rx.close();
  }
});
