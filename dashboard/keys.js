// keys.js -- the API keys page (admins only): every REST API key with its
// permissions, IP allowlist and last use, a Revoke button per active key,
// and the form that creates one from Braze's permission groups or a
// partner's preset. A new key's text is shown once, as Braze does.
import { api, h, fill, table, field, errorBox, flash, shownOnce, fmt, link } from './ui.js';

// Braze's dashboard groups permissions by what they act on: here a
// permission's group is the label of its name's first segment
// ("segments.list" -> Segments). The names themselves come from the server
// (GET /admin/keys/permissions, perm.h); a prefix missing here is shown
// under its own name, so a new permission is never left out.
const GROUPS = {
  users: 'User Data', email: 'Email', messages: 'Messages', campaigns: 'Campaigns', canvas: 'Canvas',
  segments: 'Segments', purchases: 'Purchases', events: 'Events', sessions: 'Sessions', kpi: 'KPIs',
  sends: 'Sends', transactional: 'Transactional', templates: 'Templates', content_blocks: 'Content Blocks',
  preference_center: 'Preference Center', subscription: 'Subscription Groups', sms: 'SMS',
  catalogs: 'Catalogs', sdk_authentication: 'SDK Authentication', sso: 'SSO', brasa: 'brasa admin',
};
const groupOf = (name) => GROUPS[name.split('.')[0]] || name.split('.')[0];

// What the seed partners ask for (shared/spec/braze-api.md §9): SmarterSends
// its ten permissions exactly and an allowlist entry; GrowthLoop and
// Amplitude's event streaming a key "with all permissions", which is every
// Braze permission and none of brasa's own. Hightouch syncs audiences from
// the warehouse as GrowthLoop does.
const ALL = 'all';
const PRESETS = [
  { partner: 'SmarterSends', perms: ['users.track', 'users.export.ids', 'messages.schedule.create', 'messages.schedule.update',
    'messages.schedule.delete', 'sends.id.create', 'segments.list', 'segments.data_series', 'segments.details', 'sends.data_series'],
  note: 'SmarterSends also asks for an IP allowlist entry: add the addresses it gives you below.' },
  { partner: 'GrowthLoop', perms: ALL },
  { partner: 'Hightouch', perms: ALL },
  { partner: 'Amplitude', perms: ALL, note: 'For Amplitude event streaming. Amplitude cohorts use a data import key instead.' },
];

export async function render(view) {
  const { permissions } = await api('GET', '/admin/keys/permissions');
  const list = h('div', {});
  const refresh = async () => showKeys(list, (await api('GET', '/admin/keys')).keys, permissions, refresh);
  await refresh();
  fill(view, h('h1', {}, 'API keys'),
    h('p', { class: 'muted' }, 'REST API keys for Braze\'s endpoints, one per partner or script. As in Braze, a key\'s permissions and allowlist never change: create a new key and revoke the old one.'),
    h('h2', {}, 'Keys'), list, createForm(permissions, refresh));
}

function showKeys(el, keys, perms, refresh) {
  fill(el, table([
    { label: 'Name', cell: (k) => k.name },
    { label: 'Permissions', cell: (k) => summary(k.permissions, perms) },
    { label: 'Allowed IPs', cell: (k) => (k.allow_ips.length ? k.allow_ips.map((ip) => h('div', {}, h('code', { class: 'ip' }, ip))) : h('span', { class: 'muted' }, 'any')) },
    { label: 'Created', cell: (k) => fmt.time(k.created_at) },
    { label: 'Last used', cell: (k) => fmt.time(k.last_used_at) },
    { label: 'Status', cell: (k) => (k.revoked_at ? h('span', { class: 'no' }, `Revoked ${fmt.time(k.revoked_at)}`) : h('span', { class: 'yes' }, 'Active')) },
    { label: 'Actions', cell: (k) => (k.revoked_at ? null : revokeButton(k, refresh)) },
  ], keys, 'No keys yet: create one below.'));
}

