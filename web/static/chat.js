// The chat page. It speaks the user half of docs/protocol.md over /ws.
//
// Rendering rule: every event with a seq is rendered at most once (the map
// `rendered` is keyed by seq), so a resume or a replay never duplicates a
// message. After a reload the page asks for the whole transcript
// (last_seq=0) because the DOM is empty; after a dropped connection it asks
// only for what it missed (last_seq = highest seq seen).

import {
  CLASS_NAMES, DEFAULT_RESOURCES, backoffDelay, clock, confirmDialog, el,
  insertBySeq, randomId, wsURL,
} from './common.js';

const STORE_KEY = 'moodgate.chat';
const OUTBOX_KEY = 'moodgate.outbox';
const MAX_TEXT = 2000;
const PING_EVERY_MS = 20000;
const SILENT_LIMIT_MS = 50000;

const $ = (id) => document.getElementById(id);
const ui = {
  body: document.body,
  connText: $('conn-text'),
  crisis: $('crisis'),
  crisisList: $('crisis-list'),
  crisisToggle: $('crisis-toggle'),
  agent: $('agent'),
  transcript: $('transcript'),
  log: $('log'),
  pending: $('pending'),
  banner: $('banner'),
  form: $('composer'),
  input: $('input'),
  newChat: $('new-chat'),
};

const ERRORS = {
  rate_limited: ['메시지를 조금 천천히 보내 주세요.', 'You are sending messages too quickly.'],
  store_unavailable: ['일시적인 문제로 메시지를 저장하지 못했어요. 다시 보내 주세요.', 'The message could not be saved. Please try again.'],
  busy: ['지금 답변이 많이 밀려 있어요. 잠시 후 다시 시도해 주세요.', 'The service is busy. Please try again in a moment.'],
  invalid_text: ['보낼 수 없는 메시지예요 (비어 있거나 너무 길어요).', 'This message cannot be sent (empty or too long).'],
  too_large: ['메시지가 너무 길어요.', 'The message is too long.'],
  bad_frame: ['메시지 형식에 문제가 있어요.', 'The message was malformed.'],
  unknown_type: ['알 수 없는 요청이에요.', 'Unknown request.'],
  internal: ['서버에 문제가 생겼어요. 잠시 후 다시 시도해 주세요.', 'Something went wrong on our side. Please try again.'],
  shutting_down: ['서버가 잠시 재시작 중이에요. 다시 연결되면 보낼게요.', 'The server is restarting; the message is sent when we reconnect.'],
};

const state = {
  sessionId: '',
  token: '',
  lastSeq: 0,
  showLabels: false,
  ws: null,
  welcomed: false,
  attempt: 0,
  preWelcomeFailures: 0, // connections of a stored session that ended before a welcome
  attemptWhileUp: false, // this attempt began while /healthz answered
  refusedWhileUp: 0,
  reconnectTimer: 0,
  lastRx: 0,
  replayAll: true, // first connection of this page load: replay everything
  replaying: false, // events up to replayTo are history being replayed
  stuck: true, // the view is at the bottom of the transcript
  replayTo: 0,
  rendered: new Map(), // seq -> element (or true for events without a bubble)
  userBySeq: new Map(), // seq of a user message -> bubble
  emotions: new Map(), // seq of a user message -> emotion event
  streaming: new Map(), // ref -> streaming bot bubble
  repliedRefs: new Set(),
  outbox: [], // {id, text, status: 'sending'|'queued'|'failed', retryable}
  outboxEls: new Map(), // id -> bubble
};

// ---- storage -------------------------------------------------------------

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
    if (s && typeof s.session === 'string' && typeof s.token === 'string') {
      state.sessionId = s.session;
      state.token = s.token;
      state.lastSeq = Number(s.last_seq) || 0;
    }
    const o = JSON.parse(localStorage.getItem(OUTBOX_KEY) || '[]');
    if (Array.isArray(o)) {
      for (const m of o) {
        if (m && typeof m.id === 'string' && typeof m.text === 'string') {
          state.outbox.push({ id: m.id, text: m.text, status: 'queued' });
        }
      }
    }
  } catch {
    localStorage.removeItem(STORE_KEY);
    localStorage.removeItem(OUTBOX_KEY);
  }
}

function save() {
  try {
    if (state.sessionId) {
      localStorage.setItem(STORE_KEY, JSON.stringify({
        session: state.sessionId, token: state.token, last_seq: state.lastSeq,
      }));
    } else {
      localStorage.removeItem(STORE_KEY);
    }
    localStorage.setItem(OUTBOX_KEY, JSON.stringify(state.outbox.map(({ id, text }) => ({ id, text }))));
  } catch {
    // Storage full or disabled: the chat still works, only a reload forgets.
  }
}

