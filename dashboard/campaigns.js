// campaigns.js -- the Campaigns page: the list, and the editor of an API or
// API-triggered campaign (its variations' webhook or email messages, with
// Liquid previewed for a chosen user), then for a saved campaign the ids a
// sending tool needs, a test send and its progress, the sends chart and
// the scheduled sends (made, moved and cancelled here). Everything goes
// through the admin and Braze routes (docs/messaging.md); read-only
// operators see it all and change nothing.
import { api, h, fill, link, flash, errorBox, table, field, select, copyable, fmt, canWrite, chart, ApiError } from './ui.js';
import { navigate } from './app.js';

const KINDS = {
  api: 'API campaign',
  api_triggered: 'API-triggered campaign',
  transactional: 'Transactional email campaign',
};
const METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'].map((m) => [m, m]);
const MAX_VARIATIONS = 8; // as the API allows (docs/messaging.md)
const SERIES_DAYS = 14;
// The counts a data series row may carry, in the order the chart shows them.
const STATS = [['sent', 'Sent'], ['delivered', 'Delivered'], ['errors', 'Errors'], ['bounces', 'Bounces'],
  ['opens', 'Opens'], ['unique_opens', 'Unique opens'], ['clicks', 'Clicks'], ['unique_clicks', 'Unique clicks'],
  ['unsubscribes', 'Unsubscribes'], ['enrolled', 'Control group']];

const campaignPath = (id) => `/dashboard/campaigns/${encodeURIComponent(id)}`;

export async function render(view, route) {
  if (!route.id) return list(view, route);
  return editor(view, route.id === 'new' ? null : route.id);
}

// ---- the list ---------------------------------------------------------------

async function list(view, route) {
  const archived = route.query.get('archived') === 'true';
  const res = await api('GET', `/admin/campaigns${archived ? '?archived=true' : ''}`);
  const show = h('input', { type: 'checkbox', id: 'show-archived', checked: archived });
  show.addEventListener('change', () => navigate(`/dashboard/campaigns${show.checked ? '?archived=true' : ''}`));
  fill(view, h('h1', {}, 'Campaigns'),
    h('p', { class: 'muted' }, 'API campaigns take their message with each request; API-triggered campaigns store theirs and are sent by /campaigns/trigger/send. A sending tool needs the campaign id and its variation ids, shown on each campaign.'),
    h('div', { class: 'row' },
      canWrite() ? h('a', { href: '/dashboard/campaigns/new', 'data-link': true, class: 'button' }, 'New campaign') : null,
      h('label', { class: 'inline' }, show, ' Show archived campaigns')),
    table([
      { label: 'Name', cell: (c) => link(campaignPath(c.id), c.name) },
      { label: 'Kind', cell: (c) => KINDS[c.kind] || c.kind },
      { label: 'Channels', cell: (c) => (c.channels || []).join(', ') },
      { label: 'Created', cell: (c) => fmt.time(c.created_at) },
      { label: 'Last sent', cell: (c) => fmt.time(c.last_sent) },
      { label: 'Archived', cell: (c) => (c.archived ? h('span', { class: 'yes' }, 'archived') : h('span', { class: 'no' }, 'no')) },
    ], res.campaigns, canWrite()
      ? 'No campaign yet: create one with New campaign, then give its ids to your sending tool.'
      : 'No campaign yet: an admin or marketer creates them.'));
}

// ---- the editor ---------------------------------------------------------------

