// users.js -- the Users page: find a user by one identifier and see the
// profile as Braze shows it (identity, attributes, events and purchases,
// subscriptions, partner cohorts, every segment with the reason per filter,
// messages received). The search lives in the URL (?external_id=X,
// ?alias_name=N&alias_label=L, ...) so a user's page can be bookmarked; the
// answer is GET /admin/users/profile with the same query (src/api/console.c).
import { api, h, fill, link, errorBox, table, field, select, copyable, fmt } from './ui.js';
import { navigate } from './app.js';

// The identifiers a user is found by, as the profile route names them.
const KINDS = [
  ['external_id', 'External id'],
  ['email', 'Email address'],
  ['phone', 'Phone number'],
  ['braze_id', 'Braze id'],
  ['device_id', 'Device id'],
  ['alias', 'User alias'],
];
const PARAMS = ['external_id', 'email', 'phone', 'braze_id', 'device_id', 'alias_name', 'alias_label'];
const ACCEPTED = 'an external id, an email address, a phone number (E.164, as +14155550100), a Braze id, '
  + 'a device id, or a user alias (its name and label)';

export async function render(view, route) {
  const q = searchOf(route.query);
  const results = h('div', {});
  fill(view, h('h1', {}, 'Users'), searchForm(q), results);
  if (!q) {
    results.append(h('p', { class: 'empty' }, `Look a user up by ${ACCEPTED}. Users are added with /users/track or an import.`));
    return;
  }
  // The URL's identifiers go to the server as they are: a hand-edited URL
  // with two of them gets the server's answer, in words.
  const sent = new URLSearchParams([...route.query].filter(([k]) => PARAMS.includes(k)));
  let res;
  try {
    res = await api('GET', `/admin/users/profile?${sent}`);
  } catch (e) {
    fill(results, errorBox(e));
    return;
  }
  if (!res.users.length) fill(results, nothingFound(q));
  else if (res.users.length === 1) fill(results, profile(res.users[0]));
  else fill(results, choices(res.users, res.truncated, q));
}

// The search the URL holds: {kind, value, label}, or null for none.
function searchOf(query) {
  if (query.has('alias_name') || query.has('alias_label'))
    return { kind: 'alias', value: query.get('alias_name') ?? '', label: query.get('alias_label') ?? '' };
  const k = KINDS.find(([name]) => query.has(name));
  return k ? { kind: k[0], value: query.get(k[0]) } : null;
}

function queryString(q) {
  return new URLSearchParams(q.kind === 'alias' ? { alias_name: q.value, alias_label: q.label } : { [q.kind]: q.value }).toString();
}

function describe(q) {
  return q.kind === 'alias' ? `user alias "${q.value}" with label "${q.label}"`
    : `${KINDS.find(([k]) => k === q.kind)[1].toLowerCase()} "${q.value}"`;
}

// The form: an identifier kind and its value (an alias takes two fields).
// Submitting changes the URL, which renders the answer.
function searchForm(q) {
  const kind = select('Identifier', KINDS, { name: 'kind' });
  const value = field('Value', { name: 'value', required: true, autocomplete: 'off' });
  const aliasName = field('Alias name', { name: 'alias_name', required: true, autocomplete: 'off' });
  const aliasLabel = field('Alias label', { name: 'alias_label', required: true, autocomplete: 'off' });
  kind.input.value = q ? q.kind : 'external_id';
  if (q && q.kind === 'alias') { aliasName.input.value = q.value; aliasLabel.input.value = q.label; }
  else if (q) value.input.value = q.value;
  // Hidden fields are disabled too, so the form checks only what is shown.
  const show = () => {
    const alias = kind.input.value === 'alias';
    for (const [f, on] of [[value, !alias], [aliasName, alias], [aliasLabel, alias]]) {
      f.wrap.hidden = !on;
      f.input.disabled = !on;
    }
  };
  kind.input.addEventListener('change', show);
  show();
  const form = h('form', { class: 'card users-search', role: 'search', 'aria-label': 'Find a user' },
    h('div', { class: 'row' }, kind.wrap, value.wrap, aliasName.wrap, aliasLabel.wrap,
      h('button', { type: 'submit' }, 'Find')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = kind.input.value;
    const next = k === 'alias' ? { kind: k, value: aliasName.input.value, label: aliasLabel.input.value }
      : { kind: k, value: value.input.value };
    navigate(`/dashboard/users?${queryString(next)}`);
  });
  return form;
}

