// segments.js -- the Segments page: the list (/dashboard/segments) and the
// builder (/dashboard/segments/{id}, /dashboard/segments/new) for every
// filter type of docs/segments.md, in AND/OR groups, with the exact size
// and the filters in words from /admin/segments/preview as you edit; on a
// saved segment, its daily sizes and an export of its users.
import { api, h, fill, link, flash, errorBox, table, field, select, fmt, canWrite, chart } from './ui.js';
import { navigate } from './app.js';

// ---- what a filter can be (src/core/segment.c's tables) ---------------------

// Operators by value class: [op, words, operand kind]. The kinds: none, str,
// regex, strs (a list of strings), num, num2 ([low, high]), time (ISO-8601),
// days, count, events (a count, with an optional window of days), elems (a
// list of strings and numbers), sub1 / subs (statuses: one, or a list).
const OPS = {
  str: ['Text', [['equals', 'equals', 'str'], ['not_equals', 'does not equal', 'str'], ['in', 'is any of', 'strs'],
    ['not_in', 'is none of', 'strs'], ['contains', 'contains', 'str'], ['does_not_contain', 'does not contain', 'str'],
    ['matches_regex', 'matches regex', 'regex'], ['does_not_match_regex', 'does not match regex', 'regex']]],
  num: ['Number', [['number_equals', '= (number)', 'num'], ['number_not_equals', '≠ (number)', 'num'],
    ['less_than', '<', 'num'], ['greater_than', '>', 'num'], ['less_than_or_equal_to', '≤', 'num'],
    ['greater_than_or_equal_to', '≥', 'num'], ['between', 'is between (inclusive)', 'num2']]],
  bool: ['Boolean', [['is_true', 'is true', 'none'], ['is_false', 'is false', 'none'],
    ['is_not_true', 'is not true', 'none'], ['is_not_false', 'is not false', 'none']]],
  time: ['Time', [['before', 'is before', 'time'], ['after', 'is after', 'time'],
    ['within_last_days', 'is within the last … days', 'days'], ['more_than_days_ago', 'is more than … days ago', 'days'],
    ['within_next_days', 'is within the next … days', 'days'],
    ['more_than_days_from_now', 'is more than … days from now', 'days']]],
  arr: ['Array', [['includes_any', 'includes any of', 'elems'], ['includes_all', 'includes all of', 'elems'],
    ['includes_none', 'includes none of', 'elems'], ['size_equals', 'has exactly … elements', 'count'],
    ['size_greater_than', 'has more elements than', 'count'], ['size_less_than', 'has fewer elements than', 'count']]],
  gen: ['Any value', [['exists', 'exists', 'none'], ['blank', 'is blank', 'none']]],
  sub: ['Status', [['equals', 'is', 'sub1'], ['not_equals', 'is not', 'sub1'], ['in', 'is any of', 'subs'],
    ['not_in', 'is none of', 'subs']]],
  event: ['Performed', [['performed', 'performed at least once', 'none'], ['never_performed', 'never performed', 'none'],
    ['count_gt', 'performed more than … times', 'events'], ['count_ge', 'performed at least … times', 'events'],
    ['count_lt', 'performed fewer than … times', 'events'], ['count_le', 'performed at most … times', 'events'],
    ['count_eq', 'performed exactly … times', 'events'], ['first_before', 'first performed before', 'time'],
    ['first_after', 'first performed after', 'time'], ['last_before', 'last performed before', 'time'],
    ['last_after', 'last performed after', 'time']]],
  cohort: ['Membership', [['includes', 'is in the cohort', 'none'], ['excludes', 'is not in the cohort', 'none']]],
  seg: ['Membership', [['in', 'is in the segment', 'none'], ['not_in', 'is not in the segment', 'none']]],
};

const SUB_STATUSES = ['opted_in', 'subscribed', 'unsubscribed'];
const GROUP_STATES = ['subscribed', 'unsubscribed'];

