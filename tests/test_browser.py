"""The widget in a real browser: a docs site on one host embeds askdocs from another with its one script tag.

Chromium maps docs.test and widget.test to loopback, so the host page and the chat are different sites, as on the web:
the chat runs in a cross-site iframe, the conversation id lives in the docs site's localStorage. Everything a reader
would notice is checked through the page, with Playwright's waiting assertions; nothing sleeps to synchronise.
"""
import functools, os, re, threading, time, uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx, pytest

import conftest
from conftest import FAKE_URL, Server, model_requests
import sphinxsite
from sphinxsite import SPHINX

CHROMIUM = '/usr/bin/chromium'
if not Path(CHROMIUM).exists():
    if os.environ.get('CI'): raise RuntimeError(f'no {CHROMIUM}: CI must run the browser tests (scripts/setup.sh --test installs it)')
    pytest.skip(f'no {CHROMIUM} (apt-get install chromium)', allow_module_level=True)
sync_api = pytest.importorskip('playwright.sync_api')
expect = sync_api.expect

WAIT = 20_000  # ms: the first answer of a fresh server waits for lisette's import
expect.set_options(timeout=WAIT)
FAKE = FAKE_URL.removesuffix('/v1')
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--no-first-run', '--host-resolver-rules=MAP docs.test 127.0.0.1, MAP widget.test 127.0.0.1, MAP other.test 127.0.0.1']
FOCUSED_Q = "document.hasFocus() && document.activeElement && document.activeElement.id === 'q'"

def mark(): return uuid.uuid4().hex[:10]

# ---- Fixtures: one browser, a docs site on docs.test, the widget on widget.test ----

@pytest.fixture(scope='module')
def browser():
    # Module, not session, scope: while Playwright's sync API is started, its event loop counts as running in this
    # thread, so any later test calling asyncio.run() (test_docs.py does, through docsindex) would fail.
    pw = sync_api.sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield b
    b.close()
    pw.stop()

class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

@pytest.fixture(scope='module')
def docs_site(tmp_path_factory):
    "A static docs site at http://docs.test:PORT/; `docs_site(tags)` writes two linked pages carrying `tags`."
    root = tmp_path_factory.mktemp('docs-site')
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f'http://docs.test:{httpd.server_address[1]}'
    def make(tags):
        site = root / mark()
        site.mkdir()
        for n, other in ((1, 2), (2, 1)):
            (site / f'page{n}.html').write_text(
                '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
                f'<title>Docs page {n}</title></head><body><h1>Docs page {n}</h1><p>Some documentation.</p>'
                f'<input id="search" aria-label="Search the docs"><p><a href="page{other}.html">Go to page {other}</a></p>'
                f'{tags}</body></html>')
        return f'{base}/{site.name}/page1.html'
    make.root, make.base = root, base
    yield make
    httpd.shutdown()
    httpd.server_close()

def widget_origin(server): return f'http://widget.test:{server.port}'

def tag_src(origin, **data):
    "The one line a docs site adds, with optional data-* attributes."
    attrs = ''.join(f' data-{k}="{v}"' for k, v in data.items())
    return f'<script src="{origin}/embed"{attrs} defer></script>'

@pytest.fixture(scope='module')
def widget(shared_server):
    "The widget origin on the shared askdocs server."
    return widget_origin(shared_server)

@pytest.fixture(scope='module', autouse=True)
def other_server(tmp_path_factory):
    "A second askdocs ('Otherdocs') with its own data, started and warmed up in the background while other tests run."
    s = Server(data=tmp_path_factory.mktemp('other-data'), ASKDOCS_SITE_NAME='Otherdocs')
    def start_and_warm_up():  # the first answer of a fresh server waits for lisette's import
        s.start()
        with httpx.Client(base_url=s.url, timeout=60) as c: conftest.events(c, conftest.ask(c, 'warm up [[tokens:1]]')[1])
    ready = threading.Thread(target=start_and_warm_up, daemon=True)
    ready.start()
    def get():
        ready.join(timeout=60)
        assert s.proc and s.proc.poll() is None, 'the second askdocs server did not start'
        return s
    yield get
    ready.join(timeout=60)
    s.stop()