async function editor(view, id) {
  const [doc, apps] = await Promise.all([
    id ? api('GET', `/admin/campaigns/${encodeURIComponent(id)}`) : null,
    api('GET', '/admin/apps').then((r) => r.apps, () => []),
  ]);
  const ro = !canWrite();
  const status = h('div', { 'aria-live': 'assertive' });
  const name = field('Campaign name', { value: doc ? doc.name : '', maxlength: 255, required: true, readonly: ro });
  const kinds = Object.entries(KINDS).filter(([k]) => k !== 'transactional' || (doc && doc.kind === k));
  const kind = select('Kind', kinds, { disabled: ro || !!doc });
  kind.input.value = doc ? doc.kind : 'api_triggered';
  const kindHint = h('p', { class: 'muted' });
  const variations = h('div', {});
  const editors = [];
  const ctx = { kind: () => kind.input.value, apps, ro, lastUser: '' };

  const addVariation = (v) => {
    const ed = variationEditor(v, ctx, () => {
      editors.splice(editors.indexOf(ed), 1);
      ed.wrap.remove();
      renumber();
    });
    editors.push(ed);
    variations.append(ed.wrap);
    renumber();
  };
  const add = h('button', { type: 'button', class: 'secondary' }, 'Add variation');
  add.addEventListener('click', () => {
    addVariation({ channel: 'webhook' });
    editors[editors.length - 1].focus();
  });
  function renumber() {
    editors.forEach((e, i) => e.number(i + 1, editors.length > 1));
    add.disabled = editors.length >= MAX_VARIATIONS;
  }
  const kindChanged = () => {
    kindHint.textContent = kind.input.value === 'api'
      ? "An API campaign's message comes with each /messages/send request: the message below is not saved, it is what the test send sends and what the preview renders."
      : "Each variation's message is stored with the campaign and sent by /campaigns/trigger/send to the users the split gives it.";
    editors.forEach((e) => e.kindChanged());
  };
  kind.input.addEventListener('change', kindChanged);
  (doc ? doc.variations : [{ name: 'Variation 1', channel: 'webhook' }]).forEach(addVariation);
  kindChanged();

  const form = h('form', { class: 'card', 'aria-labelledby': 'campaign-title' },
    h('h2', { id: 'campaign-title' }, 'Campaign'), status,
    h('div', { class: 'row' }, name.wrap, kind.wrap), kindHint,
    h('h2', {}, 'Variations'), variations,
    ro ? null : h('div', { class: 'row' }, add, h('button', { type: 'submit' }, doc ? 'Save changes' : 'Create campaign')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (ro) return;
    try {
      const body = { name: name.input.value, variations: editors.map((e) => e.collect()) };
      if (!doc) body.kind = kind.input.value;
      if (!doc) {
        const made = await api('POST', '/admin/campaigns', body);
        navigate(campaignPath(made.campaign_id));
        flash(`Campaign “${body.name}” created.`);
      } else {
        await api('POST', `/admin/campaigns/${encodeURIComponent(doc.id)}`, body);
        navigate(campaignPath(doc.id));
        flash('Changes saved.');
      }
    } catch (e) {
      fill(status, errorBox(e));
      status.scrollIntoView({ block: 'nearest' });
    }
  });

  fill(view, h('p', {}, link('/dashboard/campaigns', '← All campaigns')),
    h('h1', {}, doc ? doc.name : 'New campaign'));
  if (doc && doc.archived) view.append(h('p', { class: 'error' }, 'This campaign is archived: it cannot be sent.'));
  if (ro) view.append(h('p', { class: 'muted' }, 'Your role is read-only: you can look and preview, not change or send.'));
  if (doc) view.append(idsSection(doc));
  view.append(form);
  if (!doc) {
    name.input.focus();
    return;
  }
  if (!ro) view.append(testSend(doc, editors), archiveSection(doc));
  const series = h('section', { 'aria-labelledby': 'series-title' }, h('h2', { id: 'series-title' }, `Sends, last ${SERIES_DAYS} days`));
  const sched = h('section', { 'aria-labelledby': 'sched-title' }, h('h2', { id: 'sched-title' }, 'Scheduled sends'));
  view.append(series, sched);
  await Promise.all([seriesChart(series, doc), scheduled(sched, doc, editors)]);
}