// Filter types: [type, label, operator classes, extra fields]. The extra
// fields: name (attribute or event), product (optional), group_id, cohort,
// segment.
const TYPES = [
  ['custom_attribute', 'Custom attribute', ['str', 'num', 'bool', 'time', 'arr', 'gen'], 'name'],
  ['custom_event', 'Custom event', ['event'], 'name'],
  ['purchase', 'Purchase', ['event'], 'product'],
  ['cohort', 'Partner cohort', ['cohort'], 'cohort'],
  ['segment', 'Segment membership', ['seg'], 'segment'],
  ['email_subscription_status', 'Email subscription status', ['sub']],
  ['push_subscription_status', 'Push subscription status', ['sub']],
  ['subscription_group', 'Subscription group', ['sub'], 'group_id'],
  ['random_bucket', 'Random bucket (0–9999)', ['num']],
  ['created_at', 'Created at', ['time']],
  ['last_used_app', 'Last used app', ['time', 'gen']],
  ['total_revenue', 'Total revenue', ['num', 'gen']],
  ['country', 'Country', ['str', 'gen']],
  ['language', 'Language', ['str', 'gen']],
  ['time_zone', 'Time zone', ['str', 'gen']],
  ['gender', 'Gender', ['str', 'gen']],
  ['home_city', 'Home city', ['str', 'gen']],
  ['dob', 'Date of birth', ['str', 'gen']],
  ['email_subscribe', 'Email subscribe (stored value)', ['str', 'gen']],
  ['push_subscribe', 'Push subscribe (stored value)', ['str', 'gen']],
  ['email', 'Email address', ['gen']],
  ['phone', 'Phone number', ['gen']],
  ['external_id', 'External id', ['gen']],
];
const typeOf = (t) => TYPES.find((x) => x[0] === t) || TYPES[0];
const opsOf = (t) => typeOf(t)[2].flatMap((c) => OPS[c][1]);
const kindOf = (t, op) => (opsOf(t).find((o) => o[0] === op) || [null, null, 'none'])[2];

// Partners Braze names cohort filters after; those with imported cohorts
// are added from /admin/cohorts.
const KNOWN_PARTNERS = ['heap', 'tinyclues', 'amplitude', 'segment', 'mixpanel', 'census', 'hightouch'];
const partnerLabel = (p) => `${p.charAt(0).toUpperCase()}${p.slice(1)} cohorts`;

// ---- the model: the definition's groups and filters, values as typed -------

let seq = 0;
const newLeaf = (type = 'custom_attribute') => ({ key: ++seq, type, op: opsOf(type)[0][0], value: '', value2: '', days: '', values: [] });
const newGroup = (op = 'and', items = []) => ({ key: ++seq, group: op, items });

// A definition (JSON) to the model: a lone filter becomes an AND group of one.
function fromDef(d) {
  const g = fromNode(d);
  return g.group ? g : newGroup('and', [g]);
}

function fromNode(d) {
  if (d && typeof d === 'object' && (Array.isArray(d.and) || Array.isArray(d.or)))
    return newGroup(d.and ? 'and' : 'or', (d.and || d.or).map(fromNode));
  const l = newLeaf(typeOf(d.type)[0]);
  Object.assign(l, { type: d.type, op: d.op });
  for (const k of ['name', 'product', 'group_id', 'partner', 'cohort_id', 'id']) if (typeof d[k] === 'string') l[k] = d[k];
  const v = d.value;
  const kind = kindOf(l.type, l.op);
  if (kind === 'num2' && Array.isArray(v)) [l.value, l.value2] = v.map(String);
  else if (kind === 'subs' && Array.isArray(v)) l.values = v.map(String);
  else if ((kind === 'strs' || kind === 'elems') && Array.isArray(v))
    l.value = v.map((x) => (typeof x === 'string' && kind === 'elems' && isNumeric(x) ? JSON.stringify(x) : String(x))).join('\n');
  else if (v !== undefined && v !== null) l.value = String(v);
  if (d.days !== undefined && d.days !== null) l.days = String(d.days);
  return l;
}