function nothingFound(q) {
  return h('div', { class: 'empty' },
    h('p', {}, `No user matched the ${describe(q)}.`),
    h('p', {}, `Users are found by ${ACCEPTED}, each exactly as it was tracked.`));
}

// Several users share the email or phone: pick one (by its Braze id, which
// names exactly one user and is the address of its page).
function choices(users, truncated, q) {
  const byId = (u) => `/dashboard/users?${new URLSearchParams({ braze_id: u.profile.braze_id })}`;
  return [
    h('h2', {}, `${users.length} users match the ${describe(q)}`),
    truncated ? h('p', { class: 'muted' }, `Only the first ${users.length} are listed: look the others up by their external id.`) : null,
    table([
      { label: 'User', cell: (u) => link(byId(u), u.profile.external_id ?? u.profile.braze_id) },
      { label: 'Name', cell: (u) => fullName(u.profile) ?? '' },
      { label: 'Email', cell: (u) => u.profile.email ?? '' },
      { label: 'Phone', cell: (u) => u.profile.phone ?? '' },
      { label: 'Created', cell: (u) => fmt.time(u.profile.created_at) },
    ], users, ''),
  ];
}

function fullName(p) {
  const n = [p.first_name, p.last_name].filter((x) => x).join(' ');
  return n || null;
}

// ---- The profile -------------------------------------------------------------

function profile(u) {
  const p = u.profile;
  const title = p.external_id ?? fullName(p) ?? p.email ?? p.braze_id;
  return h('article', { class: 'user-profile', 'aria-labelledby': 'user-title' },
    h('h2', { id: 'user-title' }, `User ${title}`),
    p.external_id ? null : h('p', { class: 'muted' }, 'An anonymous user: no external id.'),
    h('div', { class: 'cols' }, section('Identity', identity(p)), section('Standard attributes', standard(p))),
    section('Custom attributes', customAttributes(p.custom_attributes || {})),
    h('div', { class: 'cols' },
      section('Custom events', summaries(p.custom_events || [], 'Event', 'No custom events recorded.')),
      section('Purchases', summaries(p.purchases || [], 'Product', 'No purchases recorded.'))),
    h('div', { class: 'cols' }, section('Subscriptions', subscriptions(p)), section('Cohorts', cohorts(u.cohorts))),
    section('Segments', segments(u.segments)),
    section('Messages received', messages(u.messages)));
}

function section(title, ...content) {
  return h('section', { class: 'card', 'aria-label': title }, h('h3', {}, title), content);
}

// Name/value rows, each name a row header; an absent value says so.
function props(rows) {
  return h('table', { class: 'props' }, h('tbody', {}, rows.map(([name, v]) =>
    h('tr', {}, h('th', { scope: 'row' }, name),
      h('td', {}, v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length) ? h('span', { class: 'muted' }, 'not set') : v)))));
}

function identity(p) {
  const aliases = (p.user_aliases || []).map((a) => `${a.alias_name} (label ${a.alias_label})`);
  return props([
    ['External id', p.external_id],
    ['Braze id', p.braze_id ? copyable(p.braze_id, 'Braze id') : null],
    ['Aliases', aliases.length ? h('ul', { class: 'plain' }, aliases.map((a) => h('li', {}, a))) : null],
    ['Email', p.email],
    ['Phone', p.phone],
    ['Devices', (p.devices || []).map((d) => d.device_id).join(', ')],
    ['Created', p.created_at ? fmt.time(p.created_at) : null],
    ['Random bucket', p.random_bucket === undefined ? null : String(p.random_bucket)],
  ]);
}