// One variation: its name, channel and message, and the Liquid preview.
function variationEditor(v, ctx, onRemove) {
  const c = v.content || {};
  const ro = ctx.ro;
  const legend = h('legend', {});
  const name = field('Variation name', { value: v.name || '', maxlength: 255, required: true, readonly: ro });
  const channel = select('Channel', [['webhook', 'Webhook'], ['email', 'Email']], { disabled: ro });
  channel.input.value = v.channel || 'webhook';
  const percent = field('Percent of recipients', { type: 'number', min: 0, max: 100, step: 1, value: v.percent ?? '', readonly: ro },
    'Blank: an even share of what the other variations and the control group leave.');

  const area = (label, value, hint, attrs = {}) => {
    const f = field(label, { tag: 'textarea', spellcheck: 'false', readonly: ro, ...attrs }, hint);
    f.input.value = value || '';
    return f;
  };
  const url = field('Webhook URL', { value: c.url || '', readonly: ro, class: 'mono' }, 'Liquid works here too: https://hooks.example.com/{{${user_id}}}');
  const method = select('HTTP method', METHODS, { disabled: ro });
  method.input.value = c.request_method || 'POST';
  const headers = area('Request headers', Object.entries(c.request_headers || {}).map(([k, x]) => `${k}: ${x}`).join('\n'),
    'One “Name: value” a line; values are Liquid.', { rows: 3, class: 'short' });
  const body = area('Request body (Liquid)', c.body, 'Braze attributes as {{${first_name}}}, trigger properties as {{api_trigger_properties.${key}}}: docs/liquid.md.', { rows: 8 });
  const webhook = h('div', {}, h('div', { class: 'row' }, url.wrap, method.wrap), headers.wrap, body.wrap);

  const app = ctx.apps.length
    ? select('App', ctx.apps.map((a) => [a.app_id, `${a.name} (${a.platform})`]), { disabled: ro })
    : field('App id', { value: c.app_id || '', readonly: ro }, 'The app_id Braze email messages name; an admin creates apps with brasa apps create.');
  if (c.app_id) app.input.value = c.app_id;
  const from = field('From', { value: c.from || '', readonly: ro }, 'Name <address@example.com>; Liquid works here too.');
  const subject = field('Subject', { value: c.subject || '', readonly: ro });
  const html = area('Body HTML (Liquid)', c.body, 'The HTML of the email; opens and clicks are tracked (docs/email.md).', { rows: 10 });
  const plain = area('Plain text body (optional)', c.plaintext_body, 'Left blank, the text part is made from the HTML.', { rows: 4, class: 'short' });
  const email = h('div', {}, h('div', { class: 'row' }, from.wrap, app.wrap), subject.wrap, html.wrap, plain.wrap);

  const message = h('div', {});
  const showChannel = () => fill(message, channel.input.value === 'email' ? email : webhook);
  channel.input.addEventListener('change', showChannel);
  showChannel();

  // The preview: each Liquid field rendered for one user, as a send would.
  const who = field('Preview for the user with external id', { autocomplete: 'off' }, 'Renders this variation for that user, with their profile as it is now; nothing is sent.');
  const go = h('button', { type: 'button', class: 'secondary' }, 'Preview');
  const out = h('div', { class: 'preview', 'aria-live': 'polite' });
  go.addEventListener('click', async () => {
    const user = who.input.value.trim();
    if (!user) {
      fill(out, errorBox('Give the external id of a user to preview for.'));
      who.input.focus();
      return;
    }
    ctx.lastUser = user;
    go.disabled = true;
    fill(out, h('p', { class: 'muted' }, 'Rendering…'));
    try {
      const parts = channel.input.value === 'email'
        ? [['From', from.input.value], ['Subject', subject.input.value], ['Body HTML', html.input.value],
          ...(plain.input.value ? [['Plain text body', plain.input.value]] : [])]
        : [['URL', url.input.value], ...headerLines(headers.input.value).map(([k, x]) => [`Header ${k}`, x]), ['Body', body.input.value]];
      const results = await Promise.all(parts.map(([, t]) =>
        api('POST', '/admin/liquid/preview', { template: t, external_id: user }).then((r) => r.output, (e) => e)));
      const missing = results.find((r) => r instanceof ApiError && r.status === 404);
      if (missing) return fill(out, errorBox(missing));
      fill(out, h('h3', {}, `As ${user} would get it`), h('dl', {}, parts.map(([label], i) => [
        h('dt', {}, label),
        h('dd', {}, results[i] instanceof Error ? errorBox(results[i]) : h('pre', {}, results[i])),
      ])));
    } catch (e) {
      fill(out, errorBox(e));
    } finally {
      go.disabled = false;
    }
  });
  who.input.addEventListener('focus', () => { if (!who.input.value && ctx.lastUser) who.input.value = ctx.lastUser; });

  const remove = h('button', { type: 'button', class: 'secondary' }, 'Remove variation');
  remove.addEventListener('click', onRemove);
  const contentNote = h('p', { class: 'muted' });
  const wrap = h('fieldset', { class: 'variation' }, legend,
    h('div', { class: 'row' }, name.wrap, channel.wrap, percent.wrap), contentNote, message,
    h('div', { class: 'row preview-for' }, who.wrap, go), out, ro ? null : remove);

  return {
    wrap,
    focus: () => name.input.focus(),
    number(n, removable) {
      legend.textContent = `Variation ${n}`;
      remove.hidden = !removable;
      remove.setAttribute('aria-label', `Remove variation ${n}`);
    },
    kindChanged() {
      const api_ = ctx.kind() === 'api';
      percent.wrap.hidden = ctx.kind() !== 'api_triggered';
      contentNote.textContent = api_ ? 'Test message (not saved: each request brings its own)' : '';
      contentNote.hidden = !api_;
    },
    // The variation as POST /admin/campaigns takes it.
    collect() {
      const out_ = { name: name.input.value, channel: channel.input.value };
      if (v.id) out_.id = v.id;
      if (ctx.kind() === 'api') return out_;
      if (percent.input.value !== '') out_.percent = Number(percent.input.value);
      out_.content = this.content();
      return out_;
    },
    // The channel's message object (docs/messaging.md, docs/email.md).
    content() {
      if (channel.input.value === 'email') {
        const m = { app_id: app.input.value, from: from.input.value, subject: subject.input.value, body: html.input.value };
        if (plain.input.value) m.plaintext_body = plain.input.value;
        return m;
      }
      const m = { url: url.input.value, request_method: method.input.value, body: body.input.value };
      const hs = headerLines(headers.input.value);
      if (hs.length) m.request_headers = Object.fromEntries(hs);
      return m;
    },
    channel: () => channel.input.value,
    id: v.id,
    name: () => name.input.value,
  };
}

