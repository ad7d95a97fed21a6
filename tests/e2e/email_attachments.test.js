// email_attachments.test.js -- Braze's email attachments, fetched from a
// file server the test runs: a PDF and a CSV with a non-ASCII name arrive
// in a multipart/mixed that Python's email package reads back byte for
// byte; a file behind basic auth (a /admin/credentials entry); and the
// files that cannot be attached — too big, a type Braze does not attach,
// a 404, a URL that never answers — each abort the send's messages with
// the reason in users.messages.email.Abort, with the server up.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');
const { smtpReceiver } = require('./smtp_receiver.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(300000, 7), Buffer.from('\n%%EOF\n')]);
const CSV = Buffer.from('id,name\n1,Zoë\n');

// A file server: what each path answers.
function files() {
  const hung = [];
  const srv = http.createServer((req, res) => {
    const p = req.url;
    if (p === '/report') return res.writeHead(200, { 'content-type': 'application/pdf' }).end(PDF);
    if (p === '/list') return res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' }).end(CSV);
    if (p === '/private') {
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) return res.writeHead(401).end();
      return res.writeHead(200, { 'content-type': 'text/plain' }).end('for alice');
    }
    if (p === '/big') { // 3 MB, sent without a length: cut off while it streams
      res.writeHead(200, { 'content-type': 'image/png' });
      for (let i = 0; i < 48; i++) res.write(Buffer.alloc(65536, 1));
      return res.end();
    }
    if (p === '/page') return res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>');
    if (p === '/hang') return hung.push(res); // never answers
    res.writeHead(404).end();
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${srv.address().port}`,
    close: () => { for (const r of hung) r.destroy(); srv.closeAllConnections(); srv.close(); },
  })));
}

// The received message's parts, as Python's email package reads them.
function parts(raw) {
  const py = `
import sys, json, email, email.policy, hashlib
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
out = {"type": m.get_content_type(), "defects": [str(d) for d in m.defects], "parts": []}
for part in m.walk():
    out["defects"] += [str(d) for d in part.defects]
    if part.get_content_disposition() == "attachment":
        data = part.get_payload(decode=True)
        out["parts"].append({"filename": part.get_filename(), "type": part.get_content_type(), "len": len(data),
                             "sha256": hashlib.sha256(data).hexdigest()})
    elif not part.is_multipart():
        out["parts"].append({"type": part.get_content_type()})
print(json.dumps(out))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py], { input: raw, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const sha = (b) => require('node:crypto').createHash('sha256').update(b).digest('hex');


async function done(srv, id) {
  let d;
  await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 30000, intervalMs: 100 });
  return d;
}

test('attachments: fetched once, attached to every message; the ones that cannot be attached abort the send', async () => {
  const fs = await files();
  const rx = await smtpReceiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir, env: { BRASA_SMTP_URL: rx.url, BRASA_ATTACHMENT_TIMEOUT_MS: '1500' } });
  try {
    await h.usersApi(srv).trackOk({ attributes: [
      { external_id: 'ann', email: 'ann@example.com' }, { external_id: 'ben', email: 'ben@example.com' }] });
    assert.equal((await post(srv, '/admin/credentials', { name: 'files', username: 'alice', password: 's3cret' })).status, 201);
    const send = async (attachments) => {
      const res = await post(srv, '/messages/send', { external_user_ids: ['ann', 'ben'], messages: { email: {
        app_id: 'a', from: 'news@brand.example', subject: 'Your report', body: '<p>Attached.</p>', attachments } } });
      assert.equal(res.status, 201, res.text);
      return { id: res.json.dispatch_id, d: await done(srv, res.json.dispatch_id) };
    };

    let { d } = await send([
      { file_name: 'Q3 report', url: `${fs.url}/report` },
      { file_name: 'Überblick', url: `${fs.url}/list` },
      { file_name: 'mine', url: `${fs.url}/private`, basic_auth_credential: 'files' },
    ]);
    assert.deepEqual([d.sent, d.aborted], [2, 0]);
    assert.equal(rx.got.length, 2);
    for (const m of rx.got) {
      const p = parts(m.data);
      assert.deepEqual(p.defects, []);
      assert.equal(p.type, 'multipart/mixed');
      assert.deepEqual(p.parts, [
        { type: 'text/plain' }, { type: 'text/html' },
        { filename: 'Q3 report.pdf', type: 'application/pdf', len: PDF.length, sha256: sha(PDF) },
        { filename: 'Überblick.csv', type: 'text/csv', len: CSV.length, sha256: sha(CSV) },
        { filename: 'mine.txt', type: 'text/plain', len: 9, sha256: sha('for alice') },
      ]);
    }

    // Each of these aborts both messages with its reason; nothing is sent.
    const cases = [
      [[{ file_name: 'big', url: `${fs.url}/big` }], /attachment 'big': .*\/big is larger than 2 MB/],
      [[{ file_name: 'page', url: `${fs.url}/page` }], /attachment 'page': .*has type 'text\/html', which cannot be attached/],
      [[{ file_name: 'gone', url: `${fs.url}/missing` }], /attachment 'gone': .*answered 404/],
      [[{ file_name: 'slow', url: `${fs.url}/hang` }], /attachment 'slow': .*could not be fetched: Timeout/],
      [[{ file_name: 'mine', url: `${fs.url}/private`, basic_auth_credential: 'nobody' }], /attachment 'mine': no credential named 'nobody'/],
      [[{ file_name: 'mine', url: `${fs.url}/private` }], /attachment 'mine': .*answered 401/],
    ];
    for (const [att, why] of cases) {
      const before = rx.got.length;
      const r = await send(att);
      assert.deepEqual([r.d.sent, r.d.aborted], [0, 2], JSON.stringify(att));
      assert.equal(rx.got.length, before);
      const ab = h.outboxEvents(dir, 'users.messages.email.Abort').filter((e) => e.dispatch_id === r.id);
      assert.equal(ab.length, 2);
      assert.match(ab[0].abort_log, why);
      assert.match(ab[0].email_address, /@/);
    }
    assert.equal((await get(srv, '/healthz')).status, 200);
  } finally {
    await srv.stop();
    rx.close();
    fs.close();
  }
});
