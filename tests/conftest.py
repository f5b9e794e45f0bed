import os, re, socket, subprocess, sys, tempfile, time
from pathlib import Path

import httpx, pytest
from urllib.parse import urlsplit
from httpx_sse import connect_sse

ROOT = Path(__file__).parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]
import fakeai

FAKE_URL, _ = fakeai.start()
DATA = tempfile.mkdtemp(prefix='askdocs-test-')
# Set before `main` is imported anywhere: the app reads its configuration once, at import.
MODEL_ENV = dict(ASKDOCS_MODEL='openai/fake', ASKDOCS_API_BASE=FAKE_URL, ASKDOCS_API_KEY='test-key', ASKDOCS_DATA=DATA,
                 ASKDOCS_SITE_NAME='Testdocs', ASKDOCS_TIMEOUT='5', ASKDOCS_RATE_PER_IP='100000', ASKDOCS_RATE_GLOBAL='100000',
                 ASKDOCS_RATE_PER_CONVERSATION='100000')
os.environ.update(MODEL_ENV)
HX = {'HX-Request': '1'}

@pytest.fixture
def client():
    from starlette.testclient import TestClient
    import main
    with TestClient(main.app) as c: yield c

def ask(c, q, conv=''):
    "POST a question as htmx does; returns (conversation id, stream URL, response)."
    r = c.post('/ask', data=dict(q=q, conv=conv), headers=HX)
    m = re.search(r'sse-connect="([^"]+)"', r.text)
    cid = re.search(r'name="conv"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="conv"', r.text)
    return (cid and (cid[1] or cid[2])), (m and m[1]), r

def events(c, url, limit=10_000):
    "Read an SSE stream to its end: [(event, data), ...]."
    with connect_sse(c, 'GET', url) as src:
        assert src.response.headers['content-type'].startswith('text/event-stream')
        return [(e.event, e.data) for _, e in zip(range(limit), src.iter_sse())]

def tags(html):
    "[(tag, {attr: value})] of every element in an HTML fragment, as a browser's parser would see them."
    from html.parser import HTMLParser
    found = []
    class P(HTMLParser):
        def handle_starttag(self, tag, attrs): found.append((tag, dict(attrs)))
    P().feed(html)
    return found

def assert_inert(html):
    "Nothing in `html` can run script, load from another host by itself, or frame anything."
    for tag, attrs in tags(html):
        assert tag not in ('script', 'iframe', 'object', 'embed', 'svg', 'math', 'style', 'img', 'form', 'base', 'meta', 'link'), tag
        assert not [a for a in attrs if a.startswith('on') or a in ('style', 'srcdoc', 'formaction')], attrs
        for a in ('href', 'src', 'action'):
            if a in attrs: assert urlsplit(attrs[a].strip()).scheme.lower() in ('', 'http', 'https', 'mailto'), attrs[a]

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

class Server:
    "askdocs under real uvicorn on loopback, as `python -m uvicorn main:app` would run it."
    def __init__(self, data=None, workers=1, **env):
        self.port, self.workers = free_port(), workers
        self.env = {**os.environ, **MODEL_ENV, 'ASKDOCS_DATA': str(data or DATA), **env}
        self.url, self.proc = f'http://127.0.0.1:{self.port}', None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, '-m', 'uvicorn', 'main:app', '--port', str(self.port),
                                      '--workers', str(self.workers), '--timeout-graceful-shutdown', '3', '--log-level', 'warning'],
                                     cwd=ROOT, env=self.env)
        with httpx.Client() as c:
            for _ in range(300):
                try:
                    if c.get(f'{self.url}/healthz', timeout=1).status_code == 200: return self
                except httpx.TransportError: pass
                if self.proc.poll() is not None: raise RuntimeError('askdocs exited during start-up')
                time.sleep(0.05)  # start-up polling, not synchronisation of the behaviour under test
        raise RuntimeError('askdocs did not start')

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

@pytest.fixture
def server():
    "Start askdocs servers with their own settings; they are stopped after the test."
    started = []
    def make(**kw):
        started.append(Server(**kw).start())
        return started[-1]
    yield make
    for s in started: s.stop()

@pytest.fixture(scope='session')
def shared_server():
    "One askdocs server on the default test settings, shared by the tests that need nothing else."
    s = Server().start()
    yield s
    s.stop()

def model_requests(marker):
    "The requests the fake provider received whose last user message contains `marker`."
    reqs = httpx.get(FAKE_URL.removesuffix('/v1') + '/_requests').json()
    return [r for r in reqs if marker in fakeai.last_user(r)]
