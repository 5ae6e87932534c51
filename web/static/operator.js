// The operator dashboard. REST (docs/protocol.md, Operator API) is the source
// of truth for lists; the live feed (/ws/operator) appends events to the open
// transcript at once and schedules a refresh of what it changed. Feed events
// are deduplicated by session_id+seq, and the last processed offset is sent
// again after a reconnect so that nothing is missed.

import {
  CLASSES, CLASS_NAMES, ago, backoffDelay, clock, confirmDialog, el, insertBySeq, wsURL,
} from './common.js';
import { legend, moodChart, sparkline } from './chart.js';

const TOKEN_KEY = 'moodgate.operator.token';
const REFRESH_DEBOUNCE_MS = 250;
const DETAIL_CONCURRENCY = 3;
const MAX_SPARKLINES = 60;

const $ = (id) => document.getElementById(id);
const ui = {
  body: document.body,
  signin: $('signin'), signinForm: $('signin-form'), tokenInput: $('token'), signinError: $('signin-error'),
  app: $('app'), me: $('me'), signout: $('signout'), feedText: $('feed-text'),
  crisisAlert: $('crisis-alert'), crisisCount: $('crisis-count'),
  queue: $('queue'), queueCount: $('queue-count'), queueEmpty: $('queue-empty'),
  sessions: $('sessions'), sessionsCount: $('sessions-count'), sessionsEmpty: $('sessions-empty'),
  detailEmpty: $('detail-empty'), detailBody: $('detail-body'),
  dTitle: $('d-title'), dState: $('d-state'), dMeta: $('d-meta'), dError: $('d-error'),
  dChart: $('d-chart'), dTranscript: $('d-transcript'),
  claim: $('btn-claim'), resolve: $('btn-resolve'), erase: $('btn-erase'),
  replyForm: $('reply-form'), replyInput: $('reply-input'), replySend: $('reply-send'),
};

const REASONS = {
  crisis: { ko: '위기', en: 'crisis' },
  request: { ko: '상담 요청', en: 'request' },
  mood: { ko: '기분 저하', en: 'mood' },
};
const STATES = {
  escalated: { ko: '대기 중', en: 'waiting' },
  claimed: { ko: '상담 중', en: 'claimed' },
  bot: { ko: '봇 응대', en: 'bot' },
};

const st = {
  token: '',
  me: '',
  sessions: new Map(), // id -> Summary
  timelines: new Map(), // id -> Point[]
  dirty: new Set(), // ids whose timeline must be fetched again
  queue: [],
  open: null, // {id, summary, events: Map seq->event, emotions: Map ref->event}
  offset: undefined,
  seen: new Set(),
  ws: null,
  attempt: 0,
  reconnectTimer: 0,
  refreshTimer: 0,
  refreshing: false,
  refreshAgain: false,
  crisisSeen: 0,
  signedIn: false,
};

// ---- REST ----------------------------------------------------------------

class HTTPError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${st.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, cache: 'no-store', credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch { data = null; }
  }
  if (r.status === 401 && st.signedIn) {
    signOut('토큰이 더 이상 유효하지 않아요. 다시 로그인하세요. · The token is no longer valid; sign in again.');
  }
  if (!r.ok) throw new HTTPError(r.status, data);
  return data;
}

// ---- sign-in -------------------------------------------------------------

async function signIn(token) {
  st.token = token;
  ui.signinError.textContent = '';
  let me;
  try {
    me = await api('GET', '/api/operator/me');
  } catch (e) {
    st.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    ui.signinError.textContent = e.status === 401
      ? '토큰이 올바르지 않아요. · The token is not valid.'
      : '서버에 연결할 수 없어요. · Cannot reach the server.';
    showSignin();
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  st.me = String(me?.name ?? '');
  st.signedIn = true;
  ui.me.textContent = `${st.me} 님`;
  ui.signin.hidden = true;
  ui.app.hidden = false;
  connectFeed();
  refresh();
}

function showSignin() {
  ui.app.hidden = true;
  ui.signin.hidden = false;
  ui.tokenInput.focus();
}

function signOut(why) {
  st.signedIn = false;
  st.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  const ws = st.ws;
  st.ws = null;
  if (ws) ws.close();
  clearTimeout(st.reconnectTimer);
  st.sessions.clear();
  st.timelines.clear();
  st.queue = [];
  st.open = null;
  st.seen.clear();
  st.offset = undefined;
  ui.sessions.replaceChildren();
  ui.queue.replaceChildren();
  closeDetail();
  ui.signinError.textContent = why || '';
  ui.tokenInput.value = '';
  showSignin();
}

ui.signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const t = ui.tokenInput.value.trim();
  if (t) signIn(t);
});
ui.signout.addEventListener('click', () => signOut());

