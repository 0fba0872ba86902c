// The sandbox console: a small Slack-like client for the emulated workspace. No framework and no
// build step; every action goes to /sandbox/api/*, which plays Slack towards the real bot.
// DOM is built with createElement/textContent only, so message text can never inject markup.

const $ = (sel) => document.querySelector(sel);
const USER_KEY = 'firebreak-sandbox-user';
const CHANNEL_KEY = 'firebreak-sandbox-channel';
/** The reactions the picker offers; :pushpin: adds the message to the incident timeline. */
const PICKER = ['pushpin', 'eyes', '+1', 'white_check_mark', 'tada'];

const ui = {
  state: null,
  user: localStorage.getItem(USER_KEY) || null,
  channel: null,
  seen: {}, // channel id → top-level message count when last looked at (unread markers)
  openThreads: new Set(),
  dismissedViews: new Set(),
  lastChannelSig: '',
  lastViewKey: '',
};

// -- tiny DOM helper ---------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

// -- API ---------------------------------------------------------------------------------------
// The per-run token from the URL Firebreak printed; every API call carries it (the server refuses
// calls without it, so another web page cannot drive the console).
const TOKEN = new URLSearchParams(location.search).get('token') || '';
const TOKEN_HEADER = 'x-sandbox-token';

async function api(path, body) {
  const res = await fetch(`/sandbox/api/${path}`, {
    method: body ? 'POST' : 'GET',
    headers: body ? { 'content-type': 'application/json', [TOKEN_HEADER]: TOKEN } : { [TOKEN_HEADER]: TOKEN },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }));
  if (!res.ok && !data.errors) showError(data.error || `HTTP ${res.status}`);
  else if (data.ok !== false) showError('');
  return data;
}

function showError(text) {
  const el = $('#error');
  el.textContent = text;
  el.hidden = !text;
}

// -- mrkdwn ------------------------------------------------------------------------------------
const EMOJI = {
  warning: '⚠️', white_check_mark: '✅', x: '❌', hourglass: '⌛', hourglass_flowing_sand: '⏳', rotating_light: '🚨',
  fire: '🔥', red_circle: '🔴', large_orange_circle: '🟠', large_yellow_circle: '🟡', large_blue_circle: '🔵',
  large_green_circle: '🟢', pushpin: '📌', memo: '📝', robot_face: '🤖', gear: '⚙️', mag: '🔍', adhesive_bandage: '🩹',
  no_entry: '⛔', no_entry_sign: '🚫', raised_hand: '✋', eyes: '👀', link: '🔗', bulb: '💡', clipboard: '📋',
  information_source: 'ℹ️', siren: '🚨', boom: '💥', tada: '🎉', thumbsup: '👍', '+1': '👍', page_facing_up: '📄',
};
const emoji = (s) => s.replace(/:([a-z0-9_+-]+):/g, (m, n) => EMOJI[n] ?? m);
const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function userName(id) {
  const u = ui.state?.users.find((x) => x.id === id);
  return u ? u.name : id;
}

function textNodes(s) {
  const out = [];
  emoji(decode(s)).split('\n').forEach((line, i) => {
    if (i) out.push(h('br'));
    if (line) out.push(document.createTextNode(line));
  });
  return out;
}

/** One `<...>` token: mentions, channel links, dates, special mentions, URLs. */
function linkToken(inner) {
  const [target, label] = [inner.split('|')[0], inner.includes('|') ? inner.slice(inner.indexOf('|') + 1) : null];
  if (target.startsWith('@')) return h('span', { class: 'mention' }, `@${label || userName(target.slice(1))}`);
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const name = label || ui.state?.channels.find((c) => c.id === id)?.name || id;
    return h('a', { href: `#${id}`, class: 'mention', onclick: (e) => { e.preventDefault(); selectChannel(id); } }, `#${name}`);
  }
  if (target.startsWith('!subteam^')) {
    const g = ui.state?.usergroups.find((x) => x.id === target.slice(9));
    return h('span', { class: 'mention' }, label || `@${g ? g.handle : target.slice(9)}`);
  }
  if (target.startsWith('!date^')) {
    const [, secs, format] = target.split('^');
    const text = formatDate(Number(secs), format || '');
    return h('time', { datetime: text ? new Date(Number(secs) * 1000).toISOString() : null, title: decode(label || '') }, text || decode(label || ''));
  }
  if (target.startsWith('!')) return h('span', { class: 'mention' }, `@${target.slice(1)}`);
  const url = decode(target);
  if (/^(https?:|mailto:)/i.test(url)) return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, decode(label || url));
  return document.createTextNode(decode(label || target));
}