const isNumeric = (s) => /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s.trim());
const lines = (s) => s.split('\n').map((x) => x.trim()).filter((x) => x !== '');
// A number field's value: a number when it reads as one, else the text as
// typed (the server then says what it wants).
const num = (s) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);

// The model to the definition JSON, exactly as the server takes it.
function toDef(n) {
  if (n.group) return { [n.group]: n.items.map(toDef) };
  const o = { type: n.type };
  const extra = typeOf(n.type)[3];
  if (extra === 'name') o.name = n.name || '';
  if (extra === 'product' && n.product) o.product = n.product;
  if (extra === 'group_id') o.group_id = n.group_id || '';
  if (extra === 'cohort') Object.assign(o, { partner: n.partner || '', cohort_id: n.cohort_id || '' });
  if (extra === 'segment') o.id = n.id || '';
  o.op = n.op;
  switch (kindOf(n.type, n.op)) {
  case 'str': case 'regex': case 'time': case 'sub1': o.value = n.value; break;
  case 'strs': o.value = lines(n.value); break;
  case 'subs': o.value = n.values; break;
  case 'num': case 'days': case 'count': o.value = num(n.value); break;
  case 'num2': o.value = [num(n.value), num(n.value2)]; break;
  case 'events':
    o.value = num(n.value);
    if (n.days.trim() !== '') o.days = num(n.days);
    break;
  case 'elems':
    // A quoted line is a string ("2"); a line that reads as a number is one.
    o.value = lines(n.value).map((x) => (/^".*"$/.test(x) ? x.slice(1, -1) : isNumeric(x) ? Number(x) : x));
    break;
  default: break;
  }
  return o;
}

const hasEmptyGroup = (n) => n.group && (!n.items.length || n.items.some(hasEmptyGroup));

// ---- the list --------------------------------------------------------------

export async function render(view, route) {
  if (route.id) return renderBuilder(view, route.id === 'new' ? null : route.id);
  const archived = route.query.get('archived') === 'true';
  const head = h('div', { class: 'row spread' }, h('h1', {}, 'Segments'),
    canWrite() ? h('button', { type: 'button', onclick: () => navigate('/dashboard/segments/new') }, 'New segment') : null);
  const toggle = h('input', { type: 'checkbox', id: 'seg-archived', checked: archived,
    onchange: (ev) => navigate(`/dashboard/segments${ev.target.checked ? '?archived=true' : ''}`) });
  fill(view, head,
    h('p', { class: 'muted' }, 'A segment is a set of users defined by filters on their attributes, events, purchases, subscriptions and partner cohorts. Campaigns and exports use them.'),
    h('div', { class: 'checks' }, h('label', { for: 'seg-archived' }, toggle, ' Show archived segments too')));
  const res = await api('GET', `/admin/segments${archived ? '?archived=true' : ''}`);
  view.append(table([
    { label: 'Name', cell: (s) => [link(`/dashboard/segments/${encodeURIComponent(s.id)}`, s.name), s.archived ? h('span', { class: 'no' }, ' (archived)') : null] },
    { label: 'Size', class: 'num', cell: (s) => fmt.n(s.size) },
    { label: 'Tags', cell: (s) => (s.tags || []).join(', ') },
    { label: 'Description', cell: (s) => s.text_description || h('span', { class: 'muted', title: s.description || '' }, clip(s.description || '')) },
    { label: 'Created', cell: (s) => fmt.time(s.created_at) },
    { label: 'Updated', cell: (s) => fmt.time(s.updated_at) },
  ], res.segments, canWrite() ? 'No segments yet: press "New segment" to build one from filters.'
    : 'No segments yet: an operator who may edit can build one.'));
}

// Long filters in words are cut in the list (the builder shows them whole).
const clip = (t) => (t.length > 160 ? `${t.slice(0, 157)}…` : t);

// ---- the builder -----------------------------------------------------------