// ---- live feed -----------------------------------------------------------

function setFeed(kind) {
  ui.body.dataset.feed = kind;
  ui.body.dataset.conn = kind; // reuses the chat page's dot colours
  ui.feedText.textContent = {
    online: '실시간 · Live',
    offline: '연결 끊김, 다시 연결 중 · Reconnecting',
    connecting: '실시간 연결 중 · Connecting',
  }[kind];
}

function connectFeed() {
  clearTimeout(st.reconnectTimer);
  st.reconnectTimer = 0;
  if (st.ws || !st.signedIn) return;
  setFeed(st.attempt ? 'offline' : 'connecting');
  const ws = new WebSocket(wsURL('/ws/operator'));
  st.ws = ws;
  ws.onopen = () => {
    const auth = { type: 'auth', token: st.token };
    if (st.offset !== undefined) auth.offset = st.offset;
    ws.send(JSON.stringify(auth));
  };
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg && typeof msg === 'object') onFeed(msg);
  };
  ws.onclose = (e) => {
    if (st.ws !== ws) return;
    st.ws = null;
    if (e.code === 1008 && /unauthori[sz]ed/i.test(e.reason || '')) {
      signOut('토큰이 거부되었어요. · The token was refused.');
      return;
    }
    setFeed('offline');
    const delay = backoffDelay(st.attempt++);
    st.reconnectTimer = setTimeout(connectFeed, delay);
  };
}

function onFeed(msg) {
  if (msg.type === 'ready') {
    if (msg.offset !== undefined && msg.offset !== null && st.offset === undefined) st.offset = msg.offset;
    st.attempt = 0;
    setFeed('online');
    refresh(); // catch up on whatever happened while the feed was down
    return;
  }
  if (msg.type !== 'event' || !msg.event) return;
  if (msg.offset !== undefined) st.offset = msg.offset;
  const sid = String(msg.session_id ?? '');
  const ev = msg.event;
  const key = `${sid}:${ev.seq}`;
  if (st.seen.has(key)) return;
  st.seen.add(key);
  const s = st.sessions.get(sid);
  if (s && ev.ts) s.last_at = Math.max(Number(s.last_at) || 0, Number(ev.ts));
  if (ev.type === 'emotion' || ev.type === 'erased' || ev.type === 'deleted') st.dirty.add(sid);
  if (st.open && st.open.id === sid) addEvent(ev, true);
  scheduleRefresh();
}

// ---- refresh -------------------------------------------------------------

function scheduleRefresh() {
  clearTimeout(st.refreshTimer);
  st.refreshTimer = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
}

async function refresh() {
  if (!st.signedIn) return;
  if (st.refreshing) {
    st.refreshAgain = true;
    return;
  }
  st.refreshing = true;
  try {
    const [list, q] = await Promise.all([
      api('GET', '/api/operator/sessions'),
      api('GET', '/api/operator/queue'),
    ]);
    const ids = new Set();
    for (const s of list?.sessions ?? []) {
      ids.add(s.session_id);
      st.sessions.set(s.session_id, s);
    }
    for (const id of [...st.sessions.keys()]) {
      if (!ids.has(id)) {
        st.sessions.delete(id);
        st.timelines.delete(id);
      }
    }
    st.queue = q?.escalations ?? [];
    renderQueue();
    renderSessions();
    if (st.open) {
      const s = st.sessions.get(st.open.id);
      if (s) {
        st.open.summary = s;
        renderDetailHead();
      }
    }
    await fetchTimelines();
    renderSessions();
  } catch (e) {
    if (e.status !== 401) console.warn('refresh failed', e);
  } finally {
    st.refreshing = false;
    if (st.refreshAgain) {
      st.refreshAgain = false;
      scheduleRefresh();
    }
  }
}

