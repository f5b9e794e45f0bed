// askdocs chat page: keyboard, scrolling, copy buttons and the conversation id handed to the host page.
(() => {
  const $ = (s, el = document) => el.querySelector(s);
  const toParent = (msg) => { if (window.parent !== window) window.parent.postMessage({askdocs: 1, ...msg}, '*'); };

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') return toParent({type: 'close'});
    if (e.target.id === 'q' && e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('#ask-form').requestSubmit();
    }
  });

  // The native EventSource 'error' (a dropped connection) shares its name with our `error` event; only ours has data.
  document.addEventListener('htmx:sseBeforeMessage', (e) => { if (e.detail.data === undefined) e.preventDefault(); });

  if (window.parent !== window) $('.close-chat')?.classList.remove('hidden');

  document.addEventListener('click', async (e) => {
    if (e.target.closest('.close-chat')) return toParent({type: 'close'});
    const btn = e.target.closest('.copy-answer, .copy-code');
    if (!btn) return;
    const src = btn.classList.contains('copy-code') ? btn.parentElement.querySelector('code') : btn.closest('.chat').querySelector('.answer-final');
    await navigator.clipboard.writeText(src.innerText);
    btn.dataset.copied = '1';
    setTimeout(() => delete btn.dataset.copied, 1500);
  });

  let lastConv; // undefined, so the first settle always tells the host page, even "no conversation" after New conversation
  const settle = () => {
    for (const pre of document.querySelectorAll('.answer-final pre:not(.has-copy)')) {
      pre.classList.add('has-copy');
      const b = document.createElement('button');
      b.className = 'copy-code btn btn-xs btn-ghost'; b.type = 'button'; b.textContent = 'Copy';
      pre.prepend(b);
    }
    const conv = $('#conv')?.value || null;
    if (conv !== lastConv) toParent({type: 'conv', id: (lastConv = conv)});
    const q = $('#q');
    if (q && document.activeElement === document.body) q.focus();
  };

  // Follow the newest message unless the reader has scrolled up to read.
  const log = $('#messages');
  let pinned = true;
  log.addEventListener('scroll', () => { pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 60; });
  new MutationObserver(() => { if (pinned) log.scrollTop = log.scrollHeight; }).observe(log, {childList: true, subtree: true, characterData: true});

  document.addEventListener('htmx:afterSettle', settle);
  window.addEventListener('message', (e) => { if (e.source === window.parent && e.data?.askdocs && e.data.type === 'focus') $('#q')?.focus(); });
  settle();
  log.scrollTop = log.scrollHeight;
  // htmx wires the page up on DOMContentLoaded, after this deferred script: mark the chat ready then (tests wait on it).
  document.addEventListener('DOMContentLoaded', () => { document.documentElement.dataset.ready = '1'; });
})();