async function renderBuilder(view, id) {
  const [seg, segs, cohorts] = await Promise.all([
    id ? api('GET', `/admin/segments/${encodeURIComponent(id)}`).then((r) => r.segment) : null,
    api('GET', '/admin/segments').then((r) => r.segments),
    api('GET', '/admin/cohorts').then((r) => r.cohorts),
  ]);
  const writable = canWrite();
  const ctx = {
    root: seg ? fromDef(seg.definition) : newGroup('and', [newLeaf()]),
    others: segs.filter((s) => s.id !== id),
    partners: [...new Set([...KNOWN_PARTNERS, ...cohorts.map((c) => c.partner)])].sort(),
    cohorts: new Map(), // partner -> its cohorts (GET /admin/cohorts?partner=P)
    changed: () => {},
  };

  const name = field('Name', { name: 'name', required: true, maxlength: 255, value: seg ? seg.name : '' });
  const tags = field('Tags', { name: 'tags', value: seg ? (seg.tags || []).join(', ') : '' }, 'Separated by commas.');
  const desc = field('Description', { tag: 'textarea', name: 'text_description', rows: 2, class: 'short' });
  desc.input.value = seg ? seg.text_description || '' : '';
  const groupBox = h('div', {});
  const sizeBox = h('div', { class: 'stat seg-size', 'aria-live': 'polite' });
  const refusal = h('div', { 'aria-live': 'assertive' });
  const words = h('p', { class: 'seg-words' });
  const json = h('pre', { id: 'seg-json', 'aria-label': 'Definition as JSON', tabindex: '0' });
  const saveStatus = h('div', { 'aria-live': 'assertive' });

  const form = h('form', { class: 'card', 'aria-labelledby': 'seg-title' },
    h('fieldset', { class: 'plain', disabled: !writable },
      h('legend', { class: 'visually-hidden' }, 'Segment'),
      h('div', { class: 'row' }, name.wrap, tags.wrap), desc.wrap,
      h('h2', {}, 'Filters'), groupBox),
    h('div', { class: 'seg-result' }, h('h2', {}, 'Size'), sizeBox, refusal, words),
    saveStatus,
    writable ? h('div', { class: 'row' }, h('button', { type: 'submit' }, seg ? 'Save segment' : 'Create segment'),
      seg && !seg.archived ? h('button', { type: 'button', class: 'danger', onclick: archive }, 'Archive segment') : null) : null);

  fill(view, h('p', {}, link('/dashboard/segments', '← All segments')),
    h('h1', { id: 'seg-title' }, seg ? `Segment: ${seg.name}` : 'New segment'),
    seg && seg.archived ? h('p', { class: 'error' }, 'This segment is archived: it is kept for its history and can no longer be exported.') : null,
    !writable ? h('p', { class: 'muted' }, 'You may look at this segment; changing it needs a marketer or admin operator.') : null,
    form,
    h('section', { 'aria-labelledby': 'seg-json-h' }, h('h2', { id: 'seg-json-h' }, 'Definition as JSON'),
      h('p', { class: 'muted' }, 'What the filters above send to the server (docs/segments.md); POST it to /admin/segments with the admin API.'), json));

  // The size and the filters in words, ~300 ms after the last edit; answers
  // to older edits are dropped.
  let timer = null;
  let asked = 0;
  async function preview() {
    if (!form.isConnected) return; // the page was left meanwhile
    const def = toDef(ctx.root);
    json.textContent = JSON.stringify(def, null, 2);
    fill(refusal);
    if (hasEmptyGroup(ctx.root)) {
      fill(sizeBox, h('span', { class: 'value' }, '–'), 'Add a filter to see who is in the segment.');
      fill(words);
      return;
    }
    const mine = ++asked;
    fill(sizeBox, h('span', { class: 'value muted' }, '…'), 'counting');
    try {
      const r = await api('POST', '/admin/segments/preview', { definition: def });
      if (mine !== asked) return;
      fill(sizeBox, h('span', { class: 'value', id: 'seg-size' }, fmt.n(r.size)), r.size === 1 ? 'user' : 'users');
      fill(words, h('strong', {}, 'Users who: '), r.description);
    } catch (e) {
      if (mine !== asked) return;
      fill(sizeBox, h('span', { class: 'value' }, '–'), 'no size: the definition is refused');
      fill(words);
      fill(refusal, errorBox(e));
    }
  }
  ctx.changed = () => {
    json.textContent = JSON.stringify(toDef(ctx.root), null, 2);
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  };
  fill(groupBox, groupEditor(ctx, ctx.root, ''));
  preview();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: name.input.value, definition: toDef(ctx.root),
      tags: tags.input.value.split(',').map((t) => t.trim()).filter(Boolean), text_description: desc.input.value };
    fill(saveStatus);
    try {
      const r = await api('POST', seg ? `/admin/segments/${encodeURIComponent(seg.id)}` : '/admin/segments', body);
      navigate(`/dashboard/segments/${encodeURIComponent(r.segment.id)}`);
      flash(`Saved "${r.segment.name}": ${fmt.n(r.segment.size)} ${r.segment.size === 1 ? 'user' : 'users'}.`); // after navigate, which clears messages
    } catch (e) {
      fill(saveStatus, errorBox(`Not saved: ${e.message}`));
    }
  });

  async function archive() {
    if (!window.confirm(`Archive the segment "${seg.name}"? It leaves the list and can no longer be exported.`)) return;
    try {
      await api('POST', `/admin/segments/${encodeURIComponent(seg.id)}`, { archived: true });
      navigate('/dashboard/segments');
      flash(`Archived "${seg.name}".`);
    } catch (e) {
      fill(saveStatus, errorBox(e));
    }
  }

  if (seg) {
    const chartBox = h('div', { class: 'card' });
    view.append(h('section', { 'aria-labelledby': 'seg-series-h' }, h('h2', { id: 'seg-series-h' }, 'Size per day'), chartBox),
      exportSection(seg));
    sizeChart(chartBox, seg.id);
  }
}

