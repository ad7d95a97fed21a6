// currents.js -- the Currents page (admins only): the connectors that
// stream brasa's events out (docs/currents.md) with their counters, lag and
// last error; pause, resume, replay and remove; a form to add one. And one
// connector's page (/dashboard/currents/<id>): its counters kept fresh
// while the page is shown, and its dead letter, sent again from there.
import { api, h, fill, link, flash, errorBox, table, field, select, fmt, isAdmin } from './ui.js';
import { navigate } from './app.js';

const TYPES = [['custom_http', 'Custom HTTP'], ['amplitude', 'Amplitude'], ['mixpanel', 'Mixpanel'], ['files', 'Storage files']];
const typeLabel = (t) => (TYPES.find(([v]) => v === t) || [t, t])[1];
const HTTP_KINDS = ['custom_http', 'amplitude', 'mixpanel'];

// The event types a connector may select. No route lists them: this is the
// table under "Event names" in docs/currents.md (the server's own list is
// src/currents/types.c), with the names Braze's glossary gives them.
const EVENT_TYPES = [
  ['users.behaviors.CustomEvent', 'Custom event'],
  ['users.behaviors.Purchase', 'Purchase'],
  ['users.behaviors.subscription.GlobalStateChange', 'Global Subscription State Change'],
  ['users.behaviors.subscriptiongroup.StateChange', 'Subscription Group State Change'],
  ['users.campaigns.Conversion', 'Campaign Conversion'],
  ['users.campaigns.EnrollInControl', 'Campaign Control Group Enrollment'],
  ['users.messages.email.Abort', 'Email Abort'],
  ['users.messages.email.Bounce', 'Email Bounce'],
  ['users.messages.email.Click', 'Email Click'],
  ['users.messages.email.Delivery', 'Email Delivery'],
  ['users.messages.email.Open', 'Email Open'],
  ['users.messages.email.Send', 'Email Send'],
  ['users.messages.email.SoftBounce', 'Email Soft Bounce'],
  ['users.messages.email.Unsubscribe', 'Email Unsubscribe'],
  ['users.messages.webhook.Abort', 'Webhook Abort'],
  ['users.messages.webhook.Failure', 'Webhook Failure'],
  ['users.messages.webhook.Send', 'Webhook Send'],
  ['users.UserDeleteRequest', 'User Delete Request'],
  ['users.UserOrphan', 'User Orphan'],
  ['brasa.cohorts.Change', 'Cohort Change'],
];

// The settings POST /admin/currents takes besides name, type, start and
// event_types (src/currents/config.c): which types each applies to, which
// need it, and what it means. Numbers are sent as numbers.
const SETTINGS = [
  { key: 'url', label: 'URL', types: HTTP_KINDS, required: ['custom_http'], attrs: { inputmode: 'url', placeholder: 'https://' },
    hint: { custom_http: 'Where the batches are POSTed: an http:// or https:// URL.',
      amplitude: "Leave empty for the region's endpoint; set it to send through a proxy.",
      mixpanel: "Leave empty for the region's endpoint; set it to send through a proxy (keep ?strict=1)." } },
  { key: 'token', label: 'Token', types: ['custom_http'], attrs: { type: 'password', autocomplete: 'off' },
    hint: 'Sent as Authorization: Bearer <token>; never shown back.' },
  { key: 'api_key', label: 'Amplitude API key', types: ['amplitude'], required: ['amplitude'], attrs: { type: 'password', autocomplete: 'off' },
    hint: "The project's API key; never shown back." },
  { key: 'api_secret', label: 'Mixpanel API secret', types: ['mixpanel'], required: ['mixpanel'], attrs: { type: 'password', autocomplete: 'off' },
    hint: 'Sent as HTTP Basic auth; never shown back.' },
  { key: 'project_token', label: 'Mixpanel project token', types: ['mixpanel'], required: ['mixpanel'], hint: "Each event's token." },
  { key: 'region', label: 'Region', types: ['amplitude', 'mixpanel'], options: [['US', 'US'], ['EU', 'EU']] },
  { key: 'dir', label: 'Directory', types: ['files'], required: ['files'], attrs: { placeholder: '/var/lib/brasa-currents' },
    hint: 'An absolute directory on the server, created if missing; sync it to a bucket.' },
  { key: 'format', label: 'Format', types: ['files'], options: [['avro', 'Avro'], ['ndjson', 'NDJSON']] },
  { key: 'prefix', label: 'Prefix', types: ['files'], hint: 'A relative path below the directory (none by default).' },
  { key: 'cluster', label: 'Cluster', types: ['files'], hint: 'The cluster part of file names: lowercase letters, digits and - (brasa-01).' },
  { key: 'max_bytes', label: 'Close files at (bytes)', types: ['files'], number: true, attrs: { min: 4096 }, hint: '64 MB unless set.' },
  { key: 'max_age_seconds', label: 'Close files after (seconds)', types: ['files'], number: true, attrs: { min: 1, max: 86400 }, hint: '300 unless set.' },
  { key: 'batch_size', label: 'Batch size', types: [...HTTP_KINDS, 'files'], number: true, attrs: { min: 1 },
    hint: { custom_http: 'Events per request: 1 to 100 (100).', amplitude: 'Events per request: up to 1000 (100).',
      mixpanel: 'Events per request: up to 2000 (100).', files: 'Events per file write: up to 10000 (1000).' } },
  { key: 'timeout_ms', label: 'Timeout (ms)', types: HTTP_KINDS, number: true, attrs: { min: 1000, max: 600000 }, hint: 'Per request, 1000 to 600000 (30000).' },
  { key: 'ca_file', label: 'CA file', types: HTTP_KINDS, hint: 'An absolute path on the server to a PEM file of CA certificates to trust instead of the system\'s.' },
];

