// webhook_receiver.js -- a local webhook endpoint for the messaging tests:
// records every request (method, path, headers, body text) and answers
// with what the test programs (a status per request, in order, then 200).
'use strict';

const http = require('node:http');
const assert = require('node:assert/strict');

async function webhookReceiver({ statuses = [], headers = {} } = {}) {
  const got = [];
  const plan = [...statuses];
  let waiters = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = plan.length ? plan.shift() : 200;
      res.writeHead(status, status === 429 || status === 503 ? headers : {});
      res.end(status < 300 ? 'ok' : 'try again');
      waiters.splice(0).forEach((w) => w());
    });
  });
  srv.keepAliveTimeout = 30000;
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  return {
    port,
    url: (p = '/hook') => `http://127.0.0.1:${port}${p}`,
    got,
    // Waits until at least n requests arrived (or fails after ms).
    async wait(n, ms = 30000) {
      const end = Date.now() + ms;
      while (got.length < n && Date.now() < end) await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
      assert.ok(got.length >= n, `${n} webhook requests expected, ${got.length} arrived`);
      return got;
    },
    // Resolves after ms with no new request (to check nothing more comes).
    async quiet(ms = 1500) {
      let n = -1;
      while (n !== got.length) {
        n = got.length;
        await new Promise((r) => setTimeout(r, ms));
      }
      return got;
    },
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

module.exports = { webhookReceiver };
