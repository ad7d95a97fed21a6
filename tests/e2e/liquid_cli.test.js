// liquid_cli.test.js -- `brasa liquid render`: the preview contract marketers
// and operators script against (exit 0 / 2 / 3 and what goes where).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const BIN = process.env.BRASA_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-liquid-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function write(name, text) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

function render(template, context, extra = []) {
  const args = ['liquid', 'render', '--template', write('t.liquid', template), '--now', '2026-11-23T12:00:00Z'];
  if (context) args.push('--context', write('user.json', JSON.stringify(context)));
  const r = spawnSync(BIN, args.concat(extra), { encoding: 'utf8' });
  assert.equal(r.stderr.includes('ERROR: AddressSanitizer'), false, r.stderr);
  return r;
}

const user = {
  external_id: 'u-1', first_name: 'Zoë', email: 'zoe@example.com', country: 'FR',
  custom_attributes: { tier: 'gold', cart: ['shoes', 'hat'], points: 7 },
};

test('renders a user object like /users/export/ids returns it, exit 0', () => {
  const r = render('Hi {{${first_name}}} ({{${user_id}}}) {{custom_attribute.${tier} | upcase}}:'
    + '{% for i in custom_attribute.${cart} %} {{i}}{% endfor %}; {{custom_attribute.${points} | divided_by: 2}}', user);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'Hi Zoë (u-1) GOLD: shoes hat; 3');
  assert.equal(r.stderr, '');
});

test('a syntax error prints line:col: message on stderr, exit 2', () => {
  const r = render('line one\n{% if x %}never closed', user);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^\d+:\d+: .+\n?$/);
});

test('abort_message prints the reason alone, exit 3', () => {
  const r = render('{% if custom_attribute.${tier} == "gold" %}{% abort_message("gold users skip this") %}{% endif %}x', user);
  assert.equal(r.status, 3);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim(), 'gold users skip this');
});

test('api_trigger_properties and event_properties come from the context file', () => {
  const r = render('{{api_trigger_properties.${coupon}}}/{{event_properties.${sku}}}',
    { ...user, api_trigger_properties: { coupon: 'SAVE10' }, event_properties: { sku: 'A1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'SAVE10/A1');
});

test('a missing template file is an error with a message, not a crash', () => {
  const r = spawnSync(BIN, ['liquid', 'render', '--template', path.join(dir, 'nope.liquid')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /brasa: /);
});

test('--batch renders JSON lines, one result a line, in order', () => {
  const lines = [
    { template: 'Hi {{${first_name}}}' },
    { template: '{{ a | upcase }}', context: { a: 'straße' } },
    { template: '{% if %}' },
    { template: '{{ 1 | divided_by: 0 }}' },
    { template: '{% abort_message("skip") %}' },
  ].map((l) => JSON.stringify(l)).join('\n') + '\n';
  const r = spawnSync(BIN, ['liquid', 'render', '--batch', '--context', write('user.json', JSON.stringify(user))],
    { input: lines, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
    { out: 'Hi Zoë' },
    { out: 'STRASSE' },
    { syntax: '1:7: expected a value, got end of markup' },
    { error: '1:8: divided by 0' },
    { aborted: 'skip' },
  ]);
  const bad = spawnSync(BIN, ['liquid', 'render', '--batch'], { input: '{"nope": 1}\n', encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /stdin:1: not a \{"template": \.\.\.\} object/);
});
