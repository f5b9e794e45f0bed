"""askdocs: an "Ask AI" chat widget for documentation sites, in one FastHTML app."""
import asyncio, hashlib, json, logging, os, sys, threading, time
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from fasthtml.common import *
from fhdaisy import Alert, Badge, Btn, Chat, ChatBubble, ChatFooter, Loading, Navbar
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response

from answers import AnswerError, Event, answer, warm_up
from docsindex import LOCAL, DocsIndex, base_hosts, notebook_markdown
from render import Renderer
from store import Store, Turn

ROOT = Path(__file__).parent
MAX_QUESTION = 2000
MAX_BODY = 64 * 1024
FRAME = 0.1  # seconds: answer text goes out at most ~10 times a second, however finely the provider chunks it
SHUTDOWN_GRACE = 2.0  # seconds streams get to send their last event on SIGTERM; below uvicorn's graceful timeout
log = logging.getLogger('askdocs')

# ---- Configuration: read once from the environment, validated at start-up ----

class ConfigError(Exception): pass

@dataclass(frozen=True)
class Config:
    model: str = ''
    api_base: str = ''
    api_key: str = ''
    docs: tuple = ()
    data: Path = Path('data')
    site_name: str = 'these docs'
    allowed_origins: tuple = ()
    host: str = '127.0.0.1'
    port: int = 5001
    starters: tuple = ()
    max_tokens: int = 1024
    timeout: float = 60.0
    history_tokens: int = 3000
    daily_budget: float = 5.0
    rate_ip: int = 20
    rate_conversation: int = 10
    rate_global: int = 300

    @property
    def docs_hosts(self): return base_hosts(self.docs)

def _num(env, name, default, cast, lo, hi):
    raw = env.get(name, '').strip()
    if not raw: return default
    try: v = cast(raw)
    except ValueError: raise ConfigError(f'{name} must be a number, got {raw!r}')
    if not lo <= v <= hi: raise ConfigError(f'{name} must be between {lo} and {hi}, got {raw}')
    return v

def _url(env, name):
    v = env.get(name, '').strip()
    if v and urlsplit(v).scheme not in ('http', 'https'): raise ConfigError(f'{name} must be an http(s) URL, got {v!r}')
    return v

def _origins(env):
    vals = tuple(o.strip().rstrip('/') for o in env.get('ASKDOCS_ALLOWED_ORIGINS', '').split(',') if o.strip())
    for o in vals:
        u = urlsplit(o)
        if o != '*' and (u.scheme not in ('http', 'https') or not u.hostname or u.path):
            raise ConfigError(f'ASKDOCS_ALLOWED_ORIGINS entries must look like https://docs.example.com, got {o!r}')
    return () if '*' in vals else vals

def _writable(path):
    try:
        path.mkdir(parents=True, exist_ok=True)
        (probe := path / '.write-test').write_text('ok')
        probe.unlink()
    except OSError as e: raise ConfigError(f'ASKDOCS_DATA folder {str(path)!r} is not writable: {e.strerror}')
    return path

def load_config(env=os.environ) -> Config:
    split = lambda name, sep=',': tuple(s.strip() for s in env.get(name, '').split(sep) if s.strip())
    in_container = Path('/.dockerenv').exists() or env.get('FLY_APP_NAME')
    return Config(
        model=env.get('ASKDOCS_MODEL', '').strip(), api_base=_url(env, 'ASKDOCS_API_BASE'),
        api_key=env.get('ASKDOCS_API_KEY', '').strip(), docs=split('ASKDOCS_DOCS') or (str(ROOT / 'README.md'), str(ROOT / 'docs')),
        data=_writable(Path(env.get('ASKDOCS_DATA') or 'data').expanduser().resolve()),
        site_name=env.get('ASKDOCS_SITE_NAME', '').strip() or 'these docs', allowed_origins=_origins(env),
        host=env.get('HOST') or ('0.0.0.0' if in_container else '127.0.0.1'), port=_num(env, 'PORT', 5001, int, 1, 65535),
        starters=split('ASKDOCS_STARTERS', '|') or ('What is this project?', 'How do I get started?'),
        max_tokens=_num(env, 'ASKDOCS_MAX_TOKENS', 1024, int, 16, 200_000),
        timeout=_num(env, 'ASKDOCS_TIMEOUT', 60.0, float, 1, 3600),
        history_tokens=_num(env, 'ASKDOCS_HISTORY_TOKENS', 3000, int, 0, 1_000_000),
        daily_budget=_num(env, 'ASKDOCS_DAILY_BUDGET_USD', 5.0, float, 0, 1_000_000),
        rate_ip=_num(env, 'ASKDOCS_RATE_PER_IP', 20, int, 1, 1_000_000),
        rate_conversation=_num(env, 'ASKDOCS_RATE_PER_CONVERSATION', 10, int, 1, 1_000_000),
        rate_global=_num(env, 'ASKDOCS_RATE_GLOBAL', 300, int, 1, 10_000_000))