/**
 * Slack's `<!date^secs^format|fallback>` in the reader's own time zone, as Slack's client shows it:
 * {date_short_pretty} is Today / Yesterday / Nov 30, {time} is 14:05. An unknown token or a bad
 * timestamp gives '' so the caller shows the fallback (UTC) text.
 */
function formatDate(secs, format) {
  if (!Number.isFinite(secs)) return '';
  const d = new Date(secs * 1000);
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(new Date()) - day(d)) / 86_400_000);
  const short = d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', ...(d.getFullYear() !== new Date().getFullYear() ? { year: 'numeric' } : {}) });
  const long = d.toLocaleDateString(undefined, { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });
  const pretty = (fallback) => (diff === 0 ? 'Today' : diff === 1 ? 'Yesterday' : diff === -1 ? 'Tomorrow' : fallback);
  const tokens = {
    date_num: d.toLocaleDateString('en-CA'),
    date: d.toLocaleDateString(undefined, { month: 'long', day: 'numeric', year: 'numeric' }),
    date_short: short,
    date_long: long,
    date_pretty: pretty(d.toLocaleDateString(undefined, { month: 'long', day: 'numeric', year: 'numeric' })),
    date_short_pretty: pretty(short),
    date_long_pretty: pretty(long),
    time: d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }),
    time_secs: d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
  };
  let unknown = false;
  const out = format.replace(/\{(\w+)\}/g, (m, name) => tokens[name] ?? ((unknown = true), m));
  return unknown ? '' : out;
}