// ---- connection ----------------------------------------------------------

function setConn(kind) {
  ui.body.dataset.conn = kind;
  ui.connText.textContent = {
    connecting: '연결 중 · Connecting',
    online: '연결됨 · Online',
    offline: '연결 끊김, 다시 연결하는 중 · Offline, reconnecting',
  }[kind];
}

function connect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = 0;
  if (state.ws) return;
  const q = new URLSearchParams();
  if (state.sessionId) {
    q.set('session', state.sessionId);
    q.set('token', state.token);
    q.set('last_seq', String(state.replayAll ? 0 : state.lastSeq));
  }
  const qs = q.toString();
  setConn(state.attempt ? 'offline' : 'connecting');
  let ws;
  try {
    ws = new WebSocket(wsURL('/ws') + (qs ? `?${qs}` : ''));
  } catch {
    scheduleReconnect();
    return;
  }
  state.ws = ws;
  state.welcomed = false;
  ws.onmessage = (e) => {
    state.lastRx = Date.now();
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    if (msg && typeof msg === 'object') handle(msg);
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.ws = null;
    for (const m of state.outbox) {
      if (m.status === 'sending') setOutboxStatus(m, 'queued');
    }
    if (!state.welcomed && state.sessionId) {
      state.preWelcomeFailures++;
      refusedWhileUp();
    }
    state.welcomed = false;
    setConn('offline');
    scheduleReconnect();
  };
}

// serverUp asks /healthz whether the server answers at all.
async function serverUp() {
  try {
    return (await fetch('/healthz', { cache: 'no-store' })).ok;
  } catch {
    return false;
  }
}

function scheduleReconnect() {
  if (state.reconnectTimer) return;
  const delay = backoffDelay(state.attempt++);
  state.reconnectTimer = setTimeout(async () => {
    // A stored session that keeps failing before its welcome may be
    // refused (HTTP 403 before the upgrade, which a browser cannot see:
    // a token signed with another secret). Only attempts made while the
    // server was up count, so an outage never costs the conversation.
    state.attemptWhileUp = state.preWelcomeFailures >= 2 && state.sessionId ? await serverUp() : false;
    state.reconnectTimer = 0;
    connect();
  }, delay);
}

function refusedWhileUp() {
  if (!state.attemptWhileUp) return;
  state.attemptWhileUp = false;
  if (++state.refusedWhileUp >= 2) {
    forgetSession();
    showBanner('이전 대화를 이어갈 수 없어 새 대화를 시작해요. · The previous conversation could not be resumed; starting a new one.', 'info');
  }
}

function send(obj) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN || !state.welcomed) return false;
  state.ws.send(JSON.stringify(obj));
  return true;
}

function forgetSession() {
  state.sessionId = '';
  state.token = '';
  state.lastSeq = 0;
  state.replayAll = true;
  state.preWelcomeFailures = 0;
  state.refusedWhileUp = 0;
  clearTranscript();
  save();
}

setInterval(() => {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  if (state.lastRx && Date.now() - state.lastRx > SILENT_LIMIT_MS) {
    state.ws.close(); // half-open connection: onclose reconnects
    return;
  }
  send({ type: 'ping' });
}, PING_EVERY_MS);

window.addEventListener('online', () => {
  if (!state.ws) {
    state.attempt = 0;
    connect();
  }
});

// ---- frames --------------------------------------------------------------

function handle(msg) {
  switch (msg.type) {
    case 'welcome': return onWelcome(msg);
    case 'reply.delta': return onDelta(msg);
    case 'error': return onError(msg);
    case 'pong': return undefined;
    default:
      if (Number.isInteger(msg.seq) && msg.seq > 0) return onEvent(msg);
      return undefined; // unknown frames are ignored (protocol rule)
  }
}

