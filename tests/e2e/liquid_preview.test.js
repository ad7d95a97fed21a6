// liquid_preview.test.js -- POST /admin/liquid/preview: a template rendered
// for one user as a send renders it (the dispatcher's user object, `brasa
// liquid render`'s engine), and every refusal: the body, the user, the
// Liquid that does not compile, fails or aborts, the permission.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

let srv;
before(async () => {
  srv = await h.startServer();
  const res = await h.request(srv, 'POST', '/users/track', { key: srv.key, body: { attributes: [
    { external_id: 'ana', first_name: 'Ana', email: 'ana@example.com', tier: 'gold' },
  ] } });
  assert.equal(res.status, 201, res.text);
});
after(async () => { if (srv) await srv.stop(); });

const preview = (body, key = srv.key) => h.request(srv, 'POST', '/admin/liquid/preview', { key, body });

test('renders the template for the user, with content blocks, as a send would', async () => {
  let res = await h.request(srv, 'POST', '/content_blocks/create', { key: srv.key,
    body: { name: 'sign_off', content: 'Bye {{${first_name}}}', state: 'active' } });
  assert.equal(res.status, 201, res.text);
  res = await preview({ external_id: 'ana',
    template: 'Hi {{${first_name}}} <{{${email_address}}}> {{custom_attribute.${tier}}} {{${user_id}}}. {{content_blocks.${sign_off}}} {{content_blocks.${sign_off}}}' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { message: 'success', output: 'Hi Ana <ana@example.com> gold ana. Bye Ana Bye Ana' });
  res = await preview({ external_id: 'ana', template: '' });
  assert.deepEqual(res.json, { message: 'success', output: '' });
});

test('refusals: the body, the user, the Liquid, the permission', async () => {
  h.assertError(await preview([1]), 400, 'Bad Request: the body must be a JSON object');
  h.assertError(await preview({ external_id: 'ana', template: 'x', user: 1 }), 400, "Bad Request: unknown field 'user'");
  h.assertError(await preview({ external_id: 'ana' }), 400, "Bad Request: 'template' is required (a string)");
  h.assertError(await preview({ external_id: 'ana', template: 3 }), 400, "Bad Request: 'template' is required (a string)");
  const idMsg = "Bad Request: 'external_id' is required (a string of 1 to 1024 bytes)";
  h.assertError(await preview({ template: 'x' }), 400, idMsg);
  h.assertError(await preview({ template: 'x', external_id: '' }), 400, idMsg);
  h.assertError(await preview({ template: 'x', external_id: 7 }), 400, idMsg);
  h.assertError(await preview({ template: 'x', external_id: 'a'.repeat(1025) }), 400, idMsg);
  h.assertError(await preview({ template: 'x', external_id: 'nobody' }), 404, "Not Found: no user with external_id 'nobody'");

  h.assertError(await preview({ external_id: 'ana', template: 'Hi {{ ${first_name} ' }), 400,
    "Bad Request: Liquid syntax error at 1:4: output '{{' was not properly terminated with '}}'");
  h.assertError(await preview({ external_id: 'ana', template: 'Hi {% if %}' }), 400,
    'Bad Request: Liquid syntax error at 1:10: expected a value, got end of markup');
  h.assertError(await preview({ external_id: 'ana', template: "{% abort_message('not today') %}" }), 400,
    'Bad Request: the message was aborted: not today');
  h.assertError(await preview({ external_id: 'ana', template: '{{content_blocks.${missing}}}' }), 400,
    "Bad Request: Liquid error at 1:3: content block 'missing' not found");
  h.assertError(await preview({ external_id: 'ana', template: '{{ 1 | divided_by: 0 }}' }), 400,
    'Bad Request: Liquid error at 1:8: divided by 0')
  // A preview calls no one's API.
  h.assertError(await preview({ external_id: 'ana', template: '{% connected_content https://example.com/x :save r %}' }), 400,
    'Bad Request: Liquid error at 1:1: connected_content is not available (no fetcher)');

  const key = await h.createKey(srv, srv.key, { name: 'no-marketing', permissions: ['users.track'] });
  h.assertError(await preview({ external_id: 'ana', template: 'x' }, key.key), 403, /^Access Denied/);
});