const MRKDWN = /<([^<>\n]+)>|```([\s\S]+?)```|`([^`\n]+)`|(?<![\w*])\*([^*\n]+?)\*(?![\w*])|(?<![\w_])_([^_\n]+?)_(?![\w_])|(?<![\w~])~([^~\n]+?)~(?![\w~])/g;

/** Slack's mrkdwn basics → DOM nodes. */
function mrkdwn(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(MRKDWN)) {
    if (m.index > last) out.push(...textNodes(text.slice(last, m.index)));
    if (m[1] !== undefined) out.push(linkToken(m[1]));
    else if (m[2] !== undefined) out.push(h('pre', {}, decode(m[2])));
    else if (m[3] !== undefined) out.push(h('code', {}, decode(m[3])));
    else if (m[4] !== undefined) out.push(h('strong', {}, ...mrkdwn(m[4])));
    else if (m[5] !== undefined) out.push(h('em', {}, ...mrkdwn(m[5])));
    else if (m[6] !== undefined) out.push(h('s', {}, ...mrkdwn(m[6])));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(...textNodes(text.slice(last)));
  return out;
}

/** A Block Kit text object (plain_text or mrkdwn). */
function textObj(t) {
  if (!t) return [];
  if (typeof t === 'string') return mrkdwn(t);
  return t.type === 'mrkdwn' ? mrkdwn(t.text || '') : [emoji(t.text || '')];
}
const plainOf = (t) => (t ? (typeof t === 'string' ? t : t.text || '') : '');

// -- Block Kit ---------------------------------------------------------------------------------
/** `target` says where an interaction goes: { channel, ts, ephemeral? } for a message, { viewId } for a modal. */
function interactive(el, blockId, target) {
  const click = (value) => act({ ...target, actionId: el.action_id, blockId, ...(value !== undefined ? { value } : {}) });
  switch (el.type) {
    case 'button':
      return h('button', {
        type: 'button',
        class: el.style || '',
        onclick: () => click(),
      }, emoji(plainOf(el.text)));
    case 'static_select':
    case 'overflow':
    case 'users_select': {
      const options = el.type === 'users_select' ? peopleOptions() : optionsOf(el).map((o) => ({ value: o.value, label: plainOf(o.text) }));
      return h('select', { 'aria-label': plainOf(el.placeholder) || 'Choose', onchange: (e) => e.target.value && click(e.target.value) },
        h('option', { value: '' }, plainOf(el.placeholder) || 'Choose…'),
        options.map((o) => h('option', { value: o.value }, o.label)));
    }
    case 'image':
      return h('a', { href: el.image_url, target: '_blank', rel: 'noopener noreferrer' }, `🖼 ${el.alt_text || 'image'}`);
    default:
      return h('span', { class: 'tag' }, `[${el.type}]`);
  }
}

const optionsOf = (el) => [...(el.options || []), ...(el.option_groups || []).flatMap((g) => g.options || [])];
const peopleOptions = () => (ui.state?.users || []).filter((u) => !u.isBot).map((u) => ({ value: u.id, label: `${u.realName} (@${u.name})` }));

function renderBlock(b, target) {
  const blockId = b.block_id || '';
  switch (b.type) {
    case 'header':
      return h('div', { class: 'block' }, h('h3', {}, emoji(plainOf(b.text))));
    case 'section':
      return h('div', { class: 'block section' },
        b.text ? h('div', {}, ...textObj(b.text)) : null,
        b.fields ? h('div', { class: 'fields' }, b.fields.map((f) => h('div', {}, ...textObj(f)))) : null,
        b.accessory ? h('div', { class: 'accessory' }, interactive(b.accessory, blockId, target)) : null);
    case 'context':
      return h('div', { class: 'block context' }, (b.elements || []).map((e) => (e.type === 'image' ? interactive(e, blockId, target) : h('span', {}, ...textObj(e), ' '))));
    case 'divider':
      return h('hr');
    case 'actions':
      return h('div', { class: 'block actions' }, (b.elements || []).map((e) => interactive(e, blockId, target)));
    case 'image':
      return h('div', { class: 'block' }, h('a', { href: b.image_url, target: '_blank', rel: 'noopener noreferrer' }, `🖼 ${plainOf(b.title) || b.alt_text || 'image'}`));
    case 'rich_text':
      return null; // the message's `text` carries the same words; rendered by the caller
    default:
      return h('div', { class: 'block tag' }, `[${b.type} block]`);
  }
}

function renderBlocks(blocks, fallbackText, target) {
  const rendered = (blocks || []).map((b) => renderBlock(b, target)).filter(Boolean);
  return rendered.length ? rendered : [h('div', { class: 'block' }, ...mrkdwn(fallbackText || ''))];
}

// -- channel -----------------------------------------------------------------------------------
const byTs = (a, b) => Number(a.ts) - Number(b.ts);
const topLevel = (ch) => ch.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);

function renderMessage(ch, m, replies, ephemeral) {
  const pinned = ch.pins.some((p) => p.ts === m.ts);
  const isBot = m.user === ui.state.botUserId || Boolean(m.bot_id);
  const target = ephemeral ? { channel: ch.id, ts: m.ts, ephemeral: true } : { channel: ch.id, ts: m.ts };
  const li = h('li', { class: `msg${pinned ? ' pinned' : ''}${ephemeral ? ' ephemeral' : ''}`, id: `m-${m.ts}`, dataset: { ts: m.ts } },
    h('div', { class: 'meta' },
      h('span', { class: 'author' }, ephemeral ? 'Firebreak' : isBot ? 'Firebreak' : userName(m.user)),
      isBot || ephemeral ? h('span', { class: 'tag' }, 'APP') : null,
      h('time', { datetime: new Date(Number(m.ts) * 1000).toISOString() }, new Date(Number(m.ts) * 1000).toLocaleTimeString()),
      ephemeral ? h('span', { class: 'tag' }, 'Only visible to you') : null,
      pinned ? h('span', { class: 'tag' }, '📌 Pinned') : null,
      m.edited ? h('span', { class: 'tag' }, 'edited') : null),
    ...renderBlocks(m.blocks, m.text, target),
    ...(m.files || []).map((f) => (f.mimetype || '').startsWith('image/')
      ? h('figure', { class: 'file' }, h('img', { src: `/sandbox/api/files/${encodeURIComponent(f.id)}?token=${encodeURIComponent(TOKEN)}`, alt: f.title || f.name, loading: 'lazy' }), h('figcaption', {}, f.title || f.name))
      : h('div', { class: 'file' }, `📎 ${f.title || f.name}`)));
  // Join and pin notices are system lines in Slack: nobody reacts to or threads on them.
  const system = Boolean(m.subtype);
  if (system) li.classList.add('system');
  if (!ephemeral && !system) {
    if ((m.reactions || []).length) {
      li.append(h('div', { class: 'reactions' },
        m.reactions.map((r) => h('button', { type: 'button', 'aria-label': `${r.name}: ${r.count}, add yours`, onclick: () => react(ch.id, m.ts, r.name) }, `${EMOJI[r.name] ?? `:${r.name}:`} ${r.count}`))));
    }
    // Hover tools float over the message (as in Slack), so a message without reactions or replies leaves no gap.
    const picker = h('div', { class: 'picker', role: 'group', 'aria-label': 'Add a reaction', hidden: true },
      PICKER.map((name) => h('button', { type: 'button', title: `:${name}:`, 'aria-label': `React with :${name}:`, onclick: () => react(ch.id, m.ts, name) }, EMOJI[name] ?? `:${name}:`)));
    li.append(h('div', { class: 'hover-tools' },
      h('button', { type: 'button', 'aria-label': 'Add reaction', 'aria-expanded': 'false', onclick: (e) => { picker.hidden = !picker.hidden; e.currentTarget.setAttribute('aria-expanded', String(!picker.hidden)); } }, '☺+'),
      replies && !replies.length && !ui.openThreads.has(m.ts) ? h('button', { type: 'button', onclick: () => { ui.openThreads.add(m.ts); ui.lastChannelSig = ''; renderChannel(); } }, 'Reply in thread') : null,
      picker));
  }
  if (replies && !system && (replies.length || ui.openThreads.has(m.ts))) {
    const details = h('details', { class: 'thread', ontoggle: (e) => (e.target.open ? ui.openThreads.add(m.ts) : ui.openThreads.delete(m.ts)) },
      h('summary', {}, replies.length ? `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}` : 'Reply in thread'),
      h('ol', {}, replies.map((r) => renderMessage(ch, r, null, r.ephemeral))),
      h('form', { onsubmit: (e) => { e.preventDefault(); const input = e.target.elements.reply; send(input.value, m.ts).then((ok) => ok && (input.value = '')); } },
        h('label', { class: 'visually-hidden', for: `reply-${m.ts}` }, 'Reply'),
        h('input', { id: `reply-${m.ts}`, name: 'reply', type: 'text', placeholder: 'Reply…' }),
        h('button', { type: 'submit' }, 'Reply')));
    if (ui.openThreads.has(m.ts)) details.open = true;
    li.append(details);
  }
  return li;
}

function renderChannel() {
  const ch = ui.state.channels.find((c) => c.id === ui.channel);
  if (!ch) return;
  const ephs = (ui.state.ephemerals[ui.user] || []).filter((e) => e.channel === ch.id).map((e) => ({ ...e, ephemeral: true }));
  const sig = JSON.stringify([ch, ephs, ui.user, ui.state.users.length]);
  if (sig === ui.lastChannelSig) return;
  ui.lastChannelSig = sig;

  $('#channel-name').textContent = `${ch.isPrivate ? '🔒' : '#'} ${ch.name}`;
  const topic = $('#topic');
  topic.replaceChildren(...(ch.topic ? [h('span', { class: 'visually-hidden' }, 'Topic: '), ...mrkdwn(ch.topic)] : []));
  $('#composer-text').placeholder = `Message #${ch.name}, or /incident …`;
  $('#strip').replaceChildren(
    ...ch.pins.map((p) => h('a', { class: 'pin', href: `#${ch.id}`, onclick: (e) => { e.preventDefault(); document.getElementById(`m-${p.ts}`)?.scrollIntoView({ block: 'center' }); } }, `📌 ${p.text.slice(0, 80)}`)),
    ...ch.bookmarks.map((b) => h('a', { class: 'bookmark', href: b.link, target: '_blank', rel: 'noopener noreferrer' }, `${b.emoji ? emoji(b.emoji) : '🔖'} ${b.title}`)),
  );

  const list = $('#messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const replies = new Map();
  for (const m of [...ch.messages, ...ephs]) {
    if (m.thread_ts && m.thread_ts !== m.ts) (replies.get(m.thread_ts) || replies.set(m.thread_ts, []).get(m.thread_ts)).push(m);
  }
  const tops = [...topLevel(ch), ...ephs.filter((e) => !e.thread_ts)].sort(byTs);
  list.replaceChildren(...tops.map((m) => renderMessage(ch, m, m.ephemeral ? null : (replies.get(m.ts) || []).sort(byTs), m.ephemeral)));
  if (atBottom || list.dataset.channel !== ch.id) list.scrollTop = list.scrollHeight;
  list.dataset.channel = ch.id;
}