function onWelcome(msg) {
  if (state.sessionId && msg.session_id !== state.sessionId) {
    clearTranscript(); // a new session replaced a stored one
    state.lastSeq = 0;
  } else if (Number.isInteger(msg.seq) && msg.seq < state.lastSeq) {
    // The server has fewer events than this page saw (the session was
    // erased and begun again): start over from the server's transcript.
    clearTranscript();
    state.lastSeq = 0;
    state.replayAll = true;
    save();
    state.ws.close();
    return;
  }
  // A reply that was streaming on the last connection either was stored
  // (the replay brings it) or never will be from there: the server answers
  // it afresh (protocol.md), so its pieces go.
  for (const b of state.streaming.values()) b.remove();
  state.streaming.clear();
  state.sessionId = String(msg.session_id || '');
  state.token = String(msg.token || '');
  state.showLabels = msg.show_labels === true;
  ui.body.classList.toggle('show-labels', state.showLabels);
  state.welcomed = true;
  // Until the replay reaches the server's seq, keep the view at the bottom.
  const from = state.replayAll ? 0 : state.lastSeq;
  state.replaying = Number.isInteger(msg.seq) && msg.seq > from;
  state.replayTo = Number(msg.seq) || 0;
  state.replayAll = false;
  state.attempt = 0;
  state.preWelcomeFailures = 0;
  state.refusedWhileUp = 0;
  save();
  setConn('online');
  hideBanner('offline');
  for (const m of state.outbox) {
    if (m.status !== 'failed') transmit(m);
  }
  if (state.showLabels) {
    for (const ref of state.emotions.keys()) applyLabel(ref);
  }
}

function onEvent(ev) {
  if (state.rendered.has(ev.seq)) {
    // A resent message that the server had stored already: its bubble is
    // the one rendered for this seq, so the queued copy goes.
    if (ev.type === 'ack' && ev.id) dropOutbox(ev.id);
    return;
  }
  if (ev.seq > state.lastSeq) {
    state.lastSeq = ev.seq;
    save();
  }
  if (state.replaying && ev.seq >= state.replayTo) {
    queueMicrotask(() => {
      state.replaying = false;
      scrollDown(true);
    });
  }
  switch (ev.type) {
    case 'ack': return renderAck(ev);
    case 'reply': return renderReply(ev);
    case 'emotion': return renderEmotion(ev);
    case 'escalation': return renderEscalation(ev);
    case 'operator': return renderOperator(ev);
    default:
      state.rendered.set(ev.seq, true);
      return undefined;
  }
}

// The view follows new messages while the reader is at the bottom
// ("stuck"); one who scrolled up to read stays where they are.
function atBottom() {
  return state.replaying || state.stuck;
}

function scrollDown(force) {
  if (force || atBottom()) {
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
    state.stuck = true;
  }
}

ui.transcript.addEventListener('scroll', () => {
  const t = ui.transcript;
  state.stuck = t.scrollHeight - t.scrollTop - t.clientHeight < 80;
}, { passive: true });
// The crisis panel, the counsellor bar or the keyboard can shrink the view.
new ResizeObserver(() => {
  if (state.stuck) ui.transcript.scrollTop = ui.transcript.scrollHeight;
}).observe(ui.transcript);

function bubble(kind, text, meta) {
  const b = el('div', { cls: `msg ${kind}` },
    el('p', { cls: 'text', text }),
    el('div', { cls: 'meta' }, ...meta));
  return b;
}

function renderAck(ev) {
  const stick = atBottom();
  const m = state.outbox.find((o) => o.id === ev.id);
  let b = m ? state.outboxEls.get(m.id) : null;
  if (m) {
    state.outbox = state.outbox.filter((o) => o !== m);
    state.outboxEls.delete(m.id);
    save();
  }
  if (!b) {
    b = bubble('user', ev.text ?? '', [el('span', { cls: 'status' })]);
  }
  b.classList.remove('sending', 'queued', 'failed');
  b.classList.add('sent');
  b.dataset.id = ev.id || '';
  const meta = b.querySelector('.meta');
  meta.replaceChildren(el('time', { text: clock(ev.ts) }), el('span', { cls: 'status', text: '전송됨 · Sent' }));
  insertBySeq(ui.log, b, ev.seq);
  state.rendered.set(ev.seq, b);
  state.userBySeq.set(ev.seq, b);
  if (state.showLabels && state.emotions.has(ev.seq)) applyLabel(ev.seq);
  scrollDown(stick);
}

function renderReply(ev) {
  const stick = atBottom();
  const s = state.streaming.get(ev.ref);
  if (s && ev.from !== 'operator') {
    s.remove();
    state.streaming.delete(ev.ref);
  }
  if (ev.from !== 'operator' && ev.ref) state.repliedRefs.add(ev.ref);
  const isOp = ev.from === 'operator';
  const who = isOp
    ? el('span', { cls: 'who', text: `상담사 ${ev.operator || ''} · Counsellor`.replace('  ', ' ') })
    : el('span', { cls: 'who', text: '마음봇 · Assistant' });
  const meta = [who, el('time', { text: clock(ev.ts) })];
  if (ev.notice === 'degraded') {
    meta.push(el('span', { cls: 'status', text: '간단 응답 모드 · Simple reply mode' }));
  }
  const b = bubble(isOp ? 'operator' : 'bot', ev.text ?? '', meta);
  insertBySeq(ui.log, b, ev.seq);
  state.rendered.set(ev.seq, b);
  scrollDown(stick);
}