// "Name: value" lines as [name, value] pairs; a line without a colon is
// refused in words.
function headerLines(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l, i) => {
    const at = l.indexOf(':');
    if (at < 1) throw new Error(`Request headers: line ${i + 1} is not “Name: value”.`);
    return [l.slice(0, at).trim(), l.slice(at + 1).trim()];
  });
}

// ---- a saved campaign ------------------------------------------------------------

// The ids a sending tool (SmarterSends, your own code) is given.
function idsSection(doc) {
  const rows = doc.variations.map((v) => ({ label: v.name, channel: v.channel, id: v.id }));
  if (doc.control_percent > 0 && doc.control_id) rows.push({ label: 'Control group', channel: '–', id: doc.control_id });
  return h('section', { class: 'card', 'aria-labelledby': 'ids-title' },
    h('h2', { id: 'ids-title' }, 'Ids for your sending tool'),
    h('p', {}, 'Campaign id: ', copyable(doc.id, 'campaign id')),
    table([
      { label: 'Variation', cell: (r) => r.label },
      { label: 'Channel', cell: (r) => r.channel },
      { label: 'Variation id', cell: (r) => copyable(r.id, `id of ${r.label}`) },
    ], rows, 'No variation.'));
}

// One test message to one user, and the dispatch's progress.
function testSend(doc, editors) {
  const sec = h('section', { class: 'card', 'aria-labelledby': 'test-title' }, h('h2', { id: 'test-title' }, 'Test send'));
  if (doc.kind === 'transactional') {
    sec.append(h('p', {}, 'A transactional campaign is sent one recipient at a time with ',
      h('code', {}, `POST /transactional/v1/campaigns/${doc.id}/send`), ' (docs/email.md).'));
    return sec;
  }
  const who = field('Send to the user with external id', { autocomplete: 'off' });
  const variation = doc.kind === 'api'
    ? select('Variation', doc.variations.map((v) => [v.id, v.name]))
    : null;
  const send = h('button', { type: 'button' }, 'Send test');
  const out = h('div', { 'aria-live': 'polite' });
  sec.append(h('p', { class: 'muted' }, doc.kind === 'api'
    ? 'Sends the message of the chosen variation in the form above (saved or not) with /messages/send, to one user.'
    : 'Sends the saved campaign with /campaigns/trigger/send to one user; the split picks their variation.'),
  h('div', { class: 'row' }, who.wrap, variation ? variation.wrap : null, send), out);
  send.addEventListener('click', async () => {
    const user = who.input.value.trim();
    if (!user) {
      fill(out, errorBox('Give the external id of the user to send to.'));
      who.input.focus();
      return;
    }
    send.disabled = true;
    try {
      let res;
      if (doc.kind === 'api') {
        res = await api('POST', '/messages/send', { campaign_id: doc.id, external_user_ids: [user],
          messages: formMessages(editors, variation.input.value) });
      } else {
        res = await api('POST', '/campaigns/trigger/send', { campaign_id: doc.id, recipients: [{ external_user_id: user }] });
      }
      const progress = h('p', {}, 'Queued…');
      fill(out, h('p', {}, 'Dispatch ', copyable(res.dispatch_id, 'dispatch id')), progress);
      await follow(res.dispatch_id, progress);
    } catch (e) {
      fill(out, errorBox(e));
    } finally {
      send.disabled = false;
    }
  });
  return sec;
}

