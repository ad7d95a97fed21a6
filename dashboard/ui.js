// ui.js -- what every page of the dashboard shares: the API client (session
// cookie plus CSRF token), a DOM builder that only ever sets text (so names,
// descriptions and attribute values are shown, never run), and tables,
// forms, messages, copy buttons and charts built on them.

export const session = { operator: null, csrf: '' };

// An error the API answered: its status and Braze-shaped message.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onSignedOut = () => {};
export function whenSignedOut(fn) { onSignedOut = fn; }

// Calls brasa's JSON API as the signed-in operator. A 401 means the session
// ended: the sign-in form comes back, and the call fails.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = session.csrf;
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'The server cannot be reached. Is brasa running?');
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = (json && (json.message || (json.errors && json.errors.join('; ')))) || `HTTP ${res.status}`;
    if (res.status === 401 && path !== '/dashboard/api/login') onSignedOut(msg);
    throw new ApiError(res.status, msg);
  }
  return json;
}

// h('p', {class: 'x', onclick: f}, 'text', child...): an element. Strings
// become text nodes; attributes are set as attributes (never as HTML).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces an element's content.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A link inside the dashboard (navigates without reloading).
export function link(href, ...children) {
  return h('a', { href, 'data-link': true }, ...children);
}

// A message in the page's live region: read out by screen readers.
export function flash(text, kind = 'ok') {
  const f = document.getElementById('flash');
  fill(f, h('p', { class: `flash ${kind}` }, text));
  if (kind === 'ok') setTimeout(() => { if (f.textContent === text) fill(f); }, 6000);
}

// An error shown where it happened, in words, and announced.
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

// A table: columns [{label, cell(row) -> node|string, class?}], with an
// empty state that says what to do.
export function table(columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(r)))))));
}

let fieldSeq = 0;
// A labelled input; attrs go to the input. Returns {wrap, input}.
export function field(label, attrs = {}, hint) {
  const id = attrs.id || `f${++fieldSeq}`;
  const tag = attrs.tag || 'input';
  const input = h(tag, { ...attrs, tag: undefined, id, 'aria-describedby': hint ? `${id}-hint` : undefined });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('small', { id: `${id}-hint`, class: 'muted' }, hint) : null);
  return { wrap, input };
}

// A select of [value, label] pairs.
export function select(label, options, attrs = {}) {
  const f = field(label, { ...attrs, tag: 'select' });
  for (const [v, l] of options) f.input.append(h('option', { value: v }, l));
  return f;
}

// A button that copies text, saying so when done.
export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'secondary' }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy by hand';
    }
    setTimeout(() => { b.textContent = label; }, 2000);
  });
  return b;
}

// A value to copy: the text in a code element and its copy button.
export function copyable(text, label) {
  return h('span', { class: 'copyable' }, h('code', {}, text), copyButton(text, label ? `Copy ${label}` : 'Copy'));
}

// A secret shown once (a new key): a highlighted box with its copy button
// and what to do with it; `notes` follow the warning.
export function shownOnce(title, secret, ...notes) {
  return h('div', { class: 'card secret', tabindex: '-1', role: 'status' },
    h('h3', {}, title),
    h('p', {}, copyable(secret, 'key')),
    h('p', {}, h('strong', {}, 'Copy it now: it will not be shown again.'), ' ', notes[0]),
    notes.slice(1).map((n) => (n ? h('p', {}, n) : null)));
}

export const fmt = {
  n: (x) => (x === null || x === undefined ? '–' : Number(x).toLocaleString('en-US')),
  time: (iso) => (iso ? new Date(iso).toLocaleString() : 'never'),
};

// Whether the operator may change things (read-only operators may not).
export const canWrite = () => session.operator && session.operator.role !== 'read-only';
export const isAdmin = () => session.operator && session.operator.role === 'admin';

// The chart library (uPlot, embedded from npm at build time), loaded on
// the first chart only: pages without one never fetch it.
let uplot;
// Pages with a chart call it first: the library loads while they fetch.
export function loadUplot() {
  uplot ||= new Promise((resolve, reject) => {
    document.head.append(h('link', { rel: 'stylesheet', href: '/dashboard/assets/uplot.css' }));
    const s = h('script', { src: '/dashboard/assets/uplot.js' });
    s.onload = () => resolve(window.uPlot);
    s.onerror = () => reject(new Error('the chart library did not load'));
    document.head.append(s);
  });
  return uplot;
}

// A line chart of series over time: xs in epoch seconds, series
// [{label, values}]. A table of the same numbers follows for screen
// readers and for copying.
export async function chart(el, title, xs, series) {
  const U = await loadUplot();
  const width = Math.max(320, Math.min(el.clientWidth || 720, 960));
  const colors = ['#c2410c', '#1d4ed8', '#15803d', '#7e22ce'];
  fill(el, h('h3', {}, title));
  const box = h('div', { class: 'chart', role: 'img', 'aria-label': `${title}: ${series.map((s) => s.label).join(', ')} over time` });
  el.append(box);
  new U({ width, height: 220, series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colors[i % 4], width: 2 }))],
    axes: [{}, { size: 60 }], scales: { x: { time: true } } }, [xs, ...series.map((s) => s.values)], box);
  el.append(h('details', {}, h('summary', {}, 'The numbers'),
    table([{ label: 'Time', cell: (i) => new Date(xs[i] * 1000).toLocaleString() },
      ...series.map((s) => ({ label: s.label, class: 'num', cell: (i) => fmt.n(s.values[i]) }))],
    xs.map((_, i) => i), 'No data yet.')));
}