try: cfg = load_config()
except ConfigError as e: sys.exit(f'askdocs: configuration error: {e}')
store = Store(cfg.data / 'askdocs.db')
index = DocsIndex(cfg.data / 'index.db')  # a file of its own: a long index build never blocks a chat write
render_md = Renderer(cfg.docs_hosts)
render_page = Renderer(cfg.docs_hosts, anchors=True)

# ---- The app ----

class BodyLimit:
    "ASGI middleware: refuse a request body over `limit` bytes with 413 before anything parses it."
    def __init__(self, app, limit=MAX_BODY): self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http': return await self.app(scope, receive, send)
        length = dict(scope['headers']).get(b'content-length')
        if length is not None:
            if not length.isdigit() or int(length) > self.limit: return await too_large(scope, receive, send)
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read the body here, up to the limit, and hand the app what was read.
        body, more = b'', True
        while more:
            msg = await receive()
            if msg['type'] != 'http.request': break
            body, more = body + msg.get('body', b''), msg.get('more_body', False)
            if len(body) > self.limit: return await too_large(scope, receive, send)
        sent = False
        async def replay():
            nonlocal sent
            if sent: return await receive()
            sent = True
            return {'type': 'http.request', 'body': body, 'more_body': False}
        await self.app(scope, replay, send)

async def too_large(scope, receive, send):
    await reader_error('That message is too large to send.', 413)(scope, receive, send)

def built_assets():
    "URLs of the assets `npm run build` made, versioned by content so browsers may keep them for a year; {} if not built."
    files = dict(css='app.css', htmx='vendor/htmx.min.js', sse='vendor/sse.min.js', chat='chat.js')
    if not all((ROOT / 'static' / f).exists() for f in files.values()): return {}
    return {k: f'/{f}?v={hashlib.blake2b((ROOT / "static" / f).read_bytes(), digest_size=6).hexdigest()}' for k, f in files.items()}
ASSETS = built_assets()

class CacheVersioned:
    """ASGI middleware: a built asset asked for by its current versioned URL (?v=hash) never changes, so it is cached for a
    year. Any other ?v= (an old page during a deploy, a rebuild after start) gets the plain, revalidated response."""
    def __init__(self, app): self.app, self.urls = app, {url.encode() for url in ASSETS.values()}

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http' or scope['path'].encode() + b'?' + scope.get('query_string', b'') not in self.urls:
            return await self.app(scope, receive, send)
        async def send_cached(msg):
            if msg['type'] == 'http.response.start' and msg['status'] == 200:
                msg['headers'] = [*msg['headers'], (b'cache-control', b'public, max-age=31536000, immutable')]
            await send(msg)
        await self.app(scope, receive, send_cached)

# Pinned CDN copies of the same versions frontend/package.json installs, for a checkout whose assets are not built.
CDN = dict(htmx='https://cdn.jsdelivr.net/npm/htmx.org@2.0.11/dist/htmx.min.js',
           sse='https://cdn.jsdelivr.net/npm/htmx-ext-sse@2.2.4/dist/sse.min.js',
           css='https://cdn.jsdelivr.net/npm/daisyui@5.8.1/daisyui.css',
           tw='https://cdn.jsdelivr.net/npm/@tailwindcss/browser@4.3.5/dist/index.global.js')

