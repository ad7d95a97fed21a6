// partners.js -- the technology partners page: each partner brasa knows
// (one with a data import key, a partner_api_key setting or a cohort, as
// the server lists them), its data import keys and the cohorts it
// imported. Admins generate, rotate and invalidate keys and set the
// partner_api_key; everyone else sees the same without the buttons.
import { api, h, fill, table, field, errorBox, flash, copyable, shownOnce, fmt, isAdmin } from './ui.js';

// A key just made: shown in its partner's card until the page is left.
let shown = null;

export async function render(view) {
  shown = null;
  const body = h('div', {});
  fill(view, h('h1', {}, 'Technology partners'),
    h('p', { class: 'muted' }, 'Heap, Amplitude, Tinyclues, Hightouch and other partners push cohorts with Braze\'s Partner Cohort Import API. In the partner\'s settings enter this server\'s URL as the REST endpoint and the partner\'s data import key.'),
    h('p', {}, 'REST endpoint: ', copyable(location.origin, 'endpoint')),
    isAdmin() ? addForm(() => load(body)) : null, body);
  await load(body);
}

async function load(el) {
  const [{ partners }, { cohorts }] = await Promise.all([api('GET', '/admin/partners'), api('GET', '/admin/cohorts')]);
  const reload = () => load(el);
  fill(el, partners.length
    ? partners.map((p) => partnerCard(p, cohorts.filter((c) => c.partner === p.partner), reload))
    : h('p', { class: 'empty' }, isAdmin()
      ? 'No partner yet: generate a data import key for one above.'
      : 'No partner yet: an admin generates a data import key for one.'));
}

// A partner not listed yet gets its first key here.
function addForm(reload) {
  const name = field('Partner name', { name: 'partner', autocomplete: 'off', maxlength: 64 },
    'The name in the partner\'s path, /partners/NAME/cohorts: heap, amplitude, tinyclues, hightouch, segment, ...');
  const status = h('div', { 'aria-live': 'assertive' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'add-partner-title', novalidate: true },
    h('h2', { id: 'add-partner-title' }, 'Add a partner'), name.wrap,
    h('button', { type: 'submit' }, 'Generate data import key'), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(status);
    const p = name.input.value.trim().toLowerCase();
    if (!p) return fill(status, errorBox('Give the partner\'s name first.'));
    try {
      await keyAction(p, {});
      form.reset();
      await reload();
    } catch (e) {
      fill(status, errorBox(e));
    }
  });
  return form;
}

async function keyAction(partner, body) {
  const res = await api('POST', `/admin/partners/${encodeURIComponent(partner)}/keys`, body);
  shown = res.key;
  return res;
}

function partnerCard(p, cohorts, reload) {
  const status = h('div', { 'aria-live': 'assertive' });
  const act = (fn) => async () => {
    fill(status);
    try {
      await fn();
      await reload();
    } catch (e) {
      fill(status, errorBox(e));
    }
  };
  const id = `partner-${p.partner}`;
  return h('section', { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, p.partner),
    shown && shown.partner === p.partner
      ? shownOnce(`New data import key for ${shown.partner}`, shown.key, "Enter it in the partner's settings as the data import key.",
        shown.previous_keys ? `The previous key keeps working until ${fmt.time(shown.previous_keys_expire_at)}.` : null)
      : null,
    h('h3', {}, 'Data import keys'),
    table([
      { label: 'Key id', class: 'num', cell: (k) => String(k.id) },
      { label: 'Created', cell: (k) => fmt.time(k.created_at) },
      { label: 'Expires', cell: (k) => (k.expires_at ? fmt.time(k.expires_at) : 'never') },
      { label: 'Valid', cell: (k) => (k.valid ? h('span', { class: 'yes' }, 'yes') : h('span', { class: 'no' }, 'no')) },
    ], p.keys, isAdmin() ? 'No data import key: generate one.' : 'No data import key yet.'),
    isAdmin() ? keyButtons(p, act) : null,
    h('h3', {}, 'partner_api_key'),
    h('p', {}, p.partner_api_key === 'configured'
      ? 'Requests must send the partner_api_key set here.'
      : 'Any partner_api_key is accepted (brasa cannot know the one Braze issued the partner).'),
    isAdmin() ? settingForm(p, act) : null,
    status,
    h('h3', {}, 'Cohorts'),
    table([
      { label: 'Name', cell: (c) => c.name },
      { label: 'Cohort id', cell: (c) => h('code', {}, c.cohort_id) },
      { label: 'Size', class: 'num', cell: (c) => fmt.n(c.size) },
      { label: 'Last import', cell: (c) => (c.last_import
        ? `${fmt.time(c.last_import.at)}: ${fmt.n(c.last_import.added)} added, ${fmt.n(c.last_import.removed)} removed`
        : 'none yet') },
      { label: 'Updated', cell: (c) => fmt.time(c.updated_at) },
    ], cohorts, `No cohort yet: ${p.partner} creates them when it syncs.`));
}

function keyButtons(p, act) {
  if (!p.valid_keys) {
    return h('div', { class: 'row' }, h('button', { type: 'button', onclick: act(() => keyAction(p.partner, {})) },
      `Generate ${p.partner} key`));
  }
  const hours = field('Overlap (hours)', { type: 'number', min: 0, max: 8760, step: 'any', value: 24, name: 'overlap' },
    'How long the old key keeps working, so the partner can switch without a gap. 0 ends it now.');
  const rotate = act(async () => {
    const n = Number(hours.input.value);
    if (hours.input.value.trim() === '' || !Number.isFinite(n)) throw new Error('The overlap is a number of hours, from 0 to 8760.');
    await keyAction(p.partner, { rotate: true, overlap_seconds: Math.round(n * 3600) });
  });
  const invalidate = act(async () => {
    if (!window.confirm(`Invalidate every data import key of ${p.partner}? Its imports are refused until it has a new key.`)) return;
    const res = await api('POST', `/admin/partners/${encodeURIComponent(p.partner)}/keys/invalidate`, {});
    flash(`${res.invalidated} data import key${res.invalidated === 1 ? '' : 's'} of ${p.partner} invalidated.`);
  });
  return h('div', { class: 'row' }, hours.wrap,
    h('button', { type: 'button', onclick: rotate }, `Rotate ${p.partner} key`),
    h('button', { type: 'button', class: 'danger', onclick: invalidate }, `Invalidate ${p.partner} keys`));
}

function settingForm(p, act) {
  const key = field(`partner_api_key to require from ${p.partner}`, { name: 'partner_api_key', autocomplete: 'off', maxlength: 255 },
    'The key Braze issued the partner, if you know it.');
  const set = (value) => act(async () => {
    await api('POST', `/admin/partners/${encodeURIComponent(p.partner)}/settings`, { partner_api_key: value });
    flash(value === null ? `${p.partner}: any partner_api_key is accepted.` : `${p.partner}: the partner_api_key is now required.`);
  });
  const form = h('form', { class: 'row', novalidate: true }, key.wrap, h('button', { type: 'submit' }, 'Require it'),
    p.partner_api_key === 'configured' ? h('button', { type: 'button', class: 'secondary', onclick: set(null) }, 'Accept any') : null);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    set(key.input.value)();
  });
  return form;
}


