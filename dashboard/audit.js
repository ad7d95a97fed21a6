// audit.js -- the audit log page: every change made through the admin API
// or by an operator, newest first, a page of 100 at a time.
import { api, h, fill, table, fmt } from './ui.js';

export async function render(view) {
  fill(view, h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, 'Every change made by an operator or through the admin API with a key, written before it was answered. Reads are not listed.'));
  const list = h('div', {});
  view.append(list);
  await page(list, 0);
}

async function page(el, before) {
  const res = await api('GET', `/admin/audit?limit=100${before ? `&before=${before}` : ''}`);
  el.append(table([
    { label: 'When', cell: (e) => fmt.time(e.at) },
    { label: 'Who', cell: (e) => e.who },
    { label: 'What', cell: (e) => h('code', {}, `${e.method} ${e.path}`) },
    { label: 'Status', class: 'num', cell: (e) => String(e.status) },
    { label: 'From', cell: (e) => e.ip },
  ], res.entries, before ? 'No older entries.' : 'Nothing has been changed yet: changes appear here as they are made.'));
  if (res.next_before) {
    const more = h('button', { type: 'button', class: 'secondary' }, 'Older entries');
    more.addEventListener('click', async () => { more.remove(); await page(el, res.next_before); });
    el.append(more);
  }
}