def asset_headers():
    htmx_config = Meta(name='htmx-config', content=json.dumps(dict(
        # Show the friendly messages that come with 4xx answers (htmx drops error responses by default).
        responseHandling=[dict(code='204', swap=False), dict(code='[234]..', swap=True), dict(code='...', swap=False, error=True)],
        selfRequestsOnly=True, allowScriptTags=False, allowEval=False, includeIndicatorStyles=False,
        defaultSettleDelay=0)))  # no CSS transitions to wait for: an answer's stream opens as soon as its bubble is in
    if ASSETS:
        return (htmx_config, Link(rel='stylesheet', href=ASSETS['css']), Script(src=ASSETS['htmx'], defer=True),
                Script(src=ASSETS['sse'], defer=True), Script(src=ASSETS['chat'], defer=True))
    return (htmx_config, Link(rel='stylesheet', href=CDN['css']), Script(src=CDN['tw']), Script(src=CDN['htmx'], defer=True),
            Script(src=CDN['sse'], defer=True), Script(src='/chat.js', defer=True))

def chat_csp(allowed_origins, docs_hosts, self_hosted):
    "The chat page runs only our own scripts, talks only to us, and may be framed only by the sites the author lists."
    cdn = '' if self_hosted else ' https://cdn.jsdelivr.net'
    images = ''.join(f' https://{h}' for h in docs_hosts)
    return '; '.join([
        "default-src 'self'", f"script-src 'self'{cdn}", f"style-src 'self' 'unsafe-inline'{cdn}",  # markdown table alignment
        f"img-src 'self' data:{images}", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
        f"frame-ancestors {' '.join(allowed_origins) or '*'}"])  # instead of X-Frame-Options, which cannot allow a list

def start_warm_up():
    if cfg.model: threading.Thread(target=warm_up, daemon=True, name='askdocs-warm-up').start()

def build_index_if_missing():
    "Index ASKDOCS_DOCS in the background on a first start, so the first page is not delayed; the chat says it is indexing."
    def build():
        if summary := index.update(cfg.docs, wait=False): log.warning('askdocs: %s', summary)  # None: another worker builds
    if not len(index): threading.Thread(target=build, daemon=True, name='askdocs-index').start()

app, rt = fast_app(default_hdrs=False, on_startup=[start_warm_up, build_index_if_missing], pico=False, surreal=False, secret_key=os.urandom(16).hex(), static_path=str(ROOT / 'static'),
                   hdrs=(Meta(charset='utf-8'), Meta(name='viewport', content='width=device-width, initial-scale=1'),
                         Link(rel='icon', href='data:,')),  # no favicon request
                   # Starlette's gzip leaves text/event-stream alone: compressing a stream would buffer it.
                   middleware=[Middleware(BodyLimit), Middleware(CacheVersioned), Middleware(GZipMiddleware, minimum_size=512)],
                   title='Ask AI', canonical=False)
# No sessions: askdocs sets no cookie, so FastHTML's session middleware would only wrap every response (and SSE frame).
app.user_middleware = [m for m in app.user_middleware if m.cls.__name__ != 'SessionMiddleware']

# ---- Components ----

def Icon(name, cls='size-4'):
    "A Lucide icon (fastlucide's data), inline so the page needs no sprite request."
    return Svg(*[ft_hx(t, **a) for t, a in ICONS[name]], viewBox='0 0 24 24', fill='none', stroke='currentColor',
               stroke_width=2, stroke_linecap='round', stroke_linejoin='round', cls=cls, aria_hidden='true')

def _icons(*names):
    from fastlucide.core import read_icons
    every = read_icons()
    return {n: every[n] for n in names}
ICONS = _icons('send-horizontal', 'square', 'rotate-ccw', 'copy', 'square-pen', 'sparkles', 'x')

def UserBubble(text):
    return Chat(cls='chat-end')(ChatBubble(text, cls='chat-bubble-primary whitespace-pre-wrap break-words'))

def Sources(sources):
    if not sources: return Div()
    return Div(cls='sources mt-3 border-t border-base-300 pt-2 text-sm')(
        Div('Sources', cls='font-semibold opacity-70'),
        Ul(*[Li(A(s['title'], href=s['url'], target='_top', cls='link link-primary')) for s in sources], cls='list-disc ms-5'))

def bubble_id(t: Turn): return f'turn-{t.token}'

