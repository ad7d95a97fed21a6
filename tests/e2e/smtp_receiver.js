// smtp_receiver.js -- a local SMTP server for the email tests: runs
// smtp_receiver.py (aiosmtpd, importable only by Debian's /usr/bin/python3)
// and collects what it received: {mail_from, rcpt_tos, data (a Buffer),
// peer_port}. Recipients named bounce-*, soft-*, softonce-* get 550, 451,
// or 451 once (see smtp_receiver.py).
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const assert = require('node:assert/strict');

const PY = '/usr/bin/python3';

async function smtpReceiver() {
  // It stops when its standard input closes: when we close() or die.
  const proc = spawn(PY, [path.join(__dirname, 'smtp_receiver.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const got = [];
  let port = 0, buf = '', err = '';
  const ready = new Promise((resolve, reject) => {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const j = JSON.parse(line);
        if (j.port) { port = j.port; resolve(); continue; }
        got.push({ mail_from: j.mail_from, rcpt_tos: j.rcpt_tos, data: Buffer.from(j.data_b64, 'base64'), peer_port: j.peer_port });
      }
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => reject(new Error(`smtp_receiver.py exited (${code}): ${err}`)));
  });
  await ready;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    got,
    // Waits until at least n messages arrived.
    async wait(n, ms = 30000) {
      const end = Date.now() + ms;
      while (got.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.ok(got.length >= n, `${n} messages expected, ${got.length} arrived`);
      return got;
    },
    close() { proc.stdin.end(); proc.kill(); },
  };
}

// Parses a raw message with Python's email package (policy.default, the
// strict modern parser): {defects, headers: {name: [decoded values]},
// text, html}. Any defect in the message or a part is listed.
function parseEmail(raw) {
  const script = `
import sys, json, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
defects = [type(d).__name__ for d in m.defects]
out = {"headers": {}, "text": None, "html": None, "content_type": m.get_content_type()}
for k in m.keys():
    out["headers"].setdefault(k.lower(), [str(v) for v in m.get_all(k)])
for part in m.walk():
    defects += [type(d).__name__ for d in part.defects]
    t = part.get_content_type()
    if t == "text/plain" and out["text"] is None: out["text"] = part.get_content()
    if t == "text/html" and out["html"] is None: out["html"] = part.get_content()
out["defects"] = defects
print(json.dumps(out))
`;
  const r = spawnSync(PY, ['-c', script], { input: raw, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  out.max_line = Math.max(...raw.toString('latin1').split('\r\n').map((l) => l.length));
  return out;
}

module.exports = { smtpReceiver, parseEmail };