async function fetchTimelines() {
  const wanted = sortedSessions().slice(0, MAX_SPARKLINES)
    .map((s) => s.session_id)
    .filter((id) => !st.timelines.has(id) || st.dirty.has(id));
  const work = [...wanted];
  const worker = async () => {
    while (work.length) {
      const id = work.shift();
      st.dirty.delete(id);
      try {
        const d = await api('GET', `/api/operator/sessions/${encodeURIComponent(id)}`);
        st.timelines.set(id, d?.timeline ?? []);
        if (st.open && st.open.id === id) {
          renderChart(d?.timeline ?? []);
          for (const ev of d?.events ?? []) addEvent(ev, false);
        }
      } catch (e) {
        if (e.status === 404) {
          st.sessions.delete(id);
          st.timelines.delete(id);
          if (st.open && st.open.id === id) closeDetail();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: DETAIL_CONCURRENCY }, worker));
}

// ---- sessions and queue --------------------------------------------------

function rank(s) {
  if (s.state === 'escalated') {
    return { crisis: 0, request: 1, mood: 2 }[s.escalation?.reason] ?? 2;
  }
  if (s.state === 'claimed') return 3;
  return 4;
}

function waitingSince(s) {
  return Number(s.escalation?.opened_at) || Number(s.last_at) || Number(s.created_at) || 0;
}

function sortedSessions() {
  return [...st.sessions.values()].sort((a, b) => rank(a) - rank(b) || waitingSince(a) - waitingSince(b));
}

function reasonChip(reason, extra = '') {
  const r = REASONS[reason] || { ko: reason, en: reason };
  return el('span', { cls: `chip reason-${reason} ${extra}`, text: `${r.ko} · ${r.en}` });
}

function stateBadge(s) {
  if (s.state === 'escalated' && s.escalation) return reasonChip(s.escalation.reason, 'badge');
  const t = STATES[s.state] || { ko: s.state, en: s.state };
  return el('span', { cls: `chip badge state-${s.state}`, text: `${t.ko} · ${t.en}` });
}

function labelChip(label) {
  if (!label) return null;
  const n = CLASS_NAMES[label] || { ko: label, en: label };
  return el('span', { cls: `label label-${label}`, text: `${n.ko} · ${n.en}` });
}

function shortId(id) {
  return String(id).slice(0, 8);
}

function renderSessions() {
  const list = sortedSessions();
  ui.sessionsCount.textContent = String(list.length);
  ui.sessionsEmpty.hidden = list.length > 0;
  const rows = list.map((s) => {
    const row = el('li', {
      cls: `srow rank-${rank(s)}${st.open && st.open.id === s.session_id ? ' open' : ''}`,
      data: { id: s.session_id, state: s.state, reason: s.escalation?.reason },
      attrs: { tabindex: 0, role: 'button', 'aria-label': `세션 ${shortId(s.session_id)} 열기 · Open session` },
    },
    el('div', { cls: 'srow-top' },
      el('span', { cls: 'sid', text: shortId(s.session_id) }),
      stateBadge(s),
      labelChip(s.mood?.label),
      s.operator ? el('span', { cls: 'op-name', text: s.operator }) : null),
    el('div', { cls: 'srow-bottom' },
      sparkline(st.timelines.get(s.session_id) || []),
      el('span', { cls: 'ago', data: { ts: s.last_at }, attrs: { title: '마지막 메시지 · last message' } }),
      el('span', { cls: 'msgs', text: `${s.mood?.messages ?? 0}개 · msgs` })));
    row.addEventListener('click', () => openSession(s.session_id));
    row.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        openSession(s.session_id);
      }
    });
    return row;
  });
  ui.sessions.replaceChildren(...rows);
  tick();
}