def StreamingBubble(t: Turn):
    "An answer on its way: `message` events append text, `status` shows tool progress, `done`/`error` replace the bubble."
    tid = bubble_id(t)
    return Chat(id=tid, cls='chat-start', hx_ext='sse', sse_connect=stream.to(conv=t.conv, token=t.token), sse_close='done')(
        ChatBubble(cls='ai-bubble', aria_busy='true')(
            Div(sse_swap='status', cls='tool-status text-sm opacity-70'),
            Span(sse_swap='message', hx_swap='beforeend', cls='answer whitespace-pre-wrap break-words'),
            Loading(cls='loading-dots loading-sm typing', aria_label='Answering')),
        ChatFooter(cls='mt-1')(
            Btn(Icon('square', 'size-3'), 'Stop', cls='btn-xs btn-ghost', hx_post=stop.to(conv=t.conv, token=t.token),
                hx_target=f'#{tid}', hx_swap='outerHTML')),
        Div(sse_swap='done,error', hx_target=f'#{tid}', hx_swap='outerHTML', hidden=True))

def AnswerBubble(t: Turn):
    notice = {'stopped': 'Stopped', 'docs': 'Search results from the docs (no AI)'}.get(t.status if t.status == 'stopped' else t.mode)
    return Chat(id=bubble_id(t), cls='chat-start')(
        ChatBubble(cls='ai-bubble')(Div(NotStr(render_md(t.answer)), cls='prose answer-final'), Sources(t.sources)),
        ChatFooter(cls='mt-1 flex gap-2 items-center')(
            Btn(Icon('copy', 'size-3'), 'Copy', cls='btn-xs btn-ghost copy-answer', type='button'),
            Badge(notice, cls='badge-ghost badge-sm') if notice else None))

def ErrorBubble(t: Turn):
    return Chat(id=bubble_id(t), cls='chat-start', role='alert')(
        ChatBubble(cls='chat-bubble-error')(Div(NotStr(render_md(t.answer)), cls='prose') if t.answer else None, P(t.error)),
        ChatFooter(cls='mt-1')(
            Btn(Icon('rotate-ccw', 'size-3'), 'Retry', cls='btn-xs', hx_post=retry.to(conv=t.conv, token=t.token),
                hx_target=f'#{bubble_id(t)}', hx_swap='outerHTML')))

def AiBubble(t: Turn):
    if t.status == 'error': return ErrorBubble(t)
    return AnswerBubble(t) if t.final else StreamingBubble(t)

def Turns(turns): return [c for t in turns for c in (UserBubble(t.question), AiBubble(t))]

def Starters(questions, oob=False):
    return Div(id='starters', hx_swap_oob='true' if oob else None, cls='flex flex-wrap gap-2 justify-center p-4')(
        *[Btn(q, cls='btn-sm btn-outline starter', hx_post=ask.to(), hx_vals=json.dumps(dict(q=q)), hx_include='#conv',
                 hx_target='#messages', hx_swap='beforeend') for q in questions])

def ChatFields(conv='', text='', oob=False):
    "The part of the input form that a send replaces: a fresh, focused textarea and the conversation id."
    return Div(id='chat-fields', hx_swap_oob='true' if oob else None, cls='flex-1 flex')(
        Hidden(conv, id='conv', name='conv'),
        # No autofocus attribute: Chromium refuses it in a cross-site iframe (with a console error); chat.js focuses instead.
        Textarea(text, id='q', name='q', rows=1, placeholder='Ask a question…', aria_label='Your question',
                 cls='textarea textarea-bordered w-full resize-none field-sizing-content max-h-40 min-h-10'))

def ChatError(msg='', oob=False):
    return Div(id='chat-error', hx_swap_oob='true' if oob else None, role='status')(
        Alert(msg, cls='alert-warning alert-soft text-sm py-2') if msg else None)

def ChatInput(conv):
    return Form(id='ask-form', hx_post=ask.to(), hx_target='#messages', hx_swap='beforeend', hx_disabled_elt='#send',
                cls='p-3 border-t border-base-300 bg-base-100')(
        ChatError(),
        Div(cls='flex gap-2 items-end')(
            ChatFields(conv),
            Btn(Icon('send-horizontal'), id='send', cls='btn-primary btn-square', aria_label='Send')),
        P('Answers are generated from the docs and may be wrong.', cls='text-xs opacity-50 mt-1 text-center'))

