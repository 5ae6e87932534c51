// Shared helpers of the chat page and the operator dashboard.
//
// Every piece of text that comes from a person or a model goes into the page
// through el()'s text option or document.createTextNode: never as HTML.

/** The four emotion classes, in the order the charts stack them. */
export const CLASSES = ['neutral', 'joy', 'sadness', 'anger'];

/** Korean and English names of each class. */
export const CLASS_NAMES = {
  neutral: { ko: '무감정', en: 'neutral' },
  sadness: { ko: '슬픔', en: 'sadness' },
  joy: { ko: '기쁨', en: 'joy' },
  anger: { ko: '분노', en: 'anger' },
};

/** Crisis contacts shown when the server sends none. */
export const DEFAULT_RESOURCES = [
  { name: '자살예방상담전화 (24시간) · Suicide prevention line, 24h', contact: '109' },
  { name: '마들랜 문자·카카오톡 상담 · Text / KakaoTalk counselling', contact: '문자 109 · 카카오톡 마들랜' },
  { name: '정신건강 위기상담 · Mental-health crisis line', contact: '1577-0199' },
  { name: '긴급 신고 · Emergency (police / fire, ambulance)', contact: '112 · 119' },
];

/**
 * el creates an element. opts.text becomes a text node; opts.cls the class;
 * opts.attrs plain attributes (never event handlers); children are appended
 * (strings become text nodes).
 */
export function el(tag, opts = {}, ...children) {
  const node = document.createElement(tag);
  if (opts.cls) node.className = opts.cls;
  if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
  if (opts.attrs) {
    for (const [k, v] of Object.entries(opts.attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (/^on/i.test(k)) throw new Error('el: event handler attributes are not allowed');
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  if (opts.data) {
    for (const [k, v] of Object.entries(opts.data)) {
      if (v !== undefined && v !== null) node.dataset[k] = String(v);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/**
 * backoffDelay is the wait before reconnect attempt n (0-based): exponential
 * from baseMs, capped at capMs, with "equal jitter" (half fixed, half random)
 * so that many clients that lost the server at once do not return at once.
 */
export function backoffDelay(n, baseMs = 500, capMs = 15000) {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(n, 16));
  return exp / 2 + Math.random() * (exp / 2);
}

/** randomId returns a 128-bit hex id; it works outside secure contexts too. */
export function randomId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** wsURL returns the ws: or wss: URL of path on this page's host. */
export function wsURL(path) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}

/** ago formats the time since ts (Unix ms) in Korean and English. */
export function ago(ts, now = Date.now()) {
  if (!ts) return { ko: '—', en: '' };
  const s = Math.max(0, Math.floor((now - ts) / 1000));
  if (s < 60) return { ko: `${s}초`, en: `${s}s` };
  const m = Math.floor(s / 60);
  if (m < 60) return { ko: `${m}분`, en: `${m}m` };
  const h = Math.floor(m / 60);
  if (h < 48) return { ko: `${h}시간 ${m % 60}분`, en: `${h}h ${m % 60}m` };
  const d = Math.floor(h / 24);
  return { ko: `${d}일`, en: `${d}d` };
}

/** clock formats ts (Unix ms) as HH:MM in the browser's time zone. */
export function clock(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/**
 * confirmDialog shows the page's <dialog id="confirm"> with the title and
 * body and resolves to true when the person confirms. It never uses
 * window.confirm, so it also works where native dialogs are blocked.
 */
export function confirmDialog(title, body, okLabel) {
  const dlg = document.getElementById('confirm');
  dlg.querySelector('[data-role=title]').textContent = title;
  dlg.querySelector('[data-role=body]').textContent = body;
  const ok = dlg.querySelector('[data-role=ok]');
  if (okLabel) ok.textContent = okLabel;
  return new Promise((resolve) => {
    const done = () => {
      dlg.removeEventListener('close', done);
      resolve(dlg.returnValue === 'ok');
    };
    dlg.returnValue = '';
    dlg.addEventListener('close', done);
    dlg.showModal();
  });
}

/** insertBySeq puts node into parent so that children stay ordered by data-seq. */
export function insertBySeq(parent, node, seq) {
  node.dataset.seq = String(seq);
  let after = parent.lastElementChild;
  while (after && Number(after.dataset.seq) > seq) after = after.previousElementSibling;
  if (after) after.after(node);
  else parent.prepend(node);
}