// "Every Braze permission" when a key has them all, else the groups with
// how many of each; the full list under it.
function summary(names, perms) {
  const have = new Set(names);
  const braze = perms.filter((p) => !p.admin).map((p) => p.name);
  const admin = names.filter((n) => perms.some((p) => p.admin && p.name === n));
  let text;
  if (braze.every((n) => have.has(n))) {
    text = ['Every Braze permission', ...admin].join(', ');
  } else {
    const counts = new Map();
    for (const n of names) counts.set(groupOf(n), (counts.get(groupOf(n)) || 0) + 1);
    text = [...counts].map(([g, c]) => `${g} (${c})`).join(', ');
  }
  return h('details', {}, h('summary', {}, text),
    h('ul', { class: 'perm-list' }, names.map((n) => h('li', {}, h('code', {}, n)))));
}

// Revoking re-reads the list: the page shows what the server holds.
function revokeButton(k, refresh) {
  const b = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${k.name}` }, 'Revoke');
  b.addEventListener('click', async () => {
    if (!window.confirm(`Revoke the key "${k.name}"? Every request with it is refused from now on; this cannot be undone.`)) return;
    b.disabled = true;
    try {
      await api('POST', '/admin/keys/revoke', { id: k.id });
      flash(`The key "${k.name}" is revoked.`);
      await refresh();
    } catch (e) {
      b.disabled = false;
      b.after(errorBox(e));
    }
  });
  return b;
}

function createForm(perms, refresh) {
  const name = field('Name', { name: 'name', autocomplete: 'off', maxlength: 255 }, 'Who or what uses the key, e.g. the partner\'s name.');
  const boxes = new Map();
  const groups = new Map();
  for (const p of perms) {
    const g = groupOf(p.name);
    if (!groups.has(g)) groups.set(g, []);
    const input = h('input', { type: 'checkbox', name: 'permission', value: p.name });
    boxes.set(p.name, input);
    groups.get(g).push(h('label', {}, input, ' ', p.name));
  }
  const fieldsets = [...groups].map(([g, labels]) => h('fieldset', {}, h('legend', {}, g),
    g === GROUPS.brasa ? h('p', { class: 'muted' }, 'brasa\'s own: brasa.keys manages keys, partners, relays and Currents; give it to no partner.') : null,
    h('div', { class: 'checks' }, labels)));
  const ips = field('IP allowlist', { tag: 'textarea', name: 'allow_ips', rows: 4, spellcheck: 'false' },
    'One address or CIDR range per line (203.0.113.7, 203.0.113.0/24, 2001:db8::/32). Empty: any address.');
  const presetNote = h('p', { class: 'muted', 'aria-live': 'polite' });
  const presets = h('div', { class: 'row' }, PRESETS.map((p) => {
    const b = h('button', { type: 'button', class: 'secondary' }, `${p.partner} preset`);
    b.addEventListener('click', () => {
      for (const [n, box] of boxes) box.checked = p.perms === ALL ? !perms.find((x) => x.name === n).admin : p.perms.includes(n);
      if (!name.input.value) name.input.value = p.partner;
      const count = [...boxes.values()].filter((x) => x.checked).length;
      fill(presetNote, `${p.partner}: ${p.perms === ALL ? 'every Braze permission' : `${count} permissions`} checked.`, p.note ? ` ${p.note}` : '');
    });
    return b;
  }));
  const status = h('div', { 'aria-live': 'assertive' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'create-key-title', novalidate: true },
    h('h2', { id: 'create-key-title' }, 'Create a key'), name.wrap,
    h('h3', {}, 'Presets'),
    h('p', { class: 'muted' }, 'What a partner asks for, checked for you. Heap, Tinyclues and other cohort partners need a data import key instead: ',
      link('/dashboard/partners', 'Technology partners'), '.'),
    presets, presetNote,
    h('h3', {}, 'Permissions'), fieldsets, ips.wrap,
    h('button', { type: 'submit' }, 'Create key'), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      name: name.input.value.trim(),
      permissions: [...boxes].filter(([, b]) => b.checked).map(([n]) => n),
      allow_ips: ips.input.value.split('\n').map((l) => l.trim()).filter(Boolean),
    };
    try {
      const res = await api('POST', '/admin/keys', body);
      fill(status, shownOnce(`Key "${res.key.name}" created`, res.key.key, 'brasa keeps only its hash.'));
      form.reset();
      fill(presetNote);
      await refresh();
      status.querySelector('.secret').focus();
    } catch (e) {
      fill(status, errorBox(e));
    }
  });
  return form;
}

// The key's text, the one time it exists outside the client's hands.