function channelOrder(a, b) {
  const rank = (c) => (c.name === 'general' ? 0 : c.name === 'incidents' ? 1 : 2);
  return rank(a) - rank(b) || a.name.localeCompare(b.name);
}

function renderChannels() {
  const chans = ui.state.channels.filter((c) => !c.isArchived).sort(channelOrder);
  // At first load everything counts as read; a channel that appears later starts unread.
  const first = Object.keys(ui.seen).length === 0;
  for (const c of chans) if (!(c.id in ui.seen)) ui.seen[c.id] = first ? topLevel(c).length : 0;
  if (!ui.channel || !chans.some((c) => c.id === ui.channel)) ui.channel = chans[0]?.id ?? null;
  ui.seen[ui.channel] = topLevel(chans.find((c) => c.id === ui.channel)).length;
  $('#channels').replaceChildren(...chans.map((c) => {
    const unread = topLevel(c).length - (ui.seen[c.id] ?? 0);
    return h('li', {}, h('button', {
      type: 'button',
      class: unread > 0 ? 'unread' : '',
      'aria-current': c.id === ui.channel ? 'true' : 'false',
      onclick: () => selectChannel(c.id),
      title: c.name,
    }, h('span', { class: 'name' }, `${c.isPrivate ? '🔒' : '#'} ${c.name}`), unread > 0 ? h('span', { class: 'unread-dot', 'aria-label': `${unread} unread` }, String(unread)) : null));
  }));
}

