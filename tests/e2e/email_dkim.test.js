// email_dkim.test.js -- DKIM signing end to end: a server started with a
// key made by the test signs the campaign email it sends through a real
// SMTP server (aiosmtpd), and the raw messages received are verified by a
// second DKIM implementation (Debian's python3-dkim) with the public key
// served in place of DNS; mail from another domain goes out unsigned and
// is counted in /metrics; a message changed in transit fails; and each
// bad setting stops the server at start-up with exit code 2.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');
const { smtpReceiver, parseEmail } = require('./smtp_receiver.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });

// A test key made for this run: the PEM private key in a file, the key
// record a DNS TXT lookup of SELECTOR._domainkey.DOMAIN would give.
function makeKey(dir) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, // "BEGIN RSA PRIVATE KEY", as opendkim-genkey writes
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  const file = path.join(dir, 'dkim.pem');
  fs.writeFileSync(file, privateKey, { mode: 0o600 });
  return { file, record: `v=DKIM1; k=rsa; p=${publicKey.toString('base64')}` };
}

// python3-dkim's verdict on raw: {ok, lookups (the names it asked DNS for)}.
// Only `name` has a key record; any other lookup finds nothing.
function dkimVerify(raw, name, record) {
  const script = `
import sys, json, dkim
name, record = sys.argv[1].encode(), sys.argv[2].encode()
lookups = []
def dns(q, timeout=5):
    lookups.append(q.decode())
    return record if q.rstrip(b".") == name else None
ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=dns)
print(json.dumps({"ok": bool(ok), "lookups": lookups}))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script, name, record], { input: raw, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// The DKIM-Signature header's tags (unfolded).
function sigTags(raw) {
  const m = raw.toString('latin1').match(/^DKIM-Signature: ((?:.*\r\n[ \t])*.*)\r\n/m);
  if (!m) return null;
  const tags = {};
  for (const t of m[1].replace(/\r\n[ \t]/g, ' ').split(';')) {
    const i = t.indexOf('=');
    if (i > 0) tags[t.slice(0, i).trim()] = t.slice(i + 1).replace(/\s+/g, '');
  }
  return tags;
}

async function done(srv, id) {
  let d;
  await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 30000, intervalMs: 100 });
  return d;
}

test('DKIM: mail from the domain and its subdomains is signed and verifies; other domains go unsigned, counted', async () => {
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-dkim-'));
  const key = makeKey(keyDir);
  const rx = await smtpReceiver();
  const srv = await h.startServer({
    env: { BRASA_SMTP_URL: rx.url, BRASA_DKIM_KEY: key.file },
    args: ['--dkim-domain', 'brand.example', '--dkim-selector', 'brasa1'],
  });
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ann', email: 'ann@example.com', first_name: 'Ann' }] });
    const email = (from) => ({ app_id: 'a', from, reply_to: 'help@brand.example', subject: 'Hi {{${first_name}}} ✓',
      body: '<html><body><h1>Hello {{${first_name}}}</h1><p>Our <a href="https://brand.example/sale">sale</a> is on.</p></body></html>',
      headers: { 'X-Campaign': 'spring' } });
    const froms = ['Brand Ünï <news@brand.example>', 'news@Mail.Brand.Example', 'news@other.example', 'news@notbrand.example'];
    for (const from of froms) {
      const res = await post(srv, '/messages/send', { external_user_ids: ['ann'], messages: { email: email(from) } });
      assert.equal(res.status, 201, res.text);
      assert.equal((await done(srv, res.json.dispatch_id)).sent, 1);
    }
    await rx.wait(froms.length);
    const byFrom = (addr) => rx.got.find((m) => m.mail_from === addr);
    const name = 'brasa1._domainkey.brand.example';

    for (const addr of ['news@brand.example', 'news@Mail.Brand.Example']) {
      const m = byFrom(addr);
      assert.ok(m, `a message from ${addr}`);
      assert.ok(m.data.toString('latin1').startsWith('DKIM-Signature: '), 'the signature comes first');
      const tags = sigTags(m.data);
      assert.deepEqual([tags.v, tags.a, tags.c, tags.d, tags.s], ['1', 'rsa-sha256', 'relaxed/relaxed', 'brand.example', 'brasa1']);
      assert.deepEqual(tags.h.toLowerCase().split(':').sort(),
        ['content-type', 'date', 'from', 'list-unsubscribe', 'list-unsubscribe-post', 'message-id', 'mime-version', 'reply-to',
          'subject', 'to']);
      const v = dkimVerify(m.data, name, key.record);
      assert.deepEqual(v, { ok: true, lookups: [`${name}.`] }, `${addr}: ${JSON.stringify(v)}`);
      const p = parseEmail(m.data);
      assert.deepEqual(p.defects, []);
      assert.ok(p.max_line <= 998);
      assert.deepEqual(p.headers.subject, ['Hi Ann ✓']);
    }
    // Changed in transit: a byte of the body, or the subject.
    const signed = byFrom('news@brand.example').data;
    const body = Buffer.from(signed.toString('latin1').replace('Hello Ann', 'Hello Bob'), 'latin1');
    assert.notDeepEqual(body, signed);
    assert.equal(dkimVerify(body, name, key.record).ok, false);
    const subj = Buffer.from(signed.toString('latin1').replace(/^Subject: .*$/m, 'Subject: Hi Bob'), 'latin1');
    assert.notDeepEqual(subj, signed);
    assert.equal(dkimVerify(subj, name, key.record).ok, false);
    // Another key published under the selector: no pass either.
    assert.equal(dkimVerify(signed, name, makeKey(keyDir).record).ok, false);

    for (const addr of ['news@other.example', 'news@notbrand.example']) {
      const m = byFrom(addr);
      assert.ok(m && !/^DKIM-Signature:/im.test(m.data.toString('latin1')), `${addr} goes unsigned`);
      assert.deepEqual(parseEmail(m.data).defects, []);
    }
    const metrics = (await get(srv, '/metrics')).text;
    assert.match(metrics, /^brasa_email_dkim_total\{result="signed"\} 2$/m);
    assert.match(metrics, /^brasa_email_dkim_total\{result="other_domain"\} 2$/m);
    assert.match(metrics, /^brasa_email_dkim_total\{result="failed"\} 0$/m);
  } finally {
    await srv.stop();
    rx.close();
    fs.rmSync(keyDir, { recursive: true, force: true });
  }
});

test('DKIM: no signing and no DKIM metrics without the options', async () => {
  const rx = await smtpReceiver();
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ann', email: 'ann@example.com' }] });
    const res = await post(srv, '/messages/send', { external_user_ids: ['ann'],
      messages: { email: { app_id: 'a', from: 'news@brand.example', subject: 's', body: '<p>x</p>' } } });
    assert.equal(res.status, 201, res.text);
    await rx.wait(1);
    assert.ok(!/^DKIM-Signature:/im.test(rx.got[0].data.toString('latin1')));
    assert.doesNotMatch((await get(srv, '/metrics')).text, /brasa_email_dkim/);
  } finally {
    await srv.stop();
    rx.close();
  }
});

test('DKIM: bad settings stop the server at start-up (exit 2) with what is wrong', () => {
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-dkim-'));
  try {
    const key = makeKey(keyDir);
    const notKey = path.join(keyDir, 'notkey.pem');
    fs.writeFileSync(notKey, 'hello\n');
    const pub = path.join(keyDir, 'pub.pem');
    fs.writeFileSync(pub, crypto.createPublicKey(fs.readFileSync(key.file)).export({ type: 'spki', format: 'pem' }));
    const ec = path.join(keyDir, 'ec.pem');
    fs.writeFileSync(ec, crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const missing = path.join(keyDir, 'missing.pem');
    // Refused before the store is opened: the data directory is never made.
    const dir = path.join(keyDir, 'data');
    const serve = (args, env = {}) => h.cli(['serve', '--port', '0', '--listen', '127.0.0.1', ...args], { dir, env });
    const all = (d, s, k) => ['--dkim-domain', d, '--dkim-selector', s, '--dkim-key', k];
    for (const [args, env, msg] of [
      [['--dkim-domain', 'brand.example'], {}, 'DKIM signing needs --dkim-domain, --dkim-selector and --dkim-key together'],
      [['--dkim-key', key.file], { BRASA_DKIM_SELECTOR: 'brasa1' }, 'DKIM signing needs --dkim-domain, --dkim-selector and --dkim-key together'],
      [all('brand.example', 'brasa1', missing), {}, `--dkim-key: cannot read ${missing}: No such file or directory`],
      [[], { BRASA_DKIM_DOMAIN: 'brand.example', BRASA_DKIM_SELECTOR: 'brasa1', BRASA_DKIM_KEY: notKey },
        `--dkim-key: ${notKey} holds no unencrypted PEM private key (make one with \`openssl genrsa -out ${notKey} 2048\`)`],
      [all('brand.example', 'brasa1', pub), {}, `--dkim-key: ${pub} holds no unencrypted PEM private key (make one with \`openssl genrsa -out ${pub} 2048\`)`],
      [all('brand.example', 'brasa1', ec), {}, `--dkim-key: ${ec} is not an RSA key (signatures are rsa-sha256)`],
      [all('brand example', 'brasa1', key.file), {}, "--dkim-domain must be a domain name such as brand.com (got 'brand example')"],
      [all('brand.example', 'brasa_1', key.file), {},
        "--dkim-selector must be a DNS label such as brasa1 (letters, digits, hyphens; got 'brasa_1')"],
    ]) {
      const r = serve(args, env);
      assert.equal(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assert.equal(r.stderr, `brasa: ${msg}\n`);
      assert.equal(r.stdout, '', 'nothing started: no bootstrap key printed');
      assert.ok(!fs.existsSync(dir));
    }
  } finally {
    fs.rmSync(keyDir, { recursive: true, force: true });
  }
});