// An API campaign's `messages`: the chosen variation's message as the form has it.
function formMessages(editors, id) {
  const ed = editors.find((e) => e.id === id);
  if (!ed) throw new Error('Save the campaign first: that variation is not in the form.');
  return { [ed.channel()]: { ...ed.content(), message_variation_id: ed.id } };
}

// Polls GET /admin/dispatches/{id} until the dispatch is done (or a minute).
async function follow(id, el) {
  const end = Date.now() + 60000;
  for (;;) {
    const d = await api('GET', `/admin/dispatches/${encodeURIComponent(id)}`);
    fill(el, h('span', { class: d.state === 'done' ? 'yes' : '' }, d.state === 'done' ? 'Done' : 'Sending'),
      `: ${fmt.n(d.done)} of ${fmt.n(d.total)} recipients; sent ${fmt.n(d.sent)}, errors ${fmt.n(d.errors)}, skipped ${fmt.n(d.skipped)}, aborted ${fmt.n(d.aborted)}.`);
    if (d.state === 'done' || Date.now() > end) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function archiveSection(doc) {
  const sec = h('section', { class: 'card', 'aria-labelledby': 'archive-title' }, h('h2', { id: 'archive-title' }, doc.archived ? 'Archived' : 'Archive'));
  const b = h('button', { type: 'button', class: doc.archived ? 'secondary' : 'danger' }, doc.archived ? 'Restore campaign' : 'Archive campaign');
  const out = h('div', { 'aria-live': 'assertive' });
  b.addEventListener('click', async () => {
    if (!doc.archived && !window.confirm(`Archive “${doc.name}”? It can no longer be sent, and pending schedules of it will not fire.`)) return;
    try {
      await api('POST', `/admin/campaigns/${encodeURIComponent(doc.id)}`, { archived: !doc.archived });
      navigate(doc.archived ? campaignPath(doc.id) : '/dashboard/campaigns');
      flash(doc.archived ? 'Campaign restored.' : `Campaign “${doc.name}” archived.`);
    } catch (e) {
      fill(out, errorBox(e));
    }
  });
  sec.append(h('p', { class: 'muted' }, doc.archived
    ? 'Restored, the campaign can be sent again.'
    : 'An archived campaign cannot be sent and leaves /campaigns/list; its ids and stats stay.'), b, out);
  return sec;
}

// GET /campaigns/data_series: each count summed over channels and variations, per day.
async function seriesChart(sec, doc) {
  const el = h('div', {});
  sec.append(el);
  try {
    const res = await api('GET', `/campaigns/data_series?campaign_id=${encodeURIComponent(doc.id)}&length=${SERIES_DAYS}`);
    const days = res.data;
    const rows = days.map((d) => Object.values(d.messages || {}).flat());
    const present = STATS.filter(([k], i) => i === 0 || rows.some((rs) => rs.some((r) => typeof r[k] === 'number')));
    const xs = days.map((d) => Date.parse(`${d.time}T00:00:00Z`) / 1000);
    const series = present.map(([k, label]) => ({ label, values: rows.map((rs) => rs.reduce((n, r) => n + (r[k] || 0), 0)) }));
    if (days.some((d) => d.conversions)) series.push({ label: 'Conversions', values: days.map((d) => d.conversions || 0) });
    await chart(el, 'Messages per day', xs, series);
  } catch (e) {
    fill(el, errorBox(e));
  }
}

// The schedules of this campaign not yet fired (a year ahead); operators
// who may send also make, move and cancel them with the campaign kind's
// schedule endpoints (docs/api.md "Schedules").
async function scheduled(sec, doc, editors) {
  const base = doc.kind === 'api' ? '/messages/schedule' : '/campaigns/trigger/schedule';
  const ids = doc.kind === 'api' ? {} : { campaign_id: doc.id };
  const writable = canWrite() && doc.kind !== 'transactional' && !doc.archived;
  const out = h('div', { 'aria-live': 'assertive' });
  const list = h('div', {});
  // make() gives the body (or throws a refusal in words); true when taken.
  const change = async (path, make, done) => {
    try {
      await api('POST', `${base}/${path}`, { ...ids, ...make() });
      fill(out);
      flash(done);
      await refresh();
      return true;
    } catch (e) {
      fill(out, errorBox(e));
      return false;
    }
  };
  async function refresh() {
    const end = new Date(Date.now() + 366 * 86400000).toISOString();
    try {
      const res = await api('GET', `/messages/scheduled_broadcasts?end_time=${encodeURIComponent(end)}`);
      const mine = res.scheduled_broadcasts.filter((s) => s.id === doc.id);
      fill(list, table([
        { label: 'Next send', cell: (s) => fmt.time(s.next_send_time) },
        { label: 'Time zone', cell: (s) => s.schedule_type },
        { label: 'Schedule id', cell: (s) => copyable(s.schedule_id, 'schedule id') },
        ...(writable ? [{ label: 'Change', cell: (x) => scheduleButtons(x, change) }] : []),
      ], mine, writable
        ? 'Nothing scheduled in the next year: schedule a send with the form above.'
        : `Nothing scheduled in the next year. Schedules are made with ${base}/create and the campaign id.`));
    } catch (e) {
      fill(list, errorBox(e));
    }
  }
  if (writable) sec.append(await scheduleForm(doc, editors, (make) => change('create', make, 'Send scheduled.')));
  sec.append(out, list);
  await refresh();
}

// A listed schedule's Change time (a new time, in place) and Cancel
// (confirmed) buttons; change(path, make, done) as scheduled() has it.
function scheduleButtons(s, change) {
  const cell = h('div', { class: 'row' });
  const zoneless = ZONELESS[s.schedule_type];
  const show = () => {
    const move = h('button', { type: 'button', class: 'secondary' }, 'Change time');
    const cancel = h('button', { type: 'button', class: 'danger' }, 'Cancel');
    move.addEventListener('click', () => {
      const when = field(zoneless ? "New time (users' local time)" : 'New time', { type: 'datetime-local', step: 1, required: true,
        value: zoneless ? '' : localInput(s.next_send_time) });
      const save = h('button', { type: 'button' }, 'Save time');
      const back = h('button', { type: 'button', class: 'secondary' }, 'Keep the old time');
      save.addEventListener('click', () => change('update',
        () => ({ schedule_id: s.schedule_id, schedule: scheduleOf(when.input.value, zoneless) }), 'Scheduled send moved.'));
      back.addEventListener('click', show);
      fill(cell, when.wrap, save, back);
      when.input.focus();
    });
    cancel.addEventListener('click', () => {
      if (window.confirm(`Cancel the send scheduled for ${fmt.time(s.next_send_time)}? It will not be sent.`))
        change('delete', () => ({ schedule_id: s.schedule_id }), 'Scheduled send cancelled.');
    });
    fill(cell, move, cancel);
  };
  show();
  return cell;
}

// What /messages/scheduled_broadcasts calls a schedule kept in users' own
// time zones, and the flag its update must repeat (the schedule is replaced).
const ZONELESS = { local_time_zones: 'in_local_time', intelligent_delivery: 'at_optimal_time' };

// A datetime-local value as a `schedule`: a UTC time, or with a zoneless
// flag the wall-clock time without a zone.
function scheduleOf(value, zoneless) {
  if (!value) throw new Error('Choose the date and time to send at.');
  if (!zoneless) return { time: new Date(value).toISOString() };
  return { time: value.length === 16 ? `${value}:00` : value, [zoneless]: true };
}

// An ISO time as a datetime-local value, on the browser's clock.
function localInput(iso) {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

// The form of a new schedule: when, to whom, and (API campaigns) which
// variation's message from the form above, or (API-triggered) its trigger
// properties. submit(make) sends the body make() gives; true when taken.
async function scheduleForm(doc, editors, submit) {
  const api_ = doc.kind === 'api';
  const segments = api_ ? await api('GET', '/admin/segments').then((r) => r.segments, () => []) : [];
  const audiences = api_ ? segments.map((s) => [s.id, `Segment “${s.name}”`])
    : doc.segment_id ? [['broadcast', "The campaign's segment"]] : [];
  const when = field('Send at', { type: 'datetime-local', step: 1, required: true }, "Your browser's time zone, unless the box below is ticked.");
  const local = h('input', { type: 'checkbox', id: 'sched-local' });
  const to = audiences.length ? select('Send to', [['', 'One user'], ...audiences]) : null;
  const who = field('User external id', { autocomplete: 'off' });
  const variation = api_ ? select('Variation', doc.variations.map((v) => [v.id, v.name])) : null;
  const props = api_ ? null : field('Trigger properties (optional)', { tag: 'textarea', rows: 2, class: 'short mono', spellcheck: 'false' },
    'A JSON object, as {{api_trigger_properties.${key}}} reads it.');
  if (to) to.input.addEventListener('change', () => { who.wrap.hidden = !!to.input.value; });
  const form = h('form', { class: 'card', 'aria-labelledby': 'sched-new' }, h('h3', { id: 'sched-new' }, 'Schedule a send'),
    h('p', { class: 'muted' }, api_
      ? 'Sends the message of the chosen variation in the form above (saved or not) at the time given, with /messages/schedule/create.'
      : 'Sends the saved campaign at the time given, with /campaigns/trigger/schedule/create.'),
    h('div', { class: 'row' }, when.wrap, to ? to.wrap : null, who.wrap, variation ? variation.wrap : null),
    h('label', { class: 'inline' }, local, " In each user's local time (their time_zone, else the workspace's)"),
    props ? props.wrap : null, h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Schedule')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (await submit(() => newSchedule())) form.reset();
  });
  function newSchedule() {
    const body = { campaign_id: doc.id, schedule: scheduleOf(when.input.value, local.checked && 'in_local_time') };
    const user = who.input.value.trim();
    const aud = to ? to.input.value : '';
    if (aud) body.broadcast = true;
    if (aud && api_) body.segment_id = aud;
    if (!aud && !user) throw new Error('Give the external id of the user to send to.');
    if (!aud) Object.assign(body, api_ ? { external_user_ids: [user] } : { recipients: [{ external_user_id: user }] });
    if (api_) body.messages = formMessages(editors, variation.input.value);
    if (props && props.input.value.trim()) body.trigger_properties = jsonObject(props.input.value, 'Trigger properties');
    return body;
  }
  return form;
}

// Text that must be a JSON object, refused in words when it is not.
function jsonObject(text, label) {
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new Error(`${label}: not JSON (${e.message}).`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${label}: give a JSON object, {"key": "value"}.`);
  return v;
}