function onDelta(msg) {
  const ref = msg.ref;
  if (state.repliedRefs.has(ref)) return;
  const stick = atBottom();
  let b = state.streaming.get(ref);
  if (!b) {
    b = bubble('bot streaming', '', [el('span', { cls: 'who', text: '마음봇 · Assistant' }), el('span', { cls: 'status', text: '입력 중… · typing' })]);
    b.dataset.ref = String(ref);
    state.streaming.set(ref, b);
    ui.pending.prepend(b);
  }
  b.querySelector('.text').append(document.createTextNode(String(msg.text ?? '')));
  scrollDown(stick);
}

function renderEmotion(ev) {
  state.rendered.set(ev.seq, true);
  state.emotions.set(ev.ref, ev);
  if (state.showLabels) applyLabel(ev.ref);
}

function applyLabel(ref) {
  const b = state.userBySeq.get(ref);
  const ev = state.emotions.get(ref);
  if (!b || !ev) return;
  const names = CLASS_NAMES[ev.label] || { ko: ev.label_ko || ev.label, en: ev.label };
  const badge = el('span', {
    cls: `label label-${ev.label}`, text: `${ev.label_ko || names.ko} · ${names.en}`,
    attrs: { title: '자동 감정 분류 · automatic emotion label' },
  });
  b.querySelector('.label')?.remove();
  b.querySelector('.meta').prepend(badge);
}

function notice(ev, kind, text, en) {
  const stick = atBottom();
  const n = el('div', { cls: `notice ${kind}`, data: { kind }, attrs: { role: 'status' } },
    el('p', { text }),
    en ? el('p', { cls: 'en', text: en }) : null);
  insertBySeq(ui.log, n, ev.seq);
  state.rendered.set(ev.seq, n);
  scrollDown(stick);
}

function renderEscalation(ev) {
  if (ev.reason === 'crisis') {
    showCrisis(Array.isArray(ev.resources) && ev.resources.length ? ev.resources : DEFAULT_RESOURCES);
    notice(ev, 'escalation-crisis', ev.message || '지금 많이 힘드신 것 같아요. 상담사에게 바로 알렸어요.',
      ev.message ? '' : 'It sounds really hard right now. A counsellor has been notified.');
  } else {
    notice(ev, 'escalation', ev.message || '상담사 연결을 요청했어요. 곧 함께할게요.',
      ev.message ? '' : 'We asked a counsellor to join. Someone will be with you soon.');
  }
}

function renderOperator(ev) {
  const name = ev.operator ? String(ev.operator) : '';
  if (ev.action === 'claimed') {
    ui.agent.hidden = false;
    ui.agent.textContent = `상담사${name ? ` ${name}` : ''}님과 대화 중 · With a counsellor${name ? ` (${name})` : ''}`;
    notice(ev, 'operator-claimed', `상담사${name ? ` ${name}` : ''}님이 대화에 참여했어요.`, `A counsellor${name ? ` (${name})` : ''} joined the conversation.`);
  } else if (ev.action === 'resolved') {
    ui.agent.hidden = true;
    ui.agent.textContent = '';
    notice(ev, 'operator-resolved', '상담사가 대화를 마쳤어요. 이제 다시 마음봇이 답해요.', 'The counsellor has left; the assistant is back.');
  } else {
    state.rendered.set(ev.seq, true);
  }
}

function showCrisis(resources) {
  ui.crisisList.replaceChildren();
  for (const r of resources) {
    const contact = String(r.contact ?? '');
    const dial = /^[0-9][0-9-]{1,14}$/.test(contact.trim()) ? contact.trim() : '';
    const value = dial
      ? el('a', { cls: 'contact', text: contact, attrs: { href: `tel:${dial.replace(/-/g, '')}` } })
      : el('span', { cls: 'contact', text: contact });
    ui.crisisList.append(el('li', {}, value, el('span', { cls: 'name', text: String(r.name ?? '') })));
  }
  ui.crisis.hidden = false;
}

function onError(msg) {
  const [ko, en] = ERRORS[msg.code] || [String(msg.message || '문제가 생겼어요.'), 'Something went wrong.'];
  const m = msg.id ? state.outbox.find((o) => o.id === msg.id) : null;
  if (m && msg.code === 'shutting_down') {
    setOutboxStatus(m, 'queued'); // not stored: resent after the reconnect
  } else if (m) {
    m.retryable = msg.retryable === true;
    setOutboxStatus(m, 'failed', `${ko} · ${en}`);
  } else {
    showBanner(`${ko} · ${en}`, 'error');
  }
}