const DAY = 86400000;

async function sizeChart(el, id) {
  try {
    const r = await api('GET', `/segments/data_series?segment_id=${encodeURIComponent(id)}&length=30`);
    if (!r.data.length) {
      fill(el, h('p', { class: 'empty' }, 'No daily size yet: the server takes one each day, and whenever the segment is saved.'));
      return;
    }
    // Every one of the 30 days on the axis, a gap where a day has no size.
    const today = Math.floor(Date.now() / DAY) * DAY;
    const days = Array.from({ length: 30 }, (_, i) => today - (29 - i) * DAY);
    const size = new Map(r.data.map((d) => [Date.parse(`${d.time}T00:00:00Z`), d.size]));
    await chart(el, 'Users in the segment, last 30 days', days.map((d) => d / 1000),
      [{ label: 'Users', values: days.map((d) => (size.has(d) ? size.get(d) : null)) }]);
  } catch (e) {
    fill(el, errorBox(e));
  }
}

// ---- filters and groups ----------------------------------------------------

// A group: its AND/OR choice, its members, and buttons to add a filter or a
// group inside it. `label` numbers the members ("2.1" is the first member of
// the second; the root's label is empty).
function groupEditor(ctx, g, label) {
  const box = h('div', { class: 'seg-group' });
  const draw = () => {
    const match = select(label ? `Group ${label}: users must match` : 'Users must match',
      [['and', 'all of these filters (AND)'], ['or', 'any of these filters (OR)']]);
    match.input.value = g.group;
    match.input.addEventListener('change', () => { g.group = match.input.value; ctx.changed(); });
    const items = g.items.map((it, i) => {
      const l = label ? `${label}.${i + 1}` : String(i + 1);
      const remove = () => {
        g.items.splice(i, 1);
        draw();
        ctx.changed();
        box.querySelector(':scope > .row > button').focus(); // the removed row had it
      };
      if (it.group) {
        return h('fieldset', { class: 'seg-subgroup' }, h('legend', {}, `Group ${l}`), groupEditor(ctx, it, l),
          h('button', { type: 'button', class: 'secondary', onclick: remove }, `Remove group ${l}`));
      }
      return filterEditor(ctx, it, l, remove);
    });
    const add = (node) => () => {
      g.items.push(node());
      draw();
      ctx.changed();
      const rows = box.querySelectorAll(':scope > fieldset');
      const sel = rows[rows.length - 1] && rows[rows.length - 1].querySelector('select');
      if (sel) sel.focus();
    };
    fill(box, match.wrap, items.length ? items : h('p', { class: 'empty' }, 'No filter yet: add one.'),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', onclick: add(() => newLeaf()) }, label ? `Add filter to group ${label}` : 'Add filter'),
        h('button', { type: 'button', class: 'secondary', onclick: add(() => newGroup(g.group === 'and' ? 'or' : 'and', [newLeaf()])) },
          label ? `Add group to group ${label}` : 'Add group')));
  };
  draw();
  return box;
}