function renderQueue() {
  const q = [...st.queue].sort((a, b) => (b.severity - a.severity) || (a.opened_at - b.opened_at));
  ui.queueCount.textContent = String(q.length);
  ui.queueEmpty.hidden = q.length > 0;
  ui.queue.replaceChildren(...q.map((e) => {
    const item = el('li', {
      cls: `qitem sev-${e.severity}`,
      data: { id: e.session_id, reason: e.reason, state: e.state },
      attrs: { tabindex: 0, role: 'button' },
    },
    el('div', { cls: 'q-top' },
      reasonChip(e.reason, 'badge'),
      el('span', { cls: 'sev', text: `심각도 ${e.severity} · severity` }),
      el('span', { cls: 'sid', text: shortId(e.session_id) })),
    el('div', { cls: 'q-bottom' },
      el('span', { cls: 'wait', data: { ts: e.opened_at, prefix: 'wait' } }),
      e.state === 'claimed'
        ? el('span', { cls: 'op-name', text: `${e.operator || ''} 상담 중 · claimed` })
        : el('span', { cls: 'unclaimed', text: '담당자 없음 · unclaimed' })));
    item.addEventListener('click', () => openSession(e.session_id));
    item.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openSession(e.session_id); });
    return item;
  }));
  const crisis = q.filter((e) => e.reason === 'crisis' && e.state !== 'claimed').length;
  ui.crisisCount.textContent = String(crisis);
  ui.crisisAlert.hidden = crisis === 0;
  if (crisis > st.crisisSeen) ui.crisisAlert.classList.add('flash');
  if (crisis === 0) ui.crisisAlert.classList.remove('flash');
  st.crisisSeen = crisis;
  tick();
}

// Ticking clocks and the blinking title.
let titleBlink = false;
function tick() {
  const now = Date.now();
  for (const n of document.querySelectorAll('[data-ts]')) {
    const a = ago(Number(n.dataset.ts), now);
    n.textContent = n.dataset.prefix === 'wait' ? `대기 ${a.ko} · waiting ${a.en}` : `${a.ko} 전 · ${a.en} ago`;
  }
}
setInterval(() => {
  tick();
  const crisis = Number(ui.crisisCount.textContent) || 0;
  titleBlink = crisis > 0 && !titleBlink;
  document.title = titleBlink ? `(${crisis}) 위기 대기 · Crisis waiting` : '상담사 대시보드 · moodgate';
}, 1000);

// ---- open session --------------------------------------------------------

async function openSession(id) {
  ui.dError.textContent = '';
  st.open = { id, summary: st.sessions.get(id) || { session_id: id, state: 'bot' }, events: new Map(), emotions: new Map() };
  ui.detailEmpty.hidden = true;
  ui.detailBody.hidden = false;
  ui.dTranscript.replaceChildren();
  ui.dChart.replaceChildren();
  renderDetailHead();
  renderSessions();
  try {
    const d = await api('GET', `/api/operator/sessions/${encodeURIComponent(id)}`);
    if (!st.open || st.open.id !== id) return;
    if (d?.session) {
      st.open.summary = d.session;
      st.sessions.set(id, d.session);
    }
    st.timelines.set(id, d?.timeline ?? []);
    renderDetailHead();
    renderChart(d?.timeline ?? []);
    for (const ev of d?.events ?? []) addEvent(ev, false);
    renderSessions();
  } catch (e) {
    if (e.status === 404) {
      ui.dError.textContent = '이 세션은 더 이상 없어요. · This session no longer exists.';
    } else {
      ui.dError.textContent = '세션을 불러오지 못했어요. · Could not load the session.';
    }
  }
}

function closeDetail() {
  st.open = null;
  ui.detailBody.hidden = true;
  ui.detailEmpty.hidden = false;
}

