// app.js -- the dashboard's shell: who is signed in, the sections, and the
// router that renders the page a URL names (/dashboard/<page>[/<id>]), so
// every page has an address to bookmark. Each page is a module of its own
// (<page>.js), loaded when first shown; this file knows only their names.
import { api, session, h, fill, flash, errorBox, field, whenSignedOut, ApiError } from './ui.js';

// The sections: path segment, label, module, and who sees it. Marketers do
// not see what only an admin can use; read-only operators see what a
// marketer sees, without the buttons that change things.
const PAGES = [
  { path: '', label: 'Overview', module: 'overview' },
  { path: 'users', label: 'Users', module: 'users' },
  { path: 'segments', label: 'Segments', module: 'segments' },
  { path: 'campaigns', label: 'Campaigns', module: 'campaigns' },
  { path: 'partners', label: 'Technology partners', module: 'partners' },
  { path: 'keys', label: 'API keys', module: 'keys', admin: true },
  { path: 'currents', label: 'Currents', module: 'currents', admin: true },
  { path: 'audit', label: 'Audit log', module: 'audit', admin: true },
];

const main = document.getElementById('main');

function route() {
  const rest = location.pathname.replace(/^\/dashboard\/?/, '').split('/').filter(Boolean);
  return { page: rest[0] || '', id: rest[1] ? decodeURIComponent(rest[1]) : null, query: new URLSearchParams(location.search) };
}

export function navigate(href) {
  history.pushState(null, '', href);
  render();
}

function renderNav() {
  const nav = document.getElementById('nav');
  const cur = route().page;
  const admin = session.operator && session.operator.role === 'admin';
  fill(nav, h('ul', {}, PAGES.filter((p) => admin || !p.admin).map((p) =>
    h('li', {}, h('a', { href: `/dashboard/${p.path}`, 'data-link': true, 'aria-current': p.path === cur ? 'page' : null }, p.label)))));
  const who = document.getElementById('who');
  fill(who, session.operator
    ? [h('span', {}, `${session.operator.name} (${session.operator.role})`), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out')]
    : []);
}

async function signOut() {
  try { await api('POST', '/dashboard/api/logout', {}); } catch { /* gone already */ }
  session.operator = null;
  session.csrf = '';
  navigate('/dashboard/');
}

function showLogin(message) {
  session.operator = null;
  renderNav();
  document.title = 'Sign in · brasa';
  const name = field('Operator name', { name: 'name', autocomplete: 'username', required: true, autofocus: true });
  const pw = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div', { 'aria-live': 'assertive' }, message ? errorBox(message) : null);
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in to brasa'), status, name.wrap, pw.wrap,
    h('button', { type: 'submit' }, 'Sign in'),
    h('p', { class: 'muted' }, 'No operator yet? Create one on the server: ',
      h('code', {}, 'brasa operators add --data-dir DIR NAME --role admin'), '.'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const me = await api('POST', '/dashboard/api/login', { name: name.input.value, password: pw.input.value });
      session.operator = me.operator;
      session.csrf = me.csrf_token;
      render();
    } catch (e) {
      fill(status, errorBox(e));
      pw.input.value = '';
      pw.input.focus();
    }
  });
  fill(main, form);
  name.input.focus();
}

whenSignedOut((msg) => showLogin(msg));

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  const r = route();
  const page = PAGES.find((p) => p.path === r.page);
  // The page's module loads while the session is asked for: one round
  // trip less on a first visit.
  const mod = page ? import(`./${page.module}.js`) : null;
  if (mod) mod.catch(() => {}); // reported below, when awaited
  if (!session.operator) {
    try {
      const me = await api('GET', '/dashboard/api/me');
      session.operator = me.operator;
      session.csrf = me.csrf_token;
    } catch (e) {
      // No session is no message; an ended one says so.
      if (seq === renderSeq) showLogin(e instanceof ApiError && /^Invalid API key/.test(e.message) ? null : e.message);
      return;
    }
  }
  renderNav();
  fill(document.getElementById('flash'));
  if (!page || (page.admin && session.operator.role !== 'admin')) {
    document.title = 'Not found · brasa';
    fill(main, h('h1', {}, 'Not found'), h('p', {}, page ? 'This page is for admins.' : 'There is no such page. ',
      h('a', { href: '/dashboard/', 'data-link': true }, 'Go to the overview'), '.'));
    return;
  }
  document.title = `${page.label} · brasa`;
  const view = h('div', { class: 'page' });
  fill(main, view);
  try {
    const m = await mod;
    if (seq !== renderSeq) return;
    await m.render(view, r);
  } catch (e) {
    if (seq === renderSeq && !(e instanceof ApiError && e.status === 401)) fill(view, h('h1', {}, page.label), errorBox(e));
  }
  if (seq === renderSeq) main.focus({ preventScroll: true });
}

// Links marked data-link navigate inside the dashboard.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', render);
render();

export { flash };