@pytest.fixture
def browse(browser):
    "`browse(url, **context_options)` opens `url` in a fresh context; returns (page, log of what the page did)."
    contexts = []
    def open_page(url, **opts):
        ctx = browser.new_context(**opts)
        contexts.append(ctx)
        log = SimpleNamespace(console=[], errors=[], requests=[], dialogs=[])
        def console(m):
            if m.type == 'error': log.console.append(f'{m.location.get("url")}: {m.text}')
        def dialog(d):
            log.dialogs.append(d.message)
            d.dismiss()
        ctx.on('request', lambda r: log.requests.append((r.method, r.url)))  # the iframe's requests too
        page = ctx.new_page()
        page.on('console', console)  # console and page errors of the iframe arrive here too
        page.on('pageerror', lambda e: log.errors.append(str(e)))
        page.on('dialog', dialog)
        page.goto(url)
        return page, log
    yield open_page
    for c in contexts: c.close()

# ---- Helpers: what a reader does ----

def panel(page, origin): return page.locator(f'[data-askdocs="{origin}"] .panel')

def open_chat(page, origin, label='Ask AI'):
    "Click the button; returns the chat (a FrameLocator) and its Frame, once the input is there."
    page.get_by_role('button', name=label, exact=True).click()
    expect(panel(page, origin)).to_be_visible()
    chat = page.frame_locator(f'iframe[src^="{origin}/"]')
    expect(chat.locator('#q')).to_be_visible()
    expect(chat.locator('html[data-ready]')).to_have_count(1)  # htmx and chat.js are wired up: Enter will send
    return chat, page.locator(f'iframe[src^="{origin}/"]').element_handle().content_frame()

def ask(chat, question):
    chat.locator('#q').fill(question)
    chat.locator('#q').press('Enter')

def user_bubbles(chat): return chat.locator('.chat-end .chat-bubble')

def answers(chat): return chat.locator('.answer-final')

def expect_answered(chat, n=1):
    "Wait until `n` answers are finished; an error bubble in their place fails with its text, not a timeout."
    expect(chat.locator('.answer-final, .chat-bubble-error')).to_have_count(n)
    assert chat.locator('.chat-bubble-error').count() == 0, chat.locator('.chat-bubble-error').all_text_contents()

def hosts(log): return {urlsplit(u).hostname for _, u in log.requests if not u.startswith('data:')}

def button_has_focus(page, origin):
    return page.evaluate("o => { const h = document.activeElement; return !!h && h.getAttribute('data-askdocs') === o"
                         " && h.shadowRoot.activeElement && h.shadowRoot.activeElement.tagName === 'BUTTON'; }", origin)

# ---- Tests ----

def test_answer_grows_in_steps_then_shows_formatted_with_focus_back_in_the_box(browse, docs_site, widget):
    page, log = browse(docs_site(tag_src(widget)))
    chat, frame = open_chat(page, widget)
    expect(chat.locator('#messages')).to_have_attribute('aria-live', 'polite')
    # Every distinct length the streaming answer had while it was on screen.
    frame.evaluate("""() => { window.__lengths = [];
        new MutationObserver(() => { const a = document.querySelector('#messages .answer');
            const n = a && a.checkVisibility() ? a.textContent.length : 0;
            if (n && window.__lengths.at(-1) !== n) window.__lengths.push(n); })
          .observe(document.getElementById('messages'), {childList: true, subtree: true, characterData: true}); }""")
    m = mark()
    question = f'what is {m}? [[tokens:40]] [[pace:0.05]]'
    ask(chat, question)
    expect(user_bubbles(chat)).to_have_text(question)
    expect_answered(chat)
    expect(answers(chat).locator('strong')).to_have_text(f'what is {m}?')
    expect(answers(chat)).to_contain_text('word39')
    lengths = frame.evaluate('window.__lengths')
    assert len(lengths) >= 3 and lengths == sorted(lengths), lengths  # grew in visible steps, never shrank
    expect(chat.locator('.typing')).to_have_count(0)
    expect(chat.locator('#q')).to_have_value('')
    frame.wait_for_function(FOCUSED_Q, timeout=5000)
    assert log.errors == []
    assert log.console == []  # e.g. Chromium refusing <textarea autofocus> in a cross-site iframe
    assert hosts(log) == {'docs.test', 'widget.test'}, log.requests