def ChatHeader(site_name, theme):
    return Navbar(cls='min-h-12 bg-base-200 border-b border-base-300 px-3 gap-2')(
        Icon('sparkles', 'size-5 text-primary'), H1(f'Ask {site_name}', cls='font-semibold flex-1 truncate'),
        A(Icon('square-pen'), href=chat_standalone.to(**({'theme': theme} if theme else {})), cls='btn btn-ghost btn-sm btn-square new-chat',
          title='New conversation', aria_label='New conversation'),
        # Shown by chat.js only inside the widget's iframe: on a phone the panel covers the page's own button.
        Btn(Icon('x'), cls='btn-ghost btn-sm btn-square close-chat hidden', type='button', title='Close', aria_label='Close chat'))

def ChatPage(site_name, conv, turns, starters, theme):
    return Div(cls='flex flex-col h-dvh')(
        ChatHeader(site_name, theme),
        Main(id='messages', role='log', aria_live='polite', aria_label='Conversation', cls='flex-1 overflow-y-auto p-3')(
            *Turns(turns)),
        Starters(() if turns else starters),
        ChatInput(conv))

def reader_error(msg, status, retry_after=None):
    "A 4xx that htmx shows in the error slot above the input, leaving the typed question where it is."
    headers = {'HX-Reswap': 'none'} | ({'Retry-After': str(retry_after)} if retry_after else {})
    return HTMLResponse(to_xml(ChatError(msg, oob=True)), status_code=status, headers=headers)

def too_fast(req, conv):
    """A 429 if this question goes over a rate limit. The client address is the proxy's X-Forwarded-For only when uvicorn
    trusts that proxy (FORWARDED_ALLOW_IPS), so a reader cannot reset the limit by sending the header or dropping cookies."""
    limits = [(f'ip:{req.client.host if req.client else "?"}', cfg.rate_ip), ('global', cfg.rate_global)]
    if wait := store.hit(limits + ([(f'conv:{conv}', cfg.rate_conversation)] if conv else [])):
        return reader_error(f'Too many questions at once. Please try again in {wait} seconds.', 429, wait)
    if conv and store.answering(conv):
        return reader_error('Please wait for the current answer to finish, or stop it.', 429, 5)

# ---- Routes ----

@rt('/chat-standalone')
async def chat_standalone(conv: str = '', theme: str = ''):
    theme = theme if theme in ('light', 'dark') else ''
    if not store.has_conversation(conv): conv = ''
    page = ChatPage(cfg.site_name, conv, store.turns(conv) if conv else [], cfg.starters, theme)
    return (Html(Head(*app.hdrs, Title(f'Ask {cfg.site_name}'), *asset_headers()), Body(page), data_theme=theme or None, lang='en'),
            HttpHeader('Content-Security-Policy', chat_csp(cfg.allowed_origins, cfg.docs_hosts, bool(ASSETS))))

@rt('/ask', methods=['post'])
async def ask(req, q: str = '', conv: str = ''):
    q = q.strip()
    if not q: return Response(status_code=204)
    if len(q) > MAX_QUESTION: return reader_error(f'Please keep questions under {MAX_QUESTION:,} characters (this one has {len(q):,}).', 422)
    if conv and not store.has_conversation(conv): return reader_error('This conversation no longer exists. Start a new one.', 404)
    if refused := too_fast(req, conv): return refused
    if not conv: store.hit([(f'conv:{(conv := store.new_conversation())}', cfg.rate_conversation)])  # its first question counts
    t = store.add_turn(conv, q)
    return UserBubble(q), AiBubble(t), ChatFields(conv, oob=True), ChatError(oob=True), Starters((), oob=True)

@rt('/stream/{conv}/{token}')
async def stream(conv: str, token: str):
    t, shutdown = store.turn(conv, token), anyio.Event()  # set by sse-starlette when uvicorn is asked to exit
    events = turn_events(t, shutdown) if t else final_events(None)
    return EventSourceResponse(events, ping=15, sep='\n', headers={'Cache-Control': 'no-cache'},
                               shutdown_event=shutdown, shutdown_grace_period=SHUTDOWN_GRACE)

@rt('/stop/{conv}/{token}', methods=['post'])
async def stop(conv: str, token: str):
    if not (t := store.turn(conv, token)): return reader_error('That answer does not exist.', 404)
    if not t.final:
        store.request_stop(t)
        t = await wait_final(t, limit=5)
    return AiBubble(t)

@rt('/retry/{conv}/{token}', methods=['post'])
async def retry(req, conv: str, token: str):
    if not (t := store.turn(conv, token)): return reader_error('That answer does not exist.', 404)
    if refused := too_fast(req, conv): return refused
    return AiBubble(store.retry(t) or t)