export async function render(view, route) {
  if (route.id) return connectorPage(view, route.id);
  return listPage(view);
}

const path = (c) => `/admin/currents/${encodeURIComponent(c.id)}`;
const pagePath = (c) => `/dashboard/currents/${encodeURIComponent(c.id)}`;

// ---- the list ------------------------------------------------------------

async function listPage(view) {
  const list = h('div', {});
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  fill(view, h('h1', {}, 'Currents'),
    h('p', { class: 'muted' }, 'Connectors stream every event brasa stores (custom events, purchases, messages, subscription and cohort changes) to another tool, each from its own cursor, at least once.'),
    h('div', { class: 'row' }, refresh), list);
  const load = async () => {
    const res = await api('GET', '/admin/currents');
    fill(list, res.connectors.length
      ? res.connectors.map((c) => h('section', { class: 'card', 'aria-labelledby': `c-${c.id}` },
        h('h2', { id: `c-${c.id}` }, link(pagePath(c), c.name), ' ', h('small', {}, typeLabel(c.type))),
        counters(c), isAdmin() ? actions(c, load).el : null))
      : h('p', { class: 'empty' }, 'No connector yet: add one below to stream events to Heap (Custom HTTP), Amplitude, Mixpanel or a directory of files.'));
  };
  refresh.addEventListener('click', async () => {
    try { await load(); } catch (e) { fill(list, errorBox(e)); }
  });
  await load();
  if (isAdmin()) view.append(addForm(load));
}

// What a connector has done, as GET /admin/currents shows it.
function counters(c) {
  const stat = (label, value, extra) => h('div', { class: 'stat' }, h('span', { class: 'value' }, value), label, extra ? [' ', h('small', {}, extra)] : null);
  const errors = Object.entries(c.errors || {});
  return h('div', {},
    h('div', { class: 'grid' },
      stat('State', h('span', { class: `cur-state ${c.state}` }, c.state), c.state === 'idle' ? '(caught up)' : null),
      stat('Events sent', fmt.n(c.sent)),
      stat('Batches', fmt.n(c.batches)),
      stat('Retries', fmt.n(c.retries)),
      stat('Dead letter', fmt.n(c.dead_letter)),
      stat('Lag', `${fmt.n(c.lag.events)} events`, `${fmt.n(c.lag.seconds)} s behind`)),
    h('dl', { class: 'cur-facts' },
      h('dt', {}, 'Errors by status'),
      h('dd', {}, errors.length ? errors.map(([s, n], i) => [i ? ', ' : '', `${s === '0' ? 'no answer' : s}: ${fmt.n(n)}`]) : 'none'),
      h('dt', {}, 'Last error'),
      h('dd', {}, c.last_error ? [h('code', {}, c.last_error), ' at ', fmt.time(c.last_error_at)] : 'none'),
      h('dt', {}, 'Last sent'),
      h('dd', {}, fmt.time(c.last_sent_at))));
}