def test_conversation_follows_the_reader_to_another_page(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget)))
    chat, _ = open_chat(page, widget)
    first, second = f'first {mark()}', f'second {mark()}'
    ask(chat, f'{first} [[tokens:3]]')
    expect_answered(chat)
    expect(answers(chat)).to_contain_text('word2')
    conv = chat.locator('#conv').input_value()
    assert page.evaluate('k => localStorage.getItem(k)', f'askdocs:conv:{widget}') == conv

    page.get_by_role('link', name='Go to page 2').click()
    expect(page).to_have_title('Docs page 2')
    chat, _ = open_chat(page, widget)
    expect(user_bubbles(chat)).to_have_text([f'{first} [[tokens:3]]'])
    expect(answers(chat)).to_contain_text('word2')
    ask(chat, f'{second} [[tokens:3]]')
    expect_answered(chat, 2)
    assert chat.locator('#conv').input_value() == conv
    [req] = model_requests(second)
    assert any(first in str(msg['content']) for msg in req['messages'] if msg['role'] == 'user')

def test_new_conversation_stays_new_on_the_next_page(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget)))
    chat, _ = open_chat(page, widget)
    old = f'old topic {mark()} [[tokens:2]]'
    ask(chat, old)
    expect_answered(chat)
    key = f'askdocs:conv:{widget}'
    assert page.evaluate('k => localStorage.getItem(k)', key)
    chat.get_by_role('link', name='New conversation').click()
    expect(chat.locator('.starter').first).to_be_visible()
    expect(user_bubbles(chat)).to_have_count(0)
    page.wait_for_function('k => localStorage.getItem(k) === null', arg=key, timeout=5000)  # the host page forgot the old id
    page.get_by_role('link', name='Go to page 2').click()
    expect(page).to_have_title('Docs page 2')
    chat, _ = open_chat(page, widget)  # the chat page is rendered whole on the server: what it shows is there now
    assert user_bubbles(chat).count() == 0, user_bubbles(chat).all_text_contents()
    expect(chat.locator('.starter').first).to_be_visible()

def test_shift_enter_adds_a_line_and_enter_sends(browse, docs_site, widget):
    page, log = browse(docs_site(tag_src(widget)))
    chat, frame = open_chat(page, widget)
    frame.wait_for_function(FOCUSED_Q, timeout=5000)
    m = mark()
    page.keyboard.type(f'line one {m}')
    page.keyboard.press('Shift+Enter')
    page.keyboard.type('line two [[tokens:2]]')
    expect(chat.locator('#q')).to_have_value(f'line one {m}\nline two [[tokens:2]]')
    page.keyboard.press('Enter')
    expect_answered(chat)
    expect(answers(chat)).to_contain_text('word1')
    expect(user_bubbles(chat)).to_have_count(1)
    assert user_bubbles(chat).evaluate('e => e.textContent') == f'line one {m}\nline two [[tokens:2]]'
    assert [u for meth, u in log.requests if meth == 'POST' and u.endswith('/ask')] == [f'{widget}/ask']  # one send only
    expect(chat.locator('#q')).to_have_value('')

def test_shortcut_opens_and_escape_closes_from_the_page_and_from_the_chat(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget)))
    button = page.get_by_role('button', name='Ask AI', exact=True)
    expect(button).to_have_attribute('aria-expanded', 'false')
    page.keyboard.press('Control+i')
    expect(panel(page, widget)).to_be_visible()
    expect(button).to_have_attribute('aria-expanded', 'true')
    frame = page.locator(f'iframe[src^="{widget}/"]').element_handle().content_frame()
    frame.wait_for_function(FOCUSED_Q, timeout=5000)  # the reader can type at once

    page.keyboard.press('Escape')  # focus is in the chat
    expect(panel(page, widget)).to_be_hidden()
    expect(button).to_have_attribute('aria-expanded', 'false')
    assert button_has_focus(page, widget)

    page.keyboard.press('Control+i')
    expect(panel(page, widget)).to_be_visible()
    frame.wait_for_function(FOCUSED_Q, timeout=5000)
    page.get_by_role('textbox', name='Search the docs').click()  # focus back in the host page, panel still open
    expect(panel(page, widget)).to_be_visible()
    page.keyboard.press('Escape')
    expect(panel(page, widget)).to_be_hidden()
    expect(page.get_by_role('textbox', name='Search the docs')).to_have_value('')  # the shortcut typed nothing there