function standard(p) {
  const coords = p.last_coordinates ? p.last_coordinates.join(', ') : null;
  return props([
    ['First name', p.first_name],
    ['Last name', p.last_name],
    ['Gender', p.gender],
    ['Date of birth', p.dob],
    ['Country', p.country],
    ['Home city', p.home_city],
    ['Language', p.language],
    ['Time zone', p.time_zone],
    ['Last coordinates', coords],
    ['Total revenue', p.total_revenue === undefined ? null : fmt.n(p.total_revenue)],
  ]);
}

// Strings as they are; numbers, booleans, arrays and objects as JSON text.
function customAttributes(attrs) {
  const kind = (v) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  return table([
    { label: 'Name', cell: ([k]) => h('code', {}, k) },
    { label: 'Value', cell: ([, v]) => (typeof v === 'string' ? v : h('code', {}, JSON.stringify(v))) },
    { label: 'Type', cell: ([, v]) => kind(v) },
  ], Object.entries(attrs), 'No custom attributes: they are set by /users/track or an import.');
}

function summaries(list, what, empty) {
  return table([
    { label: what, cell: (e) => e.name },
    { label: 'Count', class: 'num', cell: (e) => fmt.n(e.count) },
    { label: 'First', cell: (e) => fmt.time(e.first) },
    { label: 'Last', cell: (e) => fmt.time(e.last) },
  ], list, empty);
}

function subscriptions(p) {
  return [
    props([['Email', p.email_subscribe], ['Push', p.push_subscribe]]),
    h('h4', {}, 'Push tokens'),
    table([
      { label: 'App', cell: (t) => t.app ?? '' },
      { label: 'Token', cell: (t) => h('code', {}, t.token ?? '') },
      { label: 'Device', cell: (t) => t.device_id ?? '' },
    ], p.push_tokens || [], 'No push tokens.'),
  ];
}

function cohorts(list) {
  return table([
    { label: 'Partner', cell: (c) => c.partner },
    { label: 'Cohort', cell: (c) => c.name },
    { label: 'Cohort id', cell: (c) => h('code', {}, c.cohort_id) },
  ], list, 'In no partner cohort: partners add users to cohorts with their data import key.');
}

// Every live segment, those the user is in first, each filter with whether
// it matches this user.
function segments(list) {
  const inIt = list.filter((s) => s.member), out = list.filter((s) => !s.member);
  if (!list.length) return h('p', { class: 'empty' }, 'There are no segments yet: create one on the Segments page.');
  return [
    h('h4', {}, `In ${inIt.length} ${inIt.length === 1 ? 'segment' : 'segments'}`),
    inIt.length ? h('ul', { class: 'segments' }, inIt.map(segment)) : h('p', { class: 'empty' }, 'In no segment.'),
    h('h4', {}, `Not in ${out.length} ${out.length === 1 ? 'segment' : 'segments'}`),
    out.length ? h('ul', { class: 'segments' }, out.map(segment)) : h('p', { class: 'empty' }, 'In every segment.'),
  ];
}

function segment(s) {
  return h('li', {}, h('strong', {}, s.name),
    s.error ? h('p', { class: 'error' }, `This segment cannot be evaluated: ${s.error}`) : null,
    h('ul', { class: 'reasons' }, s.filters.map((f) => h('li', {},
      h('span', { class: f.matched ? 'yes' : 'no', 'aria-hidden': 'true' }, f.matched ? '✓' : '✗'), ' ',
      h('span', { class: 'visually-hidden' }, f.matched ? 'matches: ' : 'does not match: '),
      f.description))));
}

function messages(list) {
  return table([
    { label: 'Campaign', cell: (m) => m.name },
    { label: 'Variation', cell: (m) => (m.in_control ? 'Control group' : m.variation_name ?? '') },
    { label: 'Channel', cell: (m) => m.channel ?? '' },
    { label: 'When', cell: (m) => fmt.time(m.last_received) },
  ], list, 'No messages received: campaigns sent to this user are listed here, the latest of each.');
}