// A "from" choice: the earliest event the outbox holds, or a time (a
// datetime-local field, in the browser's zone, sent as ISO 8601 UTC).
// verb: what the time is for; first: an extra leading [value, label] choice.
function fromPicker(label, verb, first) {
  const choice = select(label, [...(first ? [first] : []), ['earliest', 'The earliest event the outbox holds'], ['time', 'A time']]);
  const when = field(`${label}: time`, { type: 'datetime-local', step: 1 });
  const sync = () => { when.wrap.hidden = choice.input.value !== 'time'; };
  choice.input.addEventListener('change', sync);
  sync();
  return {
    wraps: [choice.wrap, when.wrap],
    sync,
    value() {
      if (choice.input.value !== 'time') return choice.input.value;
      const t = when.input.value ? new Date(when.input.value) : null;
      if (!t || Number.isNaN(t.getTime())) throw new Error(`Choose the time to ${verb} from.`);
      return t.toISOString();
    },
  };
}

// The buttons of one connector: pause or resume, replay, remove (with a
// confirmation). changed() runs after each change; update(c) shows a new
// state without rebuilding (the connector page refreshes).
function actions(c, changed, removed) {
  const status = h('div', { 'aria-live': 'polite' });
  let cur = c;
  const run = async (what, fn) => {
    fill(status);
    try {
      await fn();
      flash(what);
      await changed();
    } catch (e) {
      fill(status, errorBox(e));
    }
  };
  const toggle = h('button', { type: 'button', class: 'secondary' });
  const label = () => { toggle.textContent = cur.state === 'paused' ? 'Resume' : 'Pause'; };
  label();
  toggle.addEventListener('click', () => {
    const resume = cur.state === 'paused';
    run(`${cur.name} ${resume ? 'resumed: it goes on from its cursor' : 'paused: its events wait in the outbox'}.`,
      () => api('POST', `${path(cur)}/${resume ? 'resume' : 'pause'}`, {}));
  });

  const from = fromPicker('Replay from', 'replay');
  const replay = h('form', { class: 'row cur-replay', novalidate: true, 'aria-label': `Replay ${c.name}` }, from.wraps,
    h('button', { type: 'submit', class: 'secondary' }, 'Replay'));
  replay.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(`${cur.name} sends again from there, with the same event ids.`, () => api('POST', `${path(cur)}/replay`, { from: from.value() }));
  });

  const confirmBox = h('div', {});
  const remove = h('button', { type: 'button', class: 'danger' }, 'Remove');
  remove.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'danger' }, `Yes, remove ${cur.name}`);
    const no = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    yes.addEventListener('click', () => run(`${cur.name} removed, with its dead letter.`, async () => {
      await api('DELETE', path(cur));
      fill(confirmBox);
      if (removed) removed();
    }));
    no.addEventListener('click', () => { fill(confirmBox); remove.focus(); });
    fill(confirmBox, h('div', { class: 'card secret', role: 'group', 'aria-label': 'Confirm removal' },
      h('p', {}, `Remove ${cur.name}? Its cursor, counters and dead letter go; the events stay in the outbox for the other connectors.`),
      h('div', { class: 'row' }, yes, no)));
    no.focus();
  });

  const el = h('div', {}, h('div', { class: 'row' }, toggle, remove), confirmBox, replay, status);
  return { el, update(next) { cur = next; label(); } };
}

// ---- adding one ----------------------------------------------------------