def test_stop_keeps_the_partial_answer_and_nothing_more_arrives(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget)))
    chat, frame = open_chat(page, widget)
    ask(chat, f'long {mark()} [[tokens:400]] [[pace:0.03]]')
    expect(chat.locator('.answer')).to_contain_text('word5')
    seen = chat.locator('.answer').text_content()
    chat.get_by_role('button', name='Stop').click()
    expect(chat.locator('.badge', has_text='Stopped')).to_be_visible()
    stopped = answers(chat).first
    last_seen = re.findall(r'word\d+', seen)[-1]
    expect(stopped).to_contain_text(last_seen)  # at least what the reader saw is kept
    expect(chat.locator('.typing')).to_have_count(0)
    kept = stopped.text_content()
    assert 'word399' not in kept
    # Any late fragment would change the stopped bubble: watch it while a second answer runs to its end.
    frame.evaluate("""() => { window.__late = 0; const b = document.querySelector('.answer-final').closest('.chat');
        new MutationObserver(() => window.__late++).observe(b, {childList: true, subtree: true, characterData: true}); }""")
    ask(chat, f'after stop {mark()} [[tokens:3]] [[pace:0.2]]')
    expect_answered(chat, 2)
    assert frame.evaluate('window.__late') == 0
    assert answers(chat).first.text_content() == kept
    expect(chat.locator('.badge', has_text='Stopped')).to_have_count(1)

def test_provider_error_shows_retry_and_retry_answers(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget)))
    chat, _ = open_chat(page, widget)
    key = mark()
    ask(chat, f'flaky {key} [[fail:{key}]] [[tokens:4]]')
    error = chat.locator('[role=alert] .chat-bubble-error')
    expect(error).to_contain_text('Please retry')
    retry = chat.get_by_role('button', name='Retry')
    expect(retry).to_be_visible()
    expect(chat.locator('.typing')).to_have_count(0)  # not a spinner that never ends
    httpx.post(f'{FAKE}/_heal/{key}').raise_for_status()
    retry.click()
    expect_answered(chat)
    expect(answers(chat)).to_contain_text('word3')
    expect(error).to_have_count(0)
    expect(user_bubbles(chat)).to_have_text([f'flaky {key} [[fail:{key}]] [[tokens:4]]'])

PHONE = dict(viewport=dict(width=375, height=667), is_mobile=True, has_touch=True)

def in_viewport(box, w=375, h=667): return box and box['x'] >= 0 and box['y'] >= 0 and box['x'] + box['width'] <= w and box['y'] + box['height'] <= h

def test_on_a_phone_the_chat_fills_the_screen_with_the_input_in_view(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget)), **PHONE)
    chat, _ = open_chat(page, widget)
    box = panel(page, widget).bounding_box()
    assert (box['x'], box['y'], box['width'], box['height']) == (0, 0, 375, 667), box
    for control in (chat.locator('#q'), chat.get_by_role('button', name='Send')):
        expect(control).to_be_visible()
        assert in_viewport(control.bounding_box()), control.bounding_box()

def test_on_a_phone_the_reader_can_close_the_chat(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget)), **PHONE)
    chat, _ = open_chat(page, widget)
    # The panel covers the page's own Ask AI button, and a phone has no Escape key: the chat itself offers a way out.
    close = chat.get_by_role('button', name=re.compile('close', re.I))
    expect(close).to_be_visible()
    assert in_viewport(close.bounding_box()), close.bounding_box()
    close.tap()
    expect(panel(page, widget)).to_be_hidden()
    expect(page.get_by_role('button', name='Ask AI', exact=True)).to_have_attribute('aria-expanded', 'false')

def test_dark_theme_on_the_script_tag_reaches_the_chat(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget, theme='dark')))
    chat, frame = open_chat(page, widget)
    expect(chat.locator('html')).to_have_attribute('data-theme', 'dark')
    assert frame.evaluate('getComputedStyle(document.documentElement).colorScheme') == 'dark'