// ---- sending -------------------------------------------------------------

function setOutboxStatus(m, status, why) {
  m.status = status;
  const b = state.outboxEls.get(m.id);
  if (!b) return;
  b.classList.remove('sending', 'queued', 'failed');
  b.classList.add(status);
  const meta = b.querySelector('.meta');
  meta.replaceChildren();
  if (status === 'sending') meta.append(el('span', { cls: 'status', text: '보내는 중 · Sending' }));
  if (status === 'queued') meta.append(el('span', { cls: 'status', text: '연결되면 보낼게요 · Will send when back online' }));
  if (status === 'failed') {
    meta.append(el('span', { cls: 'status', text: why || '보내지 못했어요 · Not sent' }));
    if (m.retryable !== false) {
      const retry = el('button', { cls: 'retry', text: '다시 보내기 · Retry', attrs: { type: 'button' } });
      retry.addEventListener('click', () => transmit(m));
      meta.append(retry);
    }
    const drop = el('button', { cls: 'retry ghost', text: '지우기 · Discard', attrs: { type: 'button' } });
    drop.addEventListener('click', () => {
      state.outbox = state.outbox.filter((o) => o !== m);
      b.remove();
      state.outboxEls.delete(m.id);
      save();
    });
    meta.append(drop);
  }
}

function dropOutbox(id) {
  const m = state.outbox.find((o) => o.id === id);
  if (!m) return;
  state.outbox = state.outbox.filter((o) => o !== m);
  state.outboxEls.get(id)?.remove();
  state.outboxEls.delete(id);
  save();
}

function transmit(m) {
  if (send({ type: 'message', id: m.id, text: m.text })) setOutboxStatus(m, 'sending');
  else setOutboxStatus(m, 'queued');
}

function addOutboxBubble(m) {
  const b = bubble('user', m.text, []);
  b.dataset.id = m.id;
  state.outboxEls.set(m.id, b);
  ui.pending.append(b);
  setOutboxStatus(m, m.status);
}

function submit() {
  const text = ui.input.value.trim();
  if (!text) return;
  if ([...text].length > MAX_TEXT) {
    showBanner(`${MAX_TEXT}자까지 보낼 수 있어요. · Up to ${MAX_TEXT} characters.`, 'error');
    return;
  }
  const m = { id: randomId(), text, status: 'queued' };
  state.outbox.push(m);
  save();
  addOutboxBubble(m);
  transmit(m);
  ui.input.value = '';
  autosize();
  scrollDown(true);
}

function autosize() {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    submit();
  }
});
ui.input.addEventListener('input', autosize);

// The crisis panel can shrink to a strip of numbers, never disappear.
ui.crisisToggle.addEventListener('click', () => {
  const compact = ui.crisis.classList.toggle('compact');
  ui.crisisToggle.textContent = compact ? '펼치기 · More' : '접기 · Less';
  ui.crisisToggle.setAttribute('aria-expanded', String(!compact));
});

ui.newChat.addEventListener('click', async () => {
  const ok = await confirmDialog('새 대화를 시작할까요?',
    '이 기기에서 지금 대화로 돌아올 수 없게 돼요. · You will not be able to return to this conversation from this device.',
    '새 대화 · New chat');
  if (!ok) return;
  state.outbox = [];
  forgetSession();
  if (state.ws) state.ws.close();
  else connect();
});

// ---- page state ----------------------------------------------------------

function clearTranscript() {
  ui.log.replaceChildren();
  ui.pending.replaceChildren();
  state.rendered.clear();
  state.userBySeq.clear();
  state.emotions.clear();
  state.streaming.clear();
  state.repliedRefs.clear();
  state.outboxEls.clear();
  ui.crisis.hidden = true;
  ui.agent.hidden = true;
  for (const m of state.outbox) addOutboxBubble(m);
}

function showBanner(text, kind) {
  ui.banner.textContent = text;
  ui.banner.dataset.kind = kind;
  ui.banner.hidden = false;
  clearTimeout(showBanner.timer);
  showBanner.timer = setTimeout(() => { ui.banner.hidden = true; }, 8000);
}

function hideBanner(kind) {
  if (!kind || ui.banner.dataset.kind === kind) ui.banner.hidden = true;
}

load();
for (const m of state.outbox) addOutboxBubble(m);
connect();