function addForm(added) {
  const name = field('Name', { required: true, autocomplete: 'off', maxlength: 64 }, '1 to 64 letters, digits, _ - or .; the CLI takes it where it takes the id.');
  const type = select('Type', TYPES, { required: true });
  const inputs = SETTINGS.map((s) => {
    const f = s.options ? select(s.label, s.options) : field(s.label, { ...s.attrs, type: s.number ? 'number' : (s.attrs && s.attrs.type) || 'text' },
      typeof s.hint === 'object' ? ' ' : s.hint); // a per-type hint is set by syncType
    return { s, f };
  });
  const start = fromPicker('Start from', 'start', ['latest', 'The events written from now on']);
  const every = h('input', { type: 'checkbox', id: 'cur-every', checked: true });
  const boxes = EVENT_TYPES.map(([t, label]) => {
    const box = h('input', { type: 'checkbox', value: t, id: `cur-t-${t}` });
    return { box, el: h('label', { for: box.id }, box, ' ', label, ' ', h('code', {}, t)) };
  });
  const syncEvery = () => boxes.forEach((b) => { b.box.disabled = every.checked; });
  every.addEventListener('change', syncEvery);
  syncEvery();
  const types = h('fieldset', {}, h('legend', {}, 'Event types'),
    h('label', { for: every.id }, every, ' Every type, including types later versions add'),
    h('div', { class: 'checks' }, boxes.map((b) => b.el)));

  // Only the fields the chosen type takes are shown (a misplaced one is refused).
  const syncType = () => {
    const t = type.input.value;
    for (const { s, f } of inputs) {
      f.wrap.hidden = !s.types.includes(t);
      if (s.required) f.input.required = s.required.includes(t);
      const hint = f.wrap.querySelector('small');
      if (hint && typeof s.hint === 'object') hint.textContent = s.hint[t] || '';
    }
  };
  type.input.addEventListener('change', syncType);
  syncType();

  const status = h('div', { 'aria-live': 'assertive' });
  const required = inputs.filter(({ s }) => s.required);
  const optional = inputs.filter(({ s }) => !s.required);
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'cur-add' },
    h('h2', { id: 'cur-add' }, 'Add a connector'), status,
    h('div', { class: 'row' }, name.wrap, type.wrap), required.map(({ f }) => f.wrap),
    h('details', {}, h('summary', {}, 'More settings'), optional.map(({ f }) => f.wrap), start.wraps),
    types, h('button', { type: 'submit' }, 'Add connector'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(status);
    try {
      const t = type.input.value;
      const body = { name: name.input.value, type: t };
      for (const { s, f } of inputs) {
        const v = f.input.value.trim();
        if (!s.types.includes(t) || v === '') continue;
        // the region and format selects send their default only when changed
        if (s.options && v === s.options[0][0]) continue;
        body[s.key] = s.number ? Number(v) : v;
      }
      const st = start.value();
      if (st !== 'latest') body.start = st;
      if (!every.checked) body.event_types = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
      const res = await api('POST', '/admin/currents', body);
      flash(`Connector ${body.name} added (id ${res.id}).`);
      form.reset();
      syncEvery();
      syncType();
      start.sync();
      await added();
    } catch (e) {
      fill(status, errorBox(e));
    }
  });
  return form;
}

// ---- one connector -------------------------------------------------------