def test_the_same_widget_included_twice_shows_one_button(browse, docs_site, widget):
    page, _ = browse(docs_site(tag_src(widget) + tag_src(widget, label='Ask again')))
    expect(page.locator('[data-askdocs]')).to_have_count(1)
    expect(page.get_by_role('button', name=re.compile('^Ask'))).to_have_count(1)
    chat, _ = open_chat(page, widget)
    ask(chat, f'once {mark()} [[tokens:2]]')
    expect_answered(chat)
    expect(page.locator('iframe')).to_have_count(1)

def test_two_different_widgets_on_one_page_both_answer(browse, docs_site, widget, other_server):
    other = widget_origin(other_server())
    page, _ = browse(docs_site(tag_src(widget) + tag_src(other, label='Ask Other')))
    a, b = page.get_by_role('button', name='Ask AI', exact=True), page.get_by_role('button', name='Ask Other', exact=True)
    expect(a).to_be_visible()
    expect(b).to_be_visible()
    ba, bb = a.bounding_box(), b.bounding_box()
    assert ba['y'] + ba['height'] <= bb['y'] or bb['y'] + bb['height'] <= ba['y']  # stacked, not on top of each other

    chat_a, _ = open_chat(page, widget)
    expect(chat_a.locator('h1')).to_have_text('Ask Testdocs')
    ask(chat_a, f'to a {mark()} [[tokens:2]]')
    expect_answered(chat_a)
    a.click()
    expect(panel(page, widget)).to_be_hidden()

    chat_b, _ = open_chat(page, other, label='Ask Other')
    expect(chat_b.locator('h1')).to_have_text('Ask Otherdocs')
    ask(chat_b, f'to b {mark()} [[tokens:2]]')
    expect_answered(chat_b)
    expect(user_bubbles(chat_b)).to_have_count(1)
    convs = page.evaluate('o => [localStorage.getItem("askdocs:conv:" + o[0]), localStorage.getItem("askdocs:conv:" + o[1])]', [widget, other])
    assert all(convs) and convs[0] != convs[1]

HOSTILE = ['Here: <script>window.__xss=1</script>', '[x](javascript:window.__xss=1)', '<img src=x onerror=window.__xss=1>',
           '<svg onload=alert(1)>', '[y](JaVaScRiPt:alert(2))', '<a href="javascript:alert(3)">z</a>']

def test_hostile_question_and_answer_are_shown_as_text_and_never_run(browse, docs_site, widget):
    page, log = browse(docs_site(tag_src(widget)))
    chat, frame = open_chat(page, widget)
    name = mark()
    text = '\n\n'.join(HOSTILE)
    httpx.post(f'{FAKE}/_scripts/{name}', json=dict(chunks=[text[i:i + 5] for i in range(0, len(text), 5)])).raise_for_status()
    question = f'<img src=x onerror="window.__xss=1"> [[script:{name}]]'
    ask(chat, question)
    expect_answered(chat)
    expect(answers(chat)).to_contain_text('alert(3)')
    expect(user_bubbles(chat)).to_have_text(question)  # shown as the reader typed it
    expect(answers(chat)).to_contain_text('<script>window.__xss=1</script>')
    expect(chat.locator('#messages img, #messages script, #messages svg:not([aria-hidden])')).to_have_count(0)
    hrefs = chat.locator('#messages a[href]').evaluate_all('as => as.map(a => a.href)')
    assert not [h for h in hrefs if not h.startswith(('http:', 'https:'))], hrefs
    assert frame.evaluate('window.__xss') is None
    assert page.evaluate('window.__xss') is None
    assert log.dialogs == [] and log.errors == []
    assert not [u for _, u in log.requests if urlsplit(u).path == '/x']  # no image was ever loaded

def batches(items, size=1800):
    "Join payloads into questions that fit the 2,000-character limit."
    out, cur = [], ''
    for p in (p for p in items if p.strip() and len(p) < size):
        if len(cur) + len(p) + 1 > size: out.append(cur); cur = ''
        cur += p + '\n'
    return out + [cur] if cur else out