// One filter: its type, the fields of that type, and a remove button.
function filterEditor(ctx, f, label, remove) {
  const typeSel = select('Filter type', TYPES.map((t) => [t[0], t[1]]));
  typeSel.input.value = f.type;
  const fields = h('div', { class: 'row seg-fields' });
  const drawFields = () => fill(fields, typeFields(ctx, f));
  typeSel.input.addEventListener('change', () => {
    const keep = f.key;
    Object.keys(f).forEach((k) => delete f[k]);
    Object.assign(f, newLeaf(typeSel.input.value), { key: keep });
    drawFields();
    ctx.changed();
  });
  drawFields();
  return h('fieldset', { class: 'seg-filter' }, h('legend', {}, `Filter ${label}`),
    h('div', { class: 'row' }, typeSel.wrap, fields,
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove filter ${label}`, onclick: remove }, 'Remove')));
}

// The fields of a filter's type, then its operator and the operator's value.
function typeFields(ctx, f) {
  const out = [];
  const text = (...args) => out.push(bound(ctx, f, ...args));
  switch (typeOf(f.type)[3]) {
  case 'name': text(f.type === 'custom_event' ? 'Event name' : 'Attribute name', 'name', { required: true }); break;
  case 'product': text('Product', 'product', {}, 'Empty: any product.'); break;
  case 'group_id': text('Subscription group id', 'group_id', { required: true }); break;
  case 'cohort': out.push(...cohortFields(ctx, f)); break;
  case 'segment': {
    const s = select('Segment', [['', 'Choose a segment'], ...ctx.others.map((x) => [x.id, x.name])]);
    if (f.id && !ctx.others.some((x) => x.id === f.id)) s.input.append(h('option', { value: f.id }, `${f.id} (not listed)`));
    s.input.value = f.id || '';
    s.input.addEventListener('change', () => { f.id = s.input.value; ctx.changed(); });
    out.push(s.wrap);
    break;
  }
  default: break;
  }
  const opSel = field('Operator', { tag: 'select' });
  for (const c of typeOf(f.type)[2]) {
    const opts = OPS[c][1].map(([v, l]) => h('option', { value: v }, l));
    if (typeOf(f.type)[2].length > 1) opSel.input.append(h('optgroup', { label: OPS[c][0] }, opts));
    else opSel.input.append(...opts);
  }
  opSel.input.value = f.op;
  const valueBox = h('div', { class: 'row seg-value' });
  const drawValue = () => fill(valueBox, valueFields(ctx, f));
  opSel.input.addEventListener('change', () => {
    const before = kindOf(f.type, f.op);
    f.op = opSel.input.value;
    if (kindOf(f.type, f.op) !== before) Object.assign(f, { value: '', value2: '', days: '', values: [] });
    drawValue();
    ctx.changed();
  });
  drawValue();
  out.push(opSel.wrap, valueBox);
  return out;
}

// A labelled input bound to the filter's key: each edit goes to the model.
function bound(ctx, f, label, key, attrs = {}, hint) {
  const x = field(label, { value: f[key] || '', ...attrs }, hint);
  x.input.addEventListener('input', () => { f[key] = x.input.value; ctx.changed(); });
  return x.wrap;
}

function valueFields(ctx, f) {
  const text = (...args) => bound(ctx, f, ...args);
  const list = (label, hint) => {
    const x = field(label, { tag: 'textarea', rows: 3, class: 'short' }, hint);
    x.input.value = f.value;
    x.input.addEventListener('input', () => { f.value = x.input.value; ctx.changed(); });
    return x.wrap;
  };
  const statuses = f.type === 'subscription_group' ? GROUP_STATES : SUB_STATUSES;
  switch (kindOf(f.type, f.op)) {
  case 'str': return text('Value', 'value');
  case 'regex': return text('Regex', 'value', {}, 'Ignores ASCII case; matches anywhere unless anchored.');
  case 'strs': return list('Values', 'One per line.');
  case 'elems': return list('Values', 'One per line: a number is a number; "quoted" text is a string.');
  case 'num': return text('Value', 'value', { type: 'number', step: 'any', min: f.type === 'random_bucket' ? 0 : null, max: f.type === 'random_bucket' ? 9999 : null });
  case 'num2': return [text('From', 'value', { type: 'number', step: 'any' }), text('To (inclusive)', 'value2', { type: 'number', step: 'any' })];
  case 'time': return text('Time', 'value', { placeholder: '2026-01-31T00:00:00Z' }, 'ISO-8601.');
  case 'days': return text('Days', 'value', { type: 'number', min: 0, step: 1 });
  case 'count': return text('Number of elements', 'value', { type: 'number', min: 0, step: 1 });
  case 'events': return [text('Times', 'value', { type: 'number', min: 0, step: 1 }),
    text('In the last … days', 'days', { type: 'number', min: 1, max: 90, step: 1 }, 'Empty: all time; at most 90.')];
  case 'sub1': {
    const s = select('Status', [['', 'Choose'], ...statuses.map((v) => [v, v.replace('_', ' ')])]);
    s.input.value = f.value;
    s.input.addEventListener('change', () => { f.value = s.input.value; ctx.changed(); });
    return s.wrap;
  }
  case 'subs':
    return h('fieldset', { class: 'checks' }, h('legend', {}, 'Statuses'), statuses.map((v) => {
      const c = h('input', { type: 'checkbox', checked: f.values.includes(v) });
      c.addEventListener('change', () => {
        f.values = statuses.filter((x) => (x === v ? c.checked : f.values.includes(x)));
        ctx.changed();
      });
      return h('label', {}, c, ` ${v.replace('_', ' ')}`);
    }));
  default: return null;
  }
}

// A cohort filter: the partner (Braze's "Heap cohorts", "Tinyclues
// cohorts" ...), then one of its imported cohorts by name.
function cohortFields(ctx, f) {
  const p = select('Partner', [['', 'Choose a partner'], ...ctx.partners.map((x) => [x, partnerLabel(x)])]);
  if (f.partner && !ctx.partners.includes(f.partner)) p.input.append(h('option', { value: f.partner }, partnerLabel(f.partner)));
  p.input.value = f.partner || '';
  const c = select('Cohort', [['', 'Choose a partner first']]);
  async function fillCohorts() {
    const partner = f.partner;
    if (!partner) {
      fill(c.input, h('option', { value: '' }, 'Choose a partner first'));
      return;
    }
    if (!ctx.cohorts.has(partner)) {
      try {
        ctx.cohorts.set(partner, (await api('GET', `/admin/cohorts?partner=${encodeURIComponent(partner)}`)).cohorts);
      } catch (e) {
        fill(c.input, h('option', { value: '' }, `The cohorts could not be read: ${e.message}`));
        return;
      }
    }
    if (f.partner !== partner) return;
    const list = ctx.cohorts.get(partner);
    fill(c.input, h('option', { value: '' }, list.length ? 'Choose a cohort' : `No ${partner} cohort imported yet`),
      list.map((x) => h('option', { value: x.cohort_id }, `${x.name || x.cohort_id} (${fmt.n(x.size)} users)`)));
    if (f.cohort_id && !list.some((x) => x.cohort_id === f.cohort_id))
      c.input.append(h('option', { value: f.cohort_id }, `${f.cohort_id} (not imported yet: no members)`));
    c.input.value = f.cohort_id || '';
  }
  p.input.addEventListener('change', () => {
    f.partner = p.input.value;
    f.cohort_id = '';
    fillCohorts();
    ctx.changed();
  });
  c.input.addEventListener('change', () => { f.cohort_id = c.input.value; ctx.changed(); });
  fillCohorts();
  return [p.wrap, c.wrap];
}

// ---- export ----------------------------------------------------------------

// Braze's fields_to_export names (src/core/export.c), a few checked.
const EXPORT_FIELDS = ['external_id', 'braze_id', 'user_aliases', 'created_at', 'random_bucket', 'first_name', 'last_name',
  'email', 'phone', 'dob', 'home_city', 'country', 'language', 'time_zone', 'gender', 'total_revenue', 'email_subscribe',
  'push_subscribe', 'custom_attributes', 'custom_events', 'purchases', 'cohorts', 'devices', 'push_tokens', 'apps',
  'campaigns_received', 'canvases_received', 'cards_clicked', 'last_coordinates', 'attributed_campaign',
  'attributed_source', 'attributed_adgroup', 'attributed_ad', 'uninstalled_at'];
const EXPORT_DEFAULT = ['external_id', 'email', 'custom_attributes'];

function exportSection(seg) {
  const writable = canWrite() && !seg.archived;
  const checks = EXPORT_FIELDS.map((n) => {
    const c = h('input', { type: 'checkbox', value: n, checked: EXPORT_DEFAULT.includes(n), disabled: !writable });
    return { n, c, label: h('label', {}, c, ` ${n}`) };
  });
  const format = select('File format', [['zip', 'zip (one JSON file per 5,000 users)'], ['gzip', 'gzip (one JSON lines stream)']],
    { disabled: !writable });
  const status = h('div', { 'aria-live': 'polite' });
  const go = h('button', { type: 'button', disabled: !writable }, 'Export users');
  go.addEventListener('click', async () => {
    const fields = checks.filter((x) => x.c.checked).map((x) => x.n);
    fill(status);
    try {
      const r = await api('POST', '/users/export/segment', { segment_id: seg.id, fields_to_export: fields, output_format: format.input.value });
      const state = h('span', { class: 'muted' }, 'Queued: the file is being written…');
      fill(status, h('p', {}, 'Download: ', h('a', { href: r.url, download: true }, r.url), ' ', state),
        h('p', { class: 'muted' }, 'Anyone with this link can download the file until it expires: treat it as a secret.'));
      watchExport(r.url, state);
    } catch (e) {
      fill(status, errorBox(e));
    }
  });
  return h('section', { 'aria-labelledby': 'seg-export-h' }, h('h2', { id: 'seg-export-h' }, 'Export'),
    h('div', { class: 'card' },
      h('p', { class: 'muted' }, 'One JSON object per user, as /users/export/ids gives it, in a file brasa serves.'),
      h('fieldset', {}, h('legend', {}, 'Fields to export'), h('div', { class: 'checks' }, checks.map((x) => x.label))),
      format.wrap, go, status));
}

// The download answers 404 until the file is complete: asked (HEAD) every
// second for ten minutes at most.
async function watchExport(url, state) {
  const path = new URL(url, location.href).pathname;
  for (let i = 0; i < 600 && state.isConnected; i++) {
    try {
      const r = await fetch(path, { method: 'HEAD', credentials: 'omit' });
      if (r.ok) {
        fill(state, h('span', { class: 'yes' }, 'Ready'));
        return;
      }
    } catch { /* the server is away: ask again */ }
    await new Promise((res) => setTimeout(res, 1000));
  }
  if (state.isConnected) fill(state, 'Not ready yet: the link works once the file is written.');
}
