// askdocs loader: one script tag adds an "Ask AI" button and a chat panel to any docs page.
// Attributes on the tag: data-label, data-position (right|left), data-theme (auto|light|dark),
// data-shortcut (e.g. "mod+i", or "none"), data-open (true to open on load).
(() => {
  const conf = __ASKDOCS_CONFIG__;
  const tag = document.currentScript;
  // The tag's own src is the truth about where we are served from, even behind a TLS-terminating proxy.
  const origin = tag && tag.src ? new URL(tag.src).origin : conf.origin;
  const all = (window.__askdocs = window.__askdocs || {});
  if (all[origin]) return; // the same widget twice on one page: keep the first
  const d = (tag && tag.dataset) || {};
  const key = 'askdocs:conv:' + origin;
  const store = (() => {
    for (const s of ['localStorage', 'sessionStorage']) {
      try { const st = window[s]; st.setItem(key + ':t', '1'); st.removeItem(key + ':t'); return st; } catch (e) {}
    }
    const mem = {}; // storage blocked (privacy modes, sandboxed frames): the chat lasts for this page only
    return {getItem: (k) => mem[k] || null, setItem: (k, v) => { mem[k] = v; }, removeItem: (k) => { delete mem[k]; }};
  })();
  const label = d.label || 'Ask AI';
  const left = d.position === 'left';
  const index = Object.keys(all).length;
  // With two widgets on a page, only the first takes the default shortcut, so one key never opens both.
  const shortcut = (d.shortcut || (index ? 'none' : 'mod+i')).toLowerCase();
  all[origin] = true;

  const host = document.createElement('div');
  host.setAttribute('data-askdocs', origin);
  const root = host.attachShadow({mode: 'open'});
  const side = left ? 'left' : 'right';
  const bottom = 20 + index * 64;
  root.innerHTML = `<style>
  :host{all:initial}
  button{position:fixed;${side}:20px;bottom:${bottom}px;z-index:2147483000;display:flex;gap:.4em;align-items:center;
    font:600 15px/1 system-ui,sans-serif;padding:.8em 1.1em;border:0;border-radius:999px;cursor:pointer;
    background:#4f46e5;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25)}
  button:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}
  .panel{position:fixed;${side}:20px;bottom:${bottom + 60}px;z-index:2147483001;width:min(420px,calc(100vw - 40px));
    height:min(640px,calc(100vh - ${bottom + 80}px));border-radius:14px;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.3);
    background:#fff;display:none}
  .panel.open{display:block}
  iframe{border:0;width:100%;height:100%}
  @media (max-width:640px){.panel{inset:0;width:100%;height:100%;border-radius:0}}
  </style><button type="button" aria-haspopup="dialog" aria-expanded="false"></button>
  <div class="panel" role="dialog" aria-label=""></div>`;
  const btn = root.querySelector('button');
  const panel = root.querySelector('.panel');
  btn.textContent = label;
  btn.title = shortcut === 'none' ? label : `${label} (${shortcut.replace('mod', /Mac|iP/.test(navigator.platform) ? '⌘' : 'Ctrl')})`;
  panel.setAttribute('aria-label', label);

  let frame = null, loaded = false;
  const chatUrl = () => {
    const u = new URL('/chat-standalone', origin);
    const conv = store.getItem(key);
    if (conv) u.searchParams.set('conv', conv);
    if (d.theme === 'light' || d.theme === 'dark') u.searchParams.set('theme', d.theme);
    return u.href;
  };
  const ensureFrame = () => {
    if (frame) return frame;
    frame = document.createElement('iframe');
    frame.title = label;
    frame.allow = 'clipboard-write';
    frame.src = chatUrl();
    frame.addEventListener('load', () => { loaded = true; if (isOpen()) focusChat(); });
    panel.appendChild(frame);
    return frame;
  };
  // Posting before the chat has loaded would target about:blank, which Chromium rejects with a console warning.
  const focusChat = () => loaded && frame.contentWindow.postMessage({askdocs: 1, type: 'focus'}, origin);
  const isOpen = () => panel.classList.contains('open');
  const open = () => {
    ensureFrame();
    panel.classList.add('open');
    btn.setAttribute('aria-expanded', 'true');
    frame.focus();
    focusChat();
  };
  const close = () => {
    panel.classList.remove('open');
    btn.setAttribute('aria-expanded', 'false');
    btn.focus();
  };
  btn.addEventListener('click', () => (isOpen() ? close() : open()));
  // Warm up without costing the host page: connect early when idle, load the chat on hover or focus.
  btn.addEventListener('pointerenter', ensureFrame, {once: true});
  btn.addEventListener('focus', ensureFrame, {once: true});
  (window.requestIdleCallback || setTimeout)(() => {
    const l = document.createElement('link');
    l.rel = 'preconnect'; l.href = origin;
    document.head.appendChild(l);
  });

  window.addEventListener('message', (e) => {
    if (e.origin !== origin || !frame || e.source !== frame.contentWindow || !e.data || !e.data.askdocs) return;
    if (e.data.type === 'close') close();
    if (e.data.type === 'conv') e.data.id ? store.setItem(key, e.data.id) : store.removeItem(key);
  });
  const [mod, letter] = shortcut.includes('+') ? shortcut.split('+') : ['', shortcut];
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && isOpen()) return close();
    if (shortcut === 'none' || e.key.toLowerCase() !== letter) return;
    const hasMod = e.ctrlKey || e.metaKey;
    if ((mod === 'mod') !== hasMod || e.altKey) return;
    e.preventDefault();
    isOpen() ? close() : open();
  });

  const mount = () => {
    document.body.appendChild(host);
    if (d.open === 'true') open();
  };
  document.body ? mount() : document.addEventListener('DOMContentLoaded', mount);
})();
