// overview.js -- the first page: how big the workspace is, what came in
// today and in the last 24 hours, how the store and the outbound queues
// are doing (GET /admin/overview), refreshed every 10 s while shown.
import { api, h, fill, table, fmt, chart, link, loadUplot } from './ui.js';

const REFRESH_MS = 10000;

export async function render(view) {
  loadUplot();
  fill(view, h('h1', {}, 'Overview'));
  const body = h('div', {});
  view.append(body);
  await draw(body, await api('GET', '/admin/overview'));
  // Refreshed while this page is shown; the timer ends once it is left.
  const timer = setInterval(async () => {
    if (!body.isConnected) return clearInterval(timer);
    try { await draw(body, await api('GET', '/admin/overview')); } catch { clearInterval(timer); }
  }, REFRESH_MS);
}

function stat(label, value, detail) {
  return h('div', { class: 'stat' }, h('span', { class: 'muted' }, label), h('span', { class: 'value' }, value),
    detail ? h('small', {}, detail) : null);
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return 'none since the server started';
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${(seconds / 3600).toFixed(1)} h ago`;
}

async function draw(el, o) {
  const s = o.store;
  const q = o.queues;
  const chartBox = h('section', { class: 'card', 'aria-labelledby': 'ov-chart' });
  fill(el,
    h('div', { class: 'grid' },
      stat('Profiles', fmt.n(o.profiles)),
      stat('Events today', fmt.n(o.events_today), `since midnight, ${o.time_zone}`),
      stat('Ingest', `${fmt.n(Math.round(o.ingest.objects_per_second))}/s`,
        `${fmt.n(Math.round(o.ingest.requests_per_second))} requests/s over ${Math.round(o.ingest.window_seconds)} s`),
      stat('Segments', fmt.n(o.segments)),
      stat('Campaigns', fmt.n(o.campaigns)),
      stat('Cohorts', fmt.n(o.cohorts))),
    o.profiles === 0 ? h('p', { class: 'empty' }, 'No users yet. Send them with POST /users/track, import a CSV with ',
      h('code', {}, 'brasa import users FILE'), ', or let a partner sync an audience; then look them up on the ',
      link('/dashboard/users', 'Users'), ' page.') : null,
    chartBox,
    h('h2', {}, 'Store'),
    h('div', { class: 'grid' },
      stat('Journal position', fmt.n(s.journal_seq), `${fmt.n(s.journal_pending_batches)} batches since the last checkpoint`),
      stat('Last checkpoint', age(s.checkpoint_age_seconds), s.last_checkpoint_at ? fmt.time(s.last_checkpoint_at) : null),
      stat('Group commits', fmt.n(s.commits), `${(s.writes_per_commit || 0).toFixed(1)} writes a commit, ${((s.commit_seconds_avg || 0) * 1000).toFixed(2)} ms each`),
      stat('Store state', s.failed ? 'FAILED' : 'healthy', s.failed ? 'see the server log; a restart recovers from the journal' : null)),
    h('h2', {}, 'Outbound'),
    h('div', { class: 'grid' },
      stat('Sends in progress', fmt.n(q.dispatches_sending), `${fmt.n(q.recipients_pending)} recipients to go`),
      stat('Postbacks waiting', fmt.n(q.postbacks_pending))),
    h('h3', {}, 'Currents connectors'),
    table([
      { label: 'Connector', cell: (c) => c.name },
      { label: 'Type', cell: (c) => c.type },
      { label: 'State', cell: (c) => (c.paused ? 'paused' : 'delivering') },
      { label: 'Lag (events)', class: 'num', cell: (c) => fmt.n(c.lag_events) },
      { label: 'Lag (seconds)', class: 'num', cell: (c) => fmt.n(Math.round(c.lag_seconds)) },
      { label: 'Dead letter', class: 'num', cell: (c) => fmt.n(c.dead_letter) },
    ], q.currents, 'No Currents connector: events stay in the outbox until one is added (admins: Currents page).'));
  chartBox.append(h('h2', { id: 'ov-chart' }, 'Last 24 hours'));
  const box = h('div', {});
  chartBox.append(box);
  await chart(box, 'Events recorded per hour', o.series.map((p) => p.start), [{ label: 'events', values: o.series.map((p) => p.events) }]);
}