function renderDetailHead() {
  const s = st.open.summary;
  ui.dTitle.textContent = `세션 ${shortId(s.session_id)}`;
  ui.dTitle.title = s.session_id;
  ui.dState.replaceChildren(stateBadge(s));
  ui.dState.dataset.state = s.state;
  const bits = [];
  if (s.operator) bits.push(`담당 ${s.operator} · operator`);
  if (s.mood?.label) bits.push(`현재 ${CLASS_NAMES[s.mood.label]?.ko ?? s.mood.label} · now ${s.mood.label}`);
  if (s.mood && typeof s.mood.valence === 'number') bits.push(`정서가 ${s.mood.valence.toFixed(2)} · valence`);
  ui.dMeta.textContent = bits.join('  ·  ');
  const mine = s.state === 'claimed' && s.operator === st.me;
  ui.claim.disabled = mine;
  ui.resolve.disabled = s.state === 'bot';
  ui.replyInput.disabled = !mine;
  ui.replySend.disabled = !mine;
  ui.replyForm.classList.toggle('locked', !mine);
}

// The chart is drawn at the width of its box, so text and dots keep their
// size on a phone and on a wide screen; it is redrawn when the box resizes.
let chartTimeline = [];
let chartWidth = 0;
function renderChart(timeline) {
  chartTimeline = timeline;
  chartWidth = Math.max(280, Math.round(ui.dChart.clientWidth || 760));
  ui.dChart.replaceChildren(moodChart(timeline, { width: chartWidth, height: 170 }), legend());
}
new ResizeObserver(() => {
  const w = Math.max(280, Math.round(ui.dChart.clientWidth));
  if (st.open && ui.dChart.clientWidth && Math.abs(w - chartWidth) > 8) renderChart(chartTimeline);
}).observe(ui.dChart);

function scoresRow(scores) {
  const row = el('div', { cls: 'scores' });
  for (const c of CLASSES) {
    const v = Math.max(0, Math.min(1, Number(scores?.[c]) || 0));
    const bar = el('span', { cls: 'bar' }, el('i', { cls: `fill fill-${c}` }));
    bar.firstChild.style.width = `${(v * 100).toFixed(0)}%`;
    row.append(el('span', { cls: 'score', data: { cls: c } },
      el('span', { cls: 'sname', text: CLASS_NAMES[c].ko }), bar,
      el('span', { cls: 'sval', text: `${Math.round(v * 100)}%` })));
  }
  return row;
}

function addEvent(ev, live) {
  const o = st.open;
  if (!o || !Number.isInteger(ev.seq)) return;
  if (o.events.has(ev.seq)) return;
  o.events.set(ev.seq, ev);
  const stick = ui.dTranscript.scrollHeight - ui.dTranscript.scrollTop - ui.dTranscript.clientHeight < 80;
  let row = null;
  const time = el('time', { text: clock(ev.ts) });
  switch (ev.type) {
    case 'ack':
      row = el('li', { cls: 'ev user' },
        el('div', { cls: 'ev-head' }, el('span', { cls: 'who', text: '사용자 · User' }), time, el('span', { cls: 'emo' })),
        el('p', { cls: 'text', text: ev.text ?? '' }));
      break;
    case 'reply': {
      const op = ev.from === 'operator';
      row = el('li', { cls: `ev ${op ? 'operator' : 'bot'}` },
        el('div', { cls: 'ev-head' },
          el('span', { cls: 'who', text: op ? `상담사 ${ev.operator || ''} · Operator` : '봇 · Bot' }), time,
          ev.notice ? el('span', { cls: 'chip', text: ev.notice }) : null),
        el('p', { cls: 'text', text: ev.text ?? '' }));
      break;
    }
    case 'escalation':
      row = el('li', { cls: `ev system reason-${ev.reason}` },
        el('div', { cls: 'ev-head' }, reasonChip(ev.reason, 'badge'), time),
        el('p', { cls: 'text', text: ev.message || `에스컬레이션 · escalation (${ev.reason})` }));
      break;
    case 'operator':
      row = el('li', { cls: 'ev system' },
        el('div', { cls: 'ev-head' }, el('span', { cls: 'who', text: ev.action === 'claimed' ? '담당 시작 · claimed' : '봇에게 넘김 · handed back' }), time),
        el('p', { cls: 'text', text: ev.message || `${ev.operator || ''}` }));
      break;
    case 'emotion':
      o.emotions.set(ev.ref, ev);
      applyEmotion(ev.ref);
      return;
    default:
      return;
  }
  insertBySeq(ui.dTranscript, row, ev.seq);
  if (ev.type === 'ack') applyEmotion(ev.seq);
  if (live && stick) ui.dTranscript.scrollTop = ui.dTranscript.scrollHeight;
  else if (!live) ui.dTranscript.scrollTop = ui.dTranscript.scrollHeight;
}