async function connectorPage(view, key) {
  let c = (await api('GET', `/admin/currents/${encodeURIComponent(key)}`)).connector;
  const stats = h('div', {});
  const dead = h('div', {});
  const title = h('h1', {}, c.name);
  const refresh = async () => {
    c = (await api('GET', path(c))).connector;
    fill(stats, counters(c));
    if (act) act.update(c);
  };
  const act = isAdmin() ? actions(c, refresh, () => navigate('/dashboard/currents')) : null;
  fill(view, h('p', {}, link('/dashboard/currents', '← All connectors')), title,
    h('p', { class: 'muted' }, `${typeLabel(c.type)} connector, added ${fmt.time(c.created_at)}. The counters refresh every 2 seconds.`),
    stats, act ? act.el : null, settings(c),
    h('h2', {}, 'Dead letter'),
    h('p', { class: 'muted' }, 'The events the destination refused on their own (a 400 for the event alone), with its answer. Sent again, an event the destination takes leaves the dead letter; refused again, it stays with the new answer.'),
    dead);
  fill(stats, counters(c));
  const letter = deadLetter(c, dead);
  await letter.load();

  // Every 2 s while this view is the page shown: a navigation replaces it.
  const tick = async () => {
    if (!view.isConnected) return;
    try {
      await refresh();
      await letter.load();
    } catch (e) {
      if (!view.isConnected) return;
      fill(stats, errorBox(e));
      if (e.status === 404 || e.status === 401) return; // removed elsewhere, or signed out
    }
    if (view.isConnected) setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}

// The connector's settings as the server shows them back (secrets as "set").
function settings(c) {
  const rows = Object.entries(c.settings || {}).map(([k, v]) => [k.replace(/_set$/, ''),
    k.endsWith('_set') ? 'set (never shown)' : Array.isArray(v) ? v.join(', ') : String(v)]);
  if (!('event_types' in (c.settings || {}))) rows.push(['event_types', 'every type']);
  return h('details', {}, h('summary', {}, 'Settings'),
    table([{ label: 'Setting', cell: (r) => h('code', {}, r[0]) }, { label: 'Value', cell: (r) => r[1] }], rows, 'Defaults only.'),
    h('p', { class: 'muted' }, 'Settings are fixed once made: remove the connector and add it again to change them, then replay it to where the old one was.'));
}

// The dead letter, 100 events a page, reloaded by the page's timer: the
// table is rebuilt only when what it shows changed (an open event stays open).
function deadLetter(c, el) {
  const pages = [0]; // the "after" of each page shown so far
  let shown = '';
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div', {});
  const all = h('button', { type: 'button' }, 'Replay all');
  el.classList.add('cur-dead');
  fill(el, isAdmin() ? h('div', { class: 'row' }, all) : null, status, list);
  const replay = async (body, what) => {
    fill(status);
    try {
      const res = await api('POST', `${path(c)}/dead_letter/replay`, body);
      flash(what(res.marked));
      await load(true);
    } catch (e) {
      fill(status, errorBox(e));
    }
  };
  all.addEventListener('click', () => replay({}, (n) => `${fmt.n(n)} dead-letter event${n === 1 ? '' : 's'} will be sent again within a second.`));

  async function load(force) {
    const after = pages[pages.length - 1];
    const res = await api('GET', `${path(c)}/dead_letter?after=${after}&limit=100`);
    const sig = JSON.stringify([after, res.events.map((d) => [d.seq, d.status, d.error, d.at, d.replay])]);
    if (!force && sig === shown) return;
    shown = sig;
    all.disabled = !res.events.length && after === 0;
    const nav = [];
    if (pages.length > 1) nav.push(pageButton('Previous 100', () => pages.pop()));
    if (res.events.length === 100) nav.push(pageButton('Next 100', () => pages.push(res.events[99].seq)));
    fill(list, table([
      { label: 'Seq', class: 'num', cell: (d) => String(d.seq) },
      { label: 'Event type', cell: (d) => h('code', {}, d.event_type) },
      { label: 'Status', class: 'num', cell: (d) => String(d.status) },
      { label: 'Error', cell: (d) => d.error },
      { label: 'Time', cell: (d) => fmt.time(d.at) },
      { label: 'Event', cell: (d) => h('details', {}, h('summary', {}, `Event ${d.event_id}`), h('pre', {}, JSON.stringify(d.event, null, 2))) },
      ...(isAdmin() ? [{ label: 'Action', cell: (d) => (d.replay ? h('span', { class: 'muted' }, 'being sent again')
        : h('button', { type: 'button', class: 'secondary', 'aria-label': `Replay event ${d.seq}`,
          onclick: () => replay({ seq: d.seq }, () => `Dead-letter event ${d.seq} will be sent again within a second.`) }, 'Replay')) }] : []),
    ], res.events, after ? 'No more events.' : 'The dead letter is empty: every event was taken or is still on its way.'), nav.length ? h('div', { class: 'row' }, nav) : null);
  }
  function pageButton(label, move) {
    return h('button', { type: 'button', class: 'secondary', onclick: async () => { move(); try { await load(true); } catch (e) { fill(status, errorBox(e)); } } }, label);
  }
  return { load };
}