def test_the_naughty_strings_corpus_never_runs_in_the_browser(browse, docs_site, widget):
    from payloads import corpus
    payloads = corpus()
    page, log = browse(docs_site(tag_src(widget)))
    chat, frame = open_chat(page, widget)
    name = mark()
    text = '\n\n'.join(payloads)
    httpx.post(f'{FAKE}/_scripts/{name}', json=dict(chunks=[text[i:i + 13] for i in range(0, len(text), 13)])).raise_for_status()
    questions = batches(payloads)
    for n, q in enumerate(questions, 1):  # the fake model echoes each question back as markdown: both sides are hostile
        ask(chat, q)
        expect_answered(chat, n)
    ask(chat, f'[[script:{name}]]')
    expect_answered(chat, len(questions) + 1)
    page.reload()  # and once more, rendered from the store
    chat, frame = open_chat(page, widget)
    expect_answered(chat, len(questions) + 1)
    assert frame.evaluate('window.__xss') is None and page.evaluate('window.__xss') is None
    assert log.dialogs == [] and log.errors == []
    assert hosts(log) == {'docs.test', 'widget.test'}, sorted({u for _, u in log.requests})
    print(f'{len(payloads)} payloads in {len(questions)} questions and one streamed answer: 0 canaries, 0 dialogs')

def test_only_the_allowed_sites_can_frame_the_chat(browse, docs_site, server, tmp_path):
    url = docs_site('')  # a page on docs.test; the same page is also served as other.test
    allowed = f'http://docs.test:{urlsplit(url).port}'
    s = server(data=tmp_path, ASKDOCS_ALLOWED_ORIGINS=allowed)
    tag = tag_src(widget_origin(s))
    page_url = docs_site(tag)
    page, _ = browse(page_url)
    chat, _ = open_chat(page, widget_origin(s))  # allowed: the chat loads
    other, _ = browse(page_url.replace('docs.test', 'other.test'))  # not allowed: Chromium refuses to frame it
    with other.expect_console_message(lambda m: 'frame-ancestors' in m.text, timeout=WAIT):
        other.get_by_role('button', name='Ask AI', exact=True).click()
    expect(other.frame_locator('iframe').locator('#q')).to_have_count(0)

def test_a_sources_link_takes_the_reader_to_the_docs_page_and_the_chat_comes_along(browse, docs_site, server, tmp_path):
    url = docs_site('')
    site = docs_site.root / url.split('/')[-2]
    s = server(data=tmp_path, ASKDOCS_DOCS=f'{site}={docs_site.base}/{site.name}/')  # the docs folder, as published
    tag = tag_src(widget_origin(s))
    for f in site.glob('*.html'): f.write_text(f.read_text().replace('</body>', f'{tag}</body>'))
    with httpx.Client(base_url=s.url) as c:
        for _ in range(200):  # the server indexes its docs in the background on first start
            if c.get('/healthz').json()['docs_pages'] == 2: break
            time.sleep(0.05)
    page, log = browse(url)
    chat, _ = open_chat(page, widget_origin(s))
    ask(chat, 'where is page 2? [[tool:Docs page 2]]')
    expect_answered(chat)
    expect(chat.get_by_text('Searching the docs for “Docs page 2”')).to_have_count(0)  # the status made way for the answer
    source = chat.locator('.sources a').first
    expect(source).to_have_text('Docs page 2')
    source.click()
    expect(page).to_have_title('Docs page 2')  # the host page navigated, not the iframe
    chat, _ = open_chat(page, widget_origin(s))
    expect(user_bubbles(chat)).to_have_text(['where is page 2? [[tool:Docs page 2]]'])
    assert log.errors == []

def test_on_a_real_sphinx_page(browse, widget):
    if not SPHINX.exists():
        if os.environ.get('CI'): raise RuntimeError(f'no {SPHINX}: scripts/setup.sh --test installs python3.11-doc')
        pytest.skip('apt-get install python3.11-doc')
    httpd = sphinxsite.serve(tag_src(widget))
    try:
        page, log = browse(f'http://docs.test:{httpd.server_address[1]}/tutorial/controlflow.html')
        expect(page).to_have_title(re.compile('Control Flow'))
        chat, _ = open_chat(page, widget)
        ask(chat, f'sphinx {mark()} [[tokens:5]]')
        expect_answered(chat)
        assert log.errors == []
        assert not [c for c in log.console if 'widget.test' in c]
    finally:
        httpd.shutdown()
        httpd.server_close()