@rt
async def embed(req):
    js = (ROOT / 'embed' / 'loader.js').read_text().replace('__ASKDOCS_CONFIG__', json.dumps(dict(
        origin=server_origin(req), siteName=cfg.site_name)).replace('<', '\\u003c'))
    return Response(js, media_type='application/javascript', headers={'Cache-Control': 'public, max-age=300'})

@rt
async def healthz():
    return JSONResponse(dict(ok=True, model=cfg.model or None, docs_pages=len(index), indexing=index.building, pid=os.getpid(),
                             tasks=len(asyncio.all_tasks())))  # a leak of per-answer tasks shows here

@rt(LOCAL + '{path:path}')
async def docs_page(path: str):
    "A page of local docs that have no published URL, so answers and Sources can link to it."
    if not (page := index.page(LOCAL + path)): return Response('No such page in the docs index.', status_code=404)
    raw = Path(page['source']).read_text(errors='replace')
    if page['kind'] == 'html': return HTMLResponse(raw)
    if page['kind'] == 'notebook': raw = notebook_markdown(raw)
    body = NotStr(render_page(raw)) if page['kind'] in ('markdown', 'notebook') else Pre(raw, cls='whitespace-pre-wrap')
    return Title(page['title']), *asset_headers(), Main(Article(body, cls='prose max-w-3xl mx-auto p-6'))

@rt('/')
async def demo(req):
    return Title(f'{cfg.site_name} — askdocs demo'), DemoPage(cfg.site_name, embed.to())

# ---- Streaming an answer ----

def server_origin(req):
    "The origin readers reach us at; uvicorn's --proxy-headers makes the scheme right behind a TLS proxy."
    return f'{req.url.scheme}://{req.url.netloc}'

def html_text(s):
    # Escape for the browser; a bare \r would end an SSE line (WHATWG SSE), so it travels as an entity.
    return escape(s, quote=False).replace('\r', '&#13;')

def sse(kind, data=''):
    "An SSE event: `message` events carry escaped text, the others HTML, unindented (every line costs a `data: ` prefix)."
    return ServerSentEvent(data=data if isinstance(data, str) else to_xml(data, indent=False),
                           event=None if kind == 'message' else kind, sep='\n')

async def final_events(t: Turn | None):
    if t is None:
        yield sse('error', Chat(cls='chat-start')(ChatBubble('This answer does not exist.', cls='chat-bubble-error')))
    else: yield sse('error' if t.status == 'error' else 'done', AiBubble(t))

async def turn_events(t: Turn, shutdown):
    "Answer `t` if nobody else is; a reconnect or second reader only gets what exists, never a second model call."
    if store.claim(t): events = live_events(t, shutdown)
    else: events = final_events(await wait_final(t))
    async for e in events: yield e

async def wait_final(t: Turn, limit=600.0, stale=60.0):
    "Wait for another request (maybe in another worker) to finish `t`; give up on one that stopped heartbeating."
    end = time.monotonic() + limit
    while not t.final and time.monotonic() < end:
        if t.status == 'pending' and t.stop: store.finish(t, 'stopped')
        elif t.status == 'running' and time.time() - t.alive > stale:
            store.finish(t, 'error', t.answer, 'The answer was interrupted. Please retry.')
        else: await asyncio.sleep(0.2)
        t = store.turn(t.conv, t.token)
    return t

async def _produce(events, q: asyncio.Queue):
    try:
        async for e in events: q.put_nowait(e)
        q.put_nowait(None)
    except Exception as e: q.put_nowait(e)