function selectChannel(id) {
  ui.channel = id;
  localStorage.setItem(CHANNEL_KEY, id);
  ui.lastChannelSig = '';
  location.hash = id;
  render();
  $('#composer-text').focus();
}

// -- modal -------------------------------------------------------------------------------------
function renderInput(b, errors) {
  const el = b.element || {};
  const id = `f-${b.block_id}-${el.action_id}`;
  const data = { block: b.block_id, action: el.action_id, type: el.type };
  const error = errors[b.block_id];
  const described = [b.hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || null;
  const common = { id, name: id, dataset: data, 'aria-describedby': described, 'aria-invalid': error ? 'true' : null, required: !b.optional };
  let control;
  switch (el.type) {
    case 'plain_text_input':
    case 'email_text_input':
    case 'url_text_input':
    case 'number_input':
      control = el.multiline
        ? h('textarea', { ...common, rows: 3, maxlength: el.max_length, placeholder: plainOf(el.placeholder) || null })
        : h('input', { ...common, type: el.type === 'number_input' ? 'number' : 'text', maxlength: el.max_length, placeholder: plainOf(el.placeholder) || null });
      control.value = el.initial_value ?? '';
      break;
    case 'static_select':
    case 'users_select':
    case 'multi_users_select':
    case 'multi_static_select': {
      const people = el.type.endsWith('users_select');
      const options = people ? peopleOptions() : optionsOf(el).map((o) => ({ value: o.value, label: plainOf(o.text) }));
      const multi = el.type.startsWith('multi_');
      const initial = new Set([el.initial_user, el.initial_option?.value, ...(el.initial_users || []), ...(el.initial_options || []).map((o) => o.value)].filter(Boolean));
      control = h('select', { ...common, multiple: multi }, multi ? null : h('option', { value: '' }, plainOf(el.placeholder) || 'Choose…'),
        options.map((o) => h('option', { value: o.value, selected: initial.has(o.value) }, o.label)));
      break;
    }
    case 'checkboxes':
    case 'radio_buttons': {
      const initial = new Set([el.initial_option?.value, ...(el.initial_options || []).map((o) => o.value)].filter(Boolean));
      control = h('div', { id, dataset: data, role: el.type === 'radio_buttons' ? 'radiogroup' : 'group', 'aria-describedby': described },
        optionsOf(el).map((o, i) => h('label', {},
          h('input', { type: el.type === 'checkboxes' ? 'checkbox' : 'radio', name: id, value: o.value, checked: initial.has(o.value), id: `${id}-${i}` }), ' ', plainOf(o.text))));
      break;
    }
    default:
      control = h('span', { class: 'tag' }, `[${el.type} not supported in the sandbox]`);
  }
  const labelEl = el.type === 'checkboxes' || el.type === 'radio_buttons' ? h('span', { class: 'label', id: `${id}-label` }, plainOf(b.label)) : h('label', { for: id }, plainOf(b.label), b.optional ? ' (optional)' : '');
  if (labelEl.tagName === 'SPAN') control.setAttribute('aria-labelledby', `${id}-label`);
  return h('div', { class: `field${error ? ' has-error' : ''}`, dataset: { block: b.block_id } },
    labelEl,
    control,
    b.hint ? h('span', { class: 'hint-text', id: `${id}-hint` }, plainOf(b.hint)) : null,
    h('span', { class: 'field-error', id: `${id}-error`, hidden: !error }, error || ''));
}

/** { block_id: { action_id: value } } from the form, as the driver (and Slack) expects. */
function collectValues() {
  const values = {};
  for (const el of document.querySelectorAll('#modal-body [data-block][data-action]')) {
    const { block, action, type } = el.dataset;
    let v;
    if (type === 'checkboxes' || type === 'radio_buttons') {
      const picked = [...el.querySelectorAll('input:checked')].map((i) => i.value);
      v = type === 'checkboxes' ? picked : picked[0] ?? null;
    } else if (el.multiple) v = [...el.selectedOptions].map((o) => o.value);
    else v = el.value === '' ? null : el.value;
    (values[block] ||= {})[action] = v;
  }
  return values;
}

function restoreValues(values) {
  for (const el of document.querySelectorAll('#modal-body [data-block][data-action]')) {
    const v = values[el.dataset.block]?.[el.dataset.action];
    if (v === undefined || v === null) continue;
    if (el.dataset.type === 'checkboxes' || el.dataset.type === 'radio_buttons') {
      const set = new Set([v].flat());
      for (const i of el.querySelectorAll('input')) i.checked = set.has(i.value);
    } else if (el.multiple) for (const o of el.options) o.selected = v.includes(o.value);
    else el.value = v;
  }
}

function renderModal() {
  const dialog = $('#modal');
  const view = ui.state.views[ui.user];
  if (!view || ui.dismissedViews.has(view.id)) {
    if (dialog.open) dialog.close();
    ui.lastViewKey = '';
    return;
  }
  const key = JSON.stringify([view.id, view.blocks, view.title, view.submit]);
  if (key !== ui.lastViewKey) {
    const keep = ui.lastViewKey && JSON.parse(ui.lastViewKey)[0] === view.id ? collectValues() : {};
    ui.lastViewKey = key;
    $('#modal-title').textContent = plainOf(view.title) || 'Firebreak';
    $('#modal-submit').textContent = plainOf(view.submit) || 'Submit';
    $('#modal-submit').hidden = !view.submit;
    $('#modal-cancel').textContent = plainOf(view.close) || 'Cancel';
    $('#modal-body').replaceChildren(...view.blocks.map((b) => (b.type === 'input' ? renderInput(b, view.errors) : renderBlock(b, { viewId: view.id }))).filter(Boolean));
    restoreValues(keep);
  }
  // Errors change without the view changing: mark fields in place, keeping what was typed.
  for (const field of document.querySelectorAll('#modal-body .field')) {
    const error = view.errors[field.dataset.block];
    field.classList.toggle('has-error', Boolean(error));
    const msg = field.querySelector('.field-error');
    msg.textContent = error || '';
    msg.hidden = !error;
    field.querySelector('[data-action]')?.setAttribute('aria-invalid', error ? 'true' : 'false');
  }
  if (!dialog.open) dialog.showModal();
}

async function submitModal(e) {
  e.preventDefault();
  const view = ui.state.views[ui.user];
  if (!view) return;
  // Slack's client refuses to send a form with an empty required field; so does the console.
  const values = collectValues();
  const missing = {};
  for (const b of view.blocks) {
    if (b.type !== 'input' || b.optional || !b.element) continue;
    const v = values[b.block_id]?.[b.element.action_id];
    if (v === null || v === undefined || (Array.isArray(v) && v.length === 0) || (typeof v === 'string' && !v.trim())) missing[b.block_id] = 'Please complete this required field.';
  }
  if (Object.keys(missing).length) {
    view.errors = missing;
    renderModal();
    document.querySelector('#modal-body .has-error [data-action]')?.focus();
    return;
  }
  const button = $('#modal-submit');
  button.disabled = true;
  try {
    const r = await api('submit', { user: ui.user, viewId: view.id, values });
    if (r.errors) {
      view.errors = r.errors;
      renderModal();
      document.querySelector('#modal-body .has-error [data-action]')?.focus();
    }
  } finally {
    button.disabled = false;
  }
}

async function cancelModal() {
  const view = ui.state?.views[ui.user];
  $('#modal').close();
  if (view) {
    ui.dismissedViews.add(view.id);
    await api('close', { user: ui.user, viewId: view.id });
  }
}

// -- actions -----------------------------------------------------------------------------------
async function act(body) {
  await api('click', { user: ui.user, ...body });
}

async function react(channel, ts, name) {
  await api('reaction', { user: ui.user, channel, ts, name });
}

async function send(text, threadTs) {
  const t = text.trim();
  if (!t || !ui.channel) return false;
  const r = await api('message', { user: ui.user, channel: ui.channel, text: t, ...(threadTs ? { threadTs } : {}) });
  return r.ok !== false;
}

async function fireAlert(source, button) {
  button.disabled = true;
  $('#alert-result').textContent = `Sending a ${source} alert…`;
  try {
    const r = await api('alert', { source });
    $('#alert-result').textContent = r.ok ? `${source}: accepted (HTTP ${r.status})` : `${source}: refused (HTTP ${r.status ?? '?'}) ${r.error ?? JSON.stringify(r.response ?? '')}`;
  } finally {
    button.disabled = false;
  }
}

// -- users -------------------------------------------------------------------------------------
function renderUsers() {
  const select = $('#user-switcher');
  const people = ui.state.users.filter((u) => !u.isBot);
  if (!people.some((u) => u.id === ui.user)) ui.user = people[0]?.id ?? null;
  if (select.options.length !== people.length) {
    select.replaceChildren(...people.map((u) => h('option', { value: u.id }, `${u.name} — ${u.realName}${u.title ? `, ${u.title}` : ''}`)));
  }
  select.value = ui.user;
}

// -- demo executor -----------------------------------------------------------------------------
/** The calls the sandbox's demo executor received: what an approved action really sent. */
function renderExecutor() {
  const calls = ui.state.executorCalls || [];
  const key = JSON.stringify(calls);
  const list = $('#executor-calls');
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...(calls.length
    ? calls.slice(-8).reverse().map((c) => h('li', { class: c.status < 300 ? 'ok' : 'refused' },
      h('strong', {}, c.action || 'unsigned call'), ' ',
      Object.entries(c.params || {}).map(([k, v]) => `${k}=${v}`).join(' '),
      h('br'),
      `${c.status} · ${new Date(c.at).toLocaleTimeString()}${c.approvedBy.length ? ` · approved by ${c.approvedBy.map(userName).join(', ')}` : ''}${c.status >= 300 ? ` · ${c.answer}` : ''}`))
    : [h('li', { class: 'none' }, 'No calls yet. Approve a rollback to see one.')]));
}

