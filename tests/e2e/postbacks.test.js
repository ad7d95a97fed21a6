// postbacks.test.js -- transactional postbacks are durable: queued with
// the outcome they report, resent after a SIGKILL until answered, tried
// again when their URL fails, always in order (sent, processed,
// delivered), and gone from the queue once answered.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');
const { smtpReceiver } = require('./smtp_receiver.js');

// A postback URL: answers `failFirst` requests 500, then 200; with hold,
// keeps each request unanswered until release().
async function receiver({ failFirst = 0, hold = false } = {}) {
  const got = [], held = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push(JSON.parse(body));
      if (hold) return held.push(res);
      res.statusCode = got.length <= failFirst ? 500 : 200;
      res.end('ok');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}/pb`,
    got,
    release() {
      hold = false;
      held.splice(0).forEach((res) => res.destroy());
    },
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

const queued = (dir) => {
  const r = spawnSync('sqlite3', [path.join(dir, 'brasa.db'), 'SELECT count(*) FROM postbacks'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
};

async function sendOne(srv, key, url) {
  const post = (p, body) => h.request(srv, 'POST', p, { key, body });
  const c = await post('/admin/campaigns', { name: 'Receipt', kind: 'transactional', postback_url: url, variations: [{
    name: 'Email', channel: 'email', content: { app_id: 'app', from: 'Shop <shop@brand.example>', subject: 'Order', body: '<p>Thanks</p>' },
  }] });
  assert.equal(c.status, 201, c.text);
  await h.usersApi(srv, key).trackOk({ attributes: [{ external_id: 'u1', email: 'u1@example.com' }] });
  const res = await post(`/transactional/v1/campaigns/${c.json.campaign_id}/send`, { external_send_id: 'x1', recipient: { external_user_id: 'u1' } });
  assert.equal(res.status, 201, res.text);
  return res.json.dispatch_id;
}

test('a SIGKILL before the postback URL answered: the posts are sent again at the next start, in order', async () => {
  const rx = await smtpReceiver();
  const pb = await receiver({ hold: true });
  const dir = h.makeDataDir();
  const env = { BRASA_SMTP_URL: rx.url };
  let srv = await h.startServer({ dir, env });
  const key = srv.key;
  try {
    const id = await sendOne(srv, key, pb.url);
    await h.poll(() => pb.got.length >= 1, { deadlineMs: 20000 });
    assert.deepEqual(pb.got.map((b) => [b.dispatch_id, b.status]), [[id, 'sent']]);
    assert.equal(queued(dir), 3, 'sent, processed and delivered are queued; none answered');
    await srv.kill9();
    pb.release();
    srv = await h.startServer({ dir, env });
    await h.poll(() => pb.got.length >= 4, { deadlineMs: 20000 });
    assert.deepEqual(pb.got.map((b) => b.status), ['sent', 'sent', 'processed', 'delivered']);
    assert.ok(pb.got.every((b) => b.dispatch_id === id && b.metadata.external_send_id === 'x1'));
    await h.poll(() => queued(dir) === 0, { deadlineMs: 10000 });
  } finally {
    await srv.stop();
    rx.close();
    await pb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a postback URL that fails: the post is tried again later, and the next ones wait for it', async () => {
  const rx = await smtpReceiver();
  const pb = await receiver({ failFirst: 3 });
  // One attempt per delivery by the channel, retried by the queue after 100 ms, 200 ms, 400 ms.
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url, BRASA_WEBHOOK_ATTEMPTS: '1', BRASA_POSTBACK_RETRY_MS: '100' } });
  try {
    await sendOne(srv, srv.key, pb.url);
    await h.poll(() => pb.got.length >= 6, { deadlineMs: 20000 });
    assert.deepEqual(pb.got.map((b) => b.status), ['sent', 'sent', 'sent', 'sent', 'processed', 'delivered']);
    await h.poll(() => queued(srv.dir) === 0, { deadlineMs: 10000 });
    assert.match(srv.stderr(), /postback \d+ failed \(HTTP 500\): tried again in 0 s/);
  } finally {
    await srv.stop();
    rx.close();
    await pb.close();
  }
});