function applyEmotion(ref) {
  const o = st.open;
  const ev = o.emotions.get(ref);
  const row = ui.dTranscript.querySelector(`li.ev.user[data-seq="${Number(ref)}"]`);
  if (!ev || !row) return;
  const slot = row.querySelector('.emo');
  slot.replaceChildren(...[labelChip(ev.label),
    ev.crisis ? el('span', { cls: 'label label-crisis', text: `위기 신호 · crisis${ev.crisis_rule ? ` (${ev.crisis_rule})` : ''}` }) : null,
    el('span', { cls: 'src', text: ev.source || '' })].filter(Boolean));
  row.querySelector('.scores')?.remove();
  row.append(scoresRow(ev.scores));
}

// ---- actions -------------------------------------------------------------

function actionError(e, what) {
  if (e.status === 409) {
    ui.dError.textContent = '다른 상담사가 이미 담당하고 있어요. · Another operator holds this session.';
  } else if (e.status === 404) {
    ui.dError.textContent = '이 세션은 더 이상 없어요. · This session no longer exists.';
  } else {
    ui.dError.textContent = `${what}에 실패했어요. 다시 시도해 주세요. · ${what} failed; try again.`;
  }
}

async function act(button, what, fn) {
  const o = st.open;
  if (!o) return;
  ui.dError.textContent = '';
  button.disabled = true;
  try {
    await fn(o);
  } catch (e) {
    actionError(e, what);
  } finally {
    if (st.open === o) renderDetailHead();
  }
}

ui.claim.addEventListener('click', () => act(ui.claim, '담당하기', async (o) => {
  const r = await api('POST', `/api/operator/sessions/${encodeURIComponent(o.id)}/claim`);
  if (r?.session) {
    o.summary = r.session;
    st.sessions.set(o.id, r.session);
  }
  scheduleRefresh();
  ui.replyInput.focus();
}));

ui.resolve.addEventListener('click', () => act(ui.resolve, '봇에게 넘기기', async (o) => {
  const r = await api('POST', `/api/operator/sessions/${encodeURIComponent(o.id)}/resolve`);
  if (r?.session) {
    o.summary = r.session;
    st.sessions.set(o.id, r.session);
  }
  scheduleRefresh();
}));

ui.erase.addEventListener('click', async () => {
  const o = st.open;
  if (!o) return;
  const ok = await confirmDialog('이 세션을 삭제할까요?',
    `세션 ${shortId(o.id)}의 대화와 감정 기록이 모두 지워지며 되돌릴 수 없어요. · Every message and mood record of this session is erased for good.`,
    '삭제 · Erase');
  if (!ok) return;
  await act(ui.erase, '삭제', async () => {
    await api('DELETE', `/api/operator/sessions/${encodeURIComponent(o.id)}`);
    st.sessions.delete(o.id);
    st.timelines.delete(o.id);
    closeDetail();
    renderSessions();
    scheduleRefresh();
  });
});

ui.replyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.replyInput.value.trim();
  if (!text) return;
  act(ui.replySend, '답장 보내기', async (o) => {
    await api('POST', `/api/operator/sessions/${encodeURIComponent(o.id)}/messages`, { text });
    ui.replyInput.value = '';
    scheduleRefresh();
  });
});
ui.replyInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) ui.replyForm.requestSubmit();
});

// ---- start ---------------------------------------------------------------

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
else showSignin();