// -- refresh loop ------------------------------------------------------------------------------
function render() {
  if (!ui.state) return;
  renderUsers();
  renderExecutor();
  renderChannels();
  renderChannel();
  renderModal();
}

let inFlight = null;
let again = false;
async function refresh() {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  inFlight = (async () => {
    do {
      again = false;
      const res = await fetch('/sandbox/api/state', { headers: { [TOKEN_HEADER]: TOKEN } });
      if (res.status === 403) showError((await res.json().catch(() => ({}))).error || 'refused: open the URL Firebreak printed at start');
      if (res.ok) ui.state = await res.json();
      render();
    } while (again);
  })().finally(() => (inFlight = null));
  return inFlight;
}

function connect() {
  const es = new EventSource(`/sandbox/api/events?token=${encodeURIComponent(TOKEN)}`);
  const status = $('#connection');
  es.addEventListener('hello', () => {
    status.textContent = 'live';
    refresh();
  });
  es.addEventListener('change', () => refresh());
  es.onerror = () => (status.textContent = 'reconnecting…');
}

function init() {
  const fromUrl = new URLSearchParams(location.search).get('user');
  if (fromUrl) ui.user = fromUrl;
  // The open channel survives a reload: the address names it, and the last one is remembered.
  ui.channel = (location.hash.length > 1 ? location.hash.slice(1) : null) || localStorage.getItem(CHANNEL_KEY);
  $('#user-switcher').addEventListener('change', (e) => {
    ui.user = e.target.value;
    localStorage.setItem(USER_KEY, ui.user);
    ui.lastChannelSig = '';
    ui.lastViewKey = '';
    render();
  });
  $('#composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#composer-text');
    if (await send(input.value)) input.value = '';
  });
  $('#composer-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      $('#composer').requestSubmit();
    }
  });
  $('#modal-form').addEventListener('submit', submitModal);
  // Editing a flagged field clears its error, as Slack's client does.
  $('#modal-body').addEventListener('input', (e) => {
    const field = e.target.closest('.field');
    const view = ui.state?.views[ui.user];
    if (!field || !view || !view.errors[field.dataset.block]) return;
    delete view.errors[field.dataset.block];
    field.classList.remove('has-error');
    field.querySelector('.field-error').hidden = true;
  });
  $('#modal-cancel').addEventListener('click', cancelModal);
  $('#modal').addEventListener('cancel', (e) => {
    e.preventDefault();
    cancelModal();
  });
  for (const b of document.querySelectorAll('.alert-buttons button')) b.addEventListener('click', () => fireAlert(b.dataset.source, b));
  refresh().then(connect);
}

init();
