"""Benchmark the widget in a real browser: streaming cost, bytes on the wire, time to open, impact on the host page.

    .venv/bin/python benchmarks/bench_browser.py [--tokens 2000] [--tps 100] [--reps 5]

Chromium (Debian's, headless) maps docs.test and widget.test to loopback, so the chat runs in a cross-site iframe on a
real Sphinx page (the Python 3.11 docs) as on the web. Timings come from the pages themselves (performance.now, long
tasks, layout shifts, recorded from each frame's first script on) and from CDP (Performance.getMetrics, Network).
"""
import argparse, base64, gzip, re, sys, time
from contextlib import ExitStack
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, askdocs, askdocs_env, fake_provider, machine, median, table  # noqa: E402
sys.path.insert(0, str(ROOT / 'tests'))
import sphinxsite  # noqa: E402
from sphinxsite import SPHINX  # noqa: E402

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--no-first-run', '--host-resolver-rules=MAP docs.test 127.0.0.1, MAP widget.test 127.0.0.1']
METRICS = ('TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration', 'LayoutCount', 'RecalcStyleCount')

# In every frame, from its first script on; times are epoch ms (timeOrigin + now) so frames in other processes compare.
PROBES = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__longtasks = []; window.__cls = 0;
  const watch = (type, f) => new PerformanceObserver(l => l.getEntries().forEach(f)).observe({type, buffered: true});
  watch('longtask', e => __longtasks.push([performance.timeOrigin + e.startTime, e.duration]));
  watch('layout-shift', e => { if (!e.hadRecentInput) __cls += e.value; });
  addEventListener('click', () => { window.__clickAt = now(); requestAnimationFrame(() => { window.__shownAt = now(); }); }, true);
  addEventListener('keydown', e => { if (e.key === 'Enter') window.__sentAt = now(); }, true);
  new MutationObserver((_, o) => { if (document.documentElement?.dataset.ready) { window.__readyAt = now(); o.disconnect(); } })
    .observe(document, {attributes: true, subtree: true, attributeFilter: ['data-ready']});
})();"""

WATCH_ANSWER = """() => {
  const now = () => performance.timeOrigin + performance.now();
  new MutationObserver((_, o) => {
    if (!window.__firstAt && document.querySelector('#messages .answer')?.textContent) window.__firstAt = now();
    if (document.querySelector('#messages .answer-final')) { window.__finalAt = now(); o.disconnect(); }
  }).observe(document.getElementById('messages'), {childList: true, subtree: true, characterData: true});
}"""

NEXT_FRAME = '() => new Promise(r => requestAnimationFrame(() => setTimeout(r)))'

# ---- Servers and pages ----

def docs_site(stack, widget):
    "The Python docs on docs.test, each page with the widget's tag (or without it, with ?plain in the URL)."
    httpd = sphinxsite.serve(f'<script src="{widget}/embed" defer></script>')
    stack.callback(httpd.server_close)
    stack.callback(httpd.shutdown)
    return f'http://docs.test:{httpd.server_address[1]}'

def warm_up(url):
    "One answer through the server first: the first one waits for lisette's import."
    with httpx.Client(base_url=url, timeout=120) as c:
        r = c.post('/ask', data=dict(q='warm up [[md:5]]', conv=''), headers={'HX-Request': '1'})
        c.get(re.search(r'sse-connect="([^"]+)"', r.text)[1])

def fresh(browser):
    "A new context (empty cache and storage) whose frames all record the probes."
    ctx = browser.new_context()
    ctx.add_init_script(PROBES)
    return ctx

def button(page): return page.get_by_role('button', name='Ask AI', exact=True)

def chat_frame(page): return next(f for f in page.frames if '/chat-standalone' in f.url)

def session(ctx, target):
    s = ctx.new_cdp_session(target)
    s.send('Performance.enable')
    s.send('Network.enable')
    return s

def metrics(s): return {m['name']: m['value'] for m in s.send('Performance.getMetrics')['metrics']}

def header(headers, name): return next((v for k, v in headers.items() if k.lower() == name), '')

class Wire:
    "What one CDP target fetched: per request its URL, status, encoding, cache, bytes; and the SSE messages it got."
    def __init__(self, s):
        self.s, self.reqs, self.sse = s, {}, []
        req = lambda e: self.reqs.setdefault(e['requestId'], dict(wire=0, decoded=0, cache='', headers=0))
        def response(e):
            r = e['response']
            req(e).update(status=r['status'], encoding=header(r['headers'], 'content-encoding'),
                          cache='disk' if r.get('fromDiskCache') else req(e)['cache'])
        on = lambda name, f: s.on('Network.' + name, f)
        on('requestWillBeSent', lambda e: req(e).update(url=e['request']['url']))
        on('requestWillBeSentExtraInfo', lambda e: req(e).update(accept=header(e['headers'], 'accept-encoding')))
        on('requestServedFromCache', lambda e: req(e).update(cache='memory'))
        on('responseReceived', response)
        on('responseReceivedExtraInfo', lambda e: req(e).update(headers=len(e.get('headersText') or '')))
        on('dataReceived', lambda e: req(e).update(decoded=req(e)['decoded'] + e['dataLength']))
        on('loadingFinished', lambda e: req(e).update(wire=e['encodedDataLength']))
        on('eventSourceMessageReceived', lambda e: self.sse.append((e['eventName'], len(e['data']))))

    def gzipped(self, rid):
        "What gzip -6 would make of the body (when the server did not compress it)."
        b = self.s.send('Network.getResponseBody', dict(requestId=rid))
        body = base64.b64decode(b['body']) if b['base64Encoded'] else b['body'].encode()
        return len(gzip.compress(body, 6))

def kb(n): return f'{n / 1024:.1f} KB'

def short(url): return re.sub(r'^https?://[^/]+', '', url)[:40]

# ---- 1. Streaming ----

def stream(ctx, page, chat, question, timeout):
    "Ask in `chat` (the page, or the iframe's frame) and measure until the formatted answer is there."
    sessions = dict(chat=session(ctx, chat))
    if chat is not page.main_frame: sessions['host'] = session(ctx, page)
    wire = Wire(sessions['chat'])
    chat.evaluate(WATCH_ANSWER)
    chat.locator('#q').fill(question)
    before = {k: metrics(s) for k, s in sessions.items()}
    chat.locator('#q').press('Enter')
    chat.locator('.answer-final').wait_for(timeout=timeout)
    chat.evaluate(NEXT_FRAME)
    after = {k: metrics(s) for k, s in sessions.items()}
    sent, first, final = chat.evaluate('[__sentAt, __firstAt, __finalAt]')
    out = {}
    for k, frame in dict(chat=chat, host=page.main_frame).items():
        if k not in sessions: continue
        d = {m: after[k][m] - before[k][m] for m in METRICS}
        tasks = [(at - sent, ms) for at, ms in frame.evaluate('__longtasks') if at >= sent]
        out[k] = dict(d, wall=final - sent, first=first - sent, tasks=tasks, sse=wire.sse if k == 'chat' else None)
    return out

def stream_rows(results):
    def sse(r):
        if r['sse'] is None: return '–'
        kinds = {}
        for name, _ in r['sse']: kinds[name] = kinds.get(name, 0) + 1
        return ', '.join(f'{n} {k}' for k, n in kinds.items())
    rows = [('stream wall, Enter → .answer-final', lambda r: f"{r['wall'] / 1000:.2f} s"),
            ('first text after Enter', lambda r: f"{r['first']:.0f} ms"),
            ('SSE frames', sse),
            ('SSE payload', lambda r: kb(sum(n for _, n in r['sse'])) if r['sse'] is not None else '–'),
            ('main thread busy (TaskDuration)', lambda r: f"{r['TaskDuration'] * 1000:.0f} ms ({r['TaskDuration'] * 1e5 / r['wall']:.1f} %)"),
            ('  script', lambda r: f"{r['ScriptDuration'] * 1000:.0f} ms"),
            ('  layout', lambda r: f"{r['LayoutDuration'] * 1000:.0f} ms"),
            ('  style recalc', lambda r: f"{r['RecalcStyleDuration'] * 1000:.0f} ms"),
            ('layouts', lambda r: f"{r['LayoutCount']:.0f}"),
            ('style recalcs', lambda r: f"{r['RecalcStyleCount']:.0f}"),
            ('long tasks (> 50 ms)', lambda r: str(len(r['tasks']))),
            ('longest long task', lambda r: '{1:.0f} ms, {0:.0f} ms after Enter'.format(*max(r['tasks'], key=lambda t: t[1]))
                                            if r['tasks'] else '–')]
    return [(name, *(f(r) for r in results)) for name, f in rows]

def bench_stream(browser, widget, host_url, question, timeout):
    ctx = fresh(browser)
    try:
        page = ctx.new_page()
        page.goto(f'{widget}/chat-standalone')
        page.locator('html[data-ready]').wait_for(state='attached')
        alone = stream(ctx, page, page.main_frame, question, timeout)['chat']
    finally: ctx.close()
    ctx = fresh(browser)
    try:
        page = ctx.new_page()
        page.goto(host_url)
        open_chat(page)
        framed = stream(ctx, page, chat_frame(page), question, timeout)
    finally: ctx.close()
    table(['while a long answer streams', 'standalone page', 'in the iframe: chat', 'in the iframe: host page'],
          stream_rows([alone, framed['chat'], framed['host']]))

# ---- 2. Bytes on the wire ----

def visits(ctx, url, ready):
    "Load `url` in a fresh context, then again in the same one; yields ('first'|'repeat', Wire) once all loads are done."
    page = ctx.new_page()
    wire = Wire(session(ctx, page))
    for visit in ('first', 'repeat'):
        wire.reqs.clear()
        page.goto(url)
        ready(page)
        page.wait_for_load_state('networkidle')
        yield visit, wire

def transfer_rows(visit, wire, keep=lambda url: True):
    rows, total = [], 0
    for rid, r in wire.reqs.items():
        if not keep(r.get('url', '')) or r.get('url', '').startswith('data:'): continue
        gz = wire.gzipped(rid) if visit == 'first' and not r['encoding'] and r['decoded'] else None
        rows.append((visit, short(r['url']), r.get('status', '?'), r['encoding'] or 'none', r['cache'] or '–',
                     r['wire'], r['wire'] - r['headers'], r['decoded'], gz if gz is not None else '–'))
        total += r['wire']
    return rows, total

def bench_transfer(browser, widget, host_url):
    rows, totals, accept = [], {}, set()
    for what, url, ready, keep in (
            ('chat page', f'{widget}/chat-standalone', lambda p: p.locator('html[data-ready]').wait_for(state='attached'),
             lambda u: True),
            ('loader', host_url, lambda p: expect(button(p)).to_be_visible(), lambda u: u.startswith(widget))):
        ctx = fresh(browser)
        try:
            for visit, wire in visits(ctx, url, ready):
                r, totals[what, visit] = transfer_rows(visit, wire, keep)
                rows += [(what, *row) for row in r]
                accept |= {r['accept'] for r in wire.reqs.values() if r.get('accept')}
        finally: ctx.close()
    print(f"Accept-Encoding that Chromium sent (http://, not https://): {', '.join(sorted(accept))}\n")
    table(['what', 'visit', 'resource', 'status', 'content-encoding', 'from cache', 'wire B (hdr+body)', 'body on wire B',
           'decoded B', 'gzip -6 B (local)'], rows)
    print()
    table(['what', 'first visit, on the wire', 'repeat visit, on the wire', 'target (first visit)', 'met'],
          [('chat page (document + subresources)', kb(totals['chat page', 'first']), kb(totals['chat page', 'repeat']),
            '≤ 60 KB compressed', 'yes' if totals['chat page', 'first'] <= 60 * 1024 else 'no'),
           ('loader (/embed)', kb(totals['loader', 'first']), kb(totals['loader', 'repeat']), '≤ 3 KB gzipped',
            'yes' if totals['loader', 'first'] <= 3 * 1024 else 'no')])

# ---- 3. Click to a chat one can type in ----

def open_chat(page):
    "Click the button and wait for #q: visible, enabled, chat wired up. Returns (in-page ms, Playwright wall ms)."
    t0 = time.perf_counter()
    button(page).click()
    chat = page.frame_locator('iframe[src*="/chat-standalone"]')
    chat.locator('html[data-ready] #q').wait_for(state='visible')
    expect(chat.locator('#q')).to_be_enabled()
    wall = (time.perf_counter() - t0) * 1000
    page.evaluate(NEXT_FRAME)
    clicked, shown = page.evaluate('[__clickAt, __shownAt]')
    return max(chat_frame(page).evaluate('__readyAt'), shown) - clicked, wall

def close_chat(page):
    page.keyboard.press('Escape')
    expect(page.locator('[data-askdocs] .panel')).to_be_hidden()

def bench_open(browser, host_url, reps):
    times = {k: [] for k in ('cold: new visitor, first click', 'reopen after closing', 'next page (chat assets cached)',
                             'hover first (loader preloads the iframe)')}
    cold, reopen, next_page, hover = times.values()
    for _ in range(reps):
        ctx = fresh(browser)
        try:
            page = ctx.new_page()
            page.goto(host_url)
            cold.append(open_chat(page))
            close_chat(page)
            reopen.append(open_chat(page))
            page.goto(host_url)
            next_page.append(open_chat(page))
            page.goto(host_url)
            button(page).hover()
            page.frame_locator('iframe[src*="/chat-standalone"]').locator('html[data-ready]').wait_for(state='attached')
            hover.append(open_chat(page))
        finally: ctx.close()
    table(['click → #q ready', 'in page: median', 'in page: min–max', 'Playwright wall: median'],
          [(k, f'{median([a for a, _ in v]):.0f} ms', f'{min(a for a, _ in v):.0f}–{max(a for a, _ in v):.0f} ms',
            f'{median([w for _, w in v]):.0f} ms') for k, v in times.items()])

# ---- 4. What the script tag costs the host page ----

def host_load(browser, url, widget):
    ctx = fresh(browser)
    try:
        page = ctx.new_page()
        s = session(ctx, page)
        wire = Wire(s)
        page.goto(url)
        page.wait_for_load_state('networkidle')
        page.evaluate(NEXT_FRAME)
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
        embed = page.evaluate("w => performance.getEntriesByType('resource').filter(e => e.name.startsWith(w))"
                              ".map(e => [e.startTime, e.responseEnd])", widget)
        m = metrics(s)
        mine = [r for r in wire.reqs.values() if r.get('url', '').startswith(widget)]
        return dict(load=nav['loadEventEnd'], dcl=nav['domContentLoadedEventEnd'], cls=page.evaluate('__cls'),
                    task=m['TaskDuration'] * 1000, script=m['ScriptDuration'] * 1000, requests=len(wire.reqs),
                    bytes=sum(r['wire'] for r in wire.reqs.values()), widget_requests=len(mine),
                    widget_bytes=sum(r['wire'] for r in mine), embed=embed[0] if embed else None)
    finally: ctx.close()

def bench_host(browser, plain_url, tagged_url, widget, reps):
    runs, pages = {'without the tag': [], 'with the tag': []}, [('without the tag', plain_url), ('with the tag', tagged_url)]
    for i in range(reps):  # alternate which goes first, so drift on a busy machine favours neither
        for k, url in pages[::1 if i % 2 else -1]: runs[k].append(host_load(browser, url, widget))
    med = lambda v, key: median([r[key] for r in v])
    def embed(v):
        if not v[0]['embed']: return '–'
        return f"{median([r['embed'][0] for r in v]):.0f} → {median([r['embed'][1] for r in v]):.0f} ms"
    table(['Sphinx page, fresh profile', 'DOMContentLoaded', 'load end', 'CLS', 'main thread busy', 'script', 'requests',
           'on the wire', 'widget adds', '/embed fetched'],
          [(k, f"{med(v, 'dcl'):.0f} ms", f"{med(v, 'load'):.0f} ms", f"{med(v, 'cls'):.4f}", f"{med(v, 'task'):.0f} ms",
            f"{med(v, 'script'):.0f} ms", f"{med(v, 'requests'):.0f}", kb(med(v, 'bytes')),
            f"{med(v, 'widget_requests'):.0f} req, {kb(med(v, 'widget_bytes'))}", embed(v)) for k, v in runs.items()])

# ---- Main ----

def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--tokens', type=int, default=2000, help='tokens in the streamed answer')
    ap.add_argument('--tps', type=float, default=100, help='tokens a second the fake model streams')
    ap.add_argument('--reps', type=int, default=5, help='repetitions for the open and host-page timings')
    ap.add_argument('--page', default='tutorial/controlflow.html', help='the host page, in the Python docs')
    args = ap.parse_args()
    if not Path(CHROMIUM).exists(): sys.exit(f'No {CHROMIUM}: apt-get install chromium')
    if not (SPHINX / args.page).exists(): sys.exit(f'No {SPHINX / args.page}: apt-get install python3.11-doc')
    print(machine())
    print(f'Chromium headless ({CHROMIUM}); answer: {args.tokens} Markdown tokens at {args.tps:g} tokens/s\n')
    with ExitStack() as stack:
        provider = stack.enter_context(fake_provider())
        server = stack.enter_context(askdocs(askdocs_env(provider)))
        widget = f'http://widget.test:{server.port}'
        docs = docs_site(stack, widget)
        plain_url, host_url = f'{docs}/{args.page}?plain', f'{docs}/{args.page}'
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        stack.callback(browser.close)
        expect.set_options(timeout=20_000)
        warm_up(server.url)
        question = f'How do I change the model? [[md:{args.tokens}]] [[pace:{1 / args.tps:g}]]'
        timeout = (args.tokens / args.tps * 3 + 30) * 1000
        print('## 1. Streaming a long answer\n')
        bench_stream(browser, widget, host_url, question, timeout)
        print('\n## 2. Bytes on the wire\n')
        bench_transfer(browser, widget, host_url)
        print(f'\n## 3. Click to a chat ready for typing (median of {args.reps})\n')
        bench_open(browser, host_url, args.reps)
        print(f'\n## 4. Host page with and without the script tag (median of {args.reps}, before any interaction)\n')
        bench_host(browser, plain_url, host_url, widget, args.reps)


if __name__ == '__main__':
    main()