async def live_events(t: Turn, shutdown, check_every=0.5, beat_every=10.0):
    """Run the model for `t`, relaying its text as escaped fragments; whatever happens, store what was said.
    The first text goes out at once; after it, text that arrives within FRAME seconds of the last frame joins the next
    one, so a reader gets at most ~1/FRAME frames a second however finely the provider chunks its tokens."""
    q, parts, sources, status, error, mode = asyncio.Queue(), [], [], 'done', '', ''
    over_budget = bool(cfg.model) and store.spent_today() >= cfg.daily_budget
    producer = asyncio.create_task(_produce(answer(cfg, index, t.question, store.history(t.conv, t.id), over_budget), q))
    checked = beat = time.monotonic()
    sent = 0.0  # when the last frame went out
    try:
        while True:
            try: item = await asyncio.wait_for(q.get(), check_every)
            except TimeoutError: item = Event('tick', None)
            if isinstance(item, Event) and (wait := sent + FRAME - time.monotonic()) > 0:
                await asyncio.sleep(wait)  # hold the frame open: what arrives meanwhile goes out with it
            batch = [item]
            while not q.empty() and isinstance(batch[-1], Event): batch.append(q.get_nowait())
            got = [e for e in batch if isinstance(e, Event)]
            if text := ''.join(e.data for e in got if e.kind == 'text'):
                parts.append(text)
                yield sse('message', html_text(text))
                sent = time.monotonic()
            for e in got:
                match e.kind:
                    case 'status': yield sse('status', Span(e.data))
                    case 'sources': sources = e.data
                    case 'mode': mode = e.data
                    case 'cost': store.spend(e.data)
            last = batch[-1]
            if last is None: break
            if isinstance(last, Exception):
                status, error = 'error', str(last) if isinstance(last, AnswerError) else 'Something went wrong. Please retry.'
                if not isinstance(last, AnswerError): log.exception('answer failed', exc_info=last)
                break
            if shutdown.is_set():
                status, error = 'error', 'The server restarted while answering. Please retry.'
                break
            now = time.monotonic()
            if now - checked > check_every:
                checked = now
                if store.stop_requested(t): status = 'stopped'; break
            if now - beat > beat_every: beat = now; store.heartbeat(t)
    except BaseException:
        status = 'stopped'  # the reader went away (tab closed, Stop swapped the bubble) or the server is shutting down
        raise
    finally:
        producer.cancel()
        store.finish(t, status, ''.join(parts), error, sources, mode)
    t = store.turn(t.conv, t.token)
    yield sse('error' if status == 'error' else 'done', AiBubble(t))

# ---- The demo page ----

def DemoPage(site_name, loader_src):
    return Main(style='max-width:46rem;margin:3rem auto;padding:0 1rem;font:16px/1.6 system-ui,sans-serif')(
        H1(f'{site_name}: askdocs demo'),
        P('This page stands in for your documentation site. The button in the corner comes from the one script tag below, '
          'exactly as you would add it to your own docs:'),
        Pre(Code(f'<script src="{loader_src}" defer></script>'), style='background:#f3f3f3;padding:1rem;overflow:auto'),
        P('Click it (or press Ctrl/⌘+I) and ask a question.'),
        Script(src=loader_src, defer=True))

# ---- Start-up and command line ----

def serve_app():
    import uvicorn
    # Forwarded headers are trusted from FORWARDED_ALLOW_IPS (uvicorn's own variable; the container sets it to *).
    uvicorn.run('main:app', host=cfg.host, port=cfg.port, proxy_headers=True, timeout_graceful_shutdown=10)

async def ask_cli(question):
    if not len(index): index_cli(cfg.docs)
    try:
        async for e in answer(cfg, index, question, []):
            if e.kind == 'text': print(e.data, end='', flush=True)
            elif e.kind == 'status': print(f'\n[{e.data}]', file=sys.stderr)
            elif e.kind == 'sources' and e.data: print('\n\nSources:\n' + '\n'.join(f"- {s['title']}: {s['url']}" for s in e.data))
    except AnswerError as e: sys.exit(f'\naskdocs: {e}')
    print()

def index_cli(sources):
    def progress(stage, n, total):
        print(f'\r{stage} {n}' + (f'/{total}' if total else '') + ' pages', end='', file=sys.stderr, flush=True)
    summary = index.update(sources, progress)
    print(file=sys.stderr)
    for src, why in summary.failed: print(f'failed: {src}: {why}', file=sys.stderr)
    print(f'askdocs: {summary}')

def main(argv=sys.argv[1:]):
    match argv:
        case []: serve_app()
        case ['ask', *words] if words: asyncio.run(ask_cli(' '.join(words)))
        case ['index', *sources]: index_cli(sources or cfg.docs)
        case _: sys.exit('usage: python main.py                     serve the widget\n'
                         '       python main.py index [SOURCE ...]  index the docs (default: ASKDOCS_DOCS)\n'
                         '       python main.py ask "..."           answer a question in the terminal')

if __name__ == '__main__': main()
