"""What the benchmarks share: the fake provider and askdocs as separate processes on loopback, process memory, tables.

Every benchmark runs the real thing: uvicorn serving main:app, lisette -> litellm -> HTTP to tests/fakeai.py (an
OpenAI-compatible server that paces tokens like a model: [[md:N]] N tokens of Markdown, [[pace:S]] S seconds a token,
[[delay:S]] S seconds to the first token).
"""
import atexit, os, platform, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_http(url, proc, timeout=60):
    "Poll `url` every 5 ms until it answers 200 (start-up polling only); returns when it did (perf_counter)."
    end = time.monotonic() + timeout
    with httpx.Client(timeout=10) as c:
        while time.monotonic() < end:
            try:
                if c.get(url).status_code == 200: return time.perf_counter()
            except httpx.TransportError: pass
            if proc.poll() is not None: raise RuntimeError(f'{proc.args} exited during start-up')
            time.sleep(0.005)
    raise RuntimeError(f'{url} did not answer in {timeout} s')


class Proc:
    "A server process on loopback, ready once `health` answers 200; stopped on exit from the `with` block."
    def __init__(self, args, port, health, env=None, stop=signal.SIGTERM):
        self.port, self.url, self.stop = port, f'http://127.0.0.1:{port}', stop
        self.proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})})
        self.started = time.perf_counter()
        self.ready = wait_http(self.url + health, self.proc)

    def __enter__(self): return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop)
            try: self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired: self.proc.kill()

    def pids(self):
        "This process and its children (uvicorn's workers)."
        kids = Path(f'/proc/{self.proc.pid}/task/{self.proc.pid}/children').read_text().split()
        return [self.proc.pid, *map(int, kids)]

    def rss_mb(self):
        "Resident memory of the process tree now, in MB."
        total = 0
        for pid in self.pids():
            try: total += int(next(l for l in Path(f'/proc/{pid}/status').read_text().splitlines() if l.startswith('VmRSS')).split()[1])
            except (OSError, StopIteration): pass
        return total / 1024

    def cpu_seconds(self):
        "User + system CPU time of the process tree so far."
        tick, total = os.sysconf('SC_CLK_TCK'), 0
        for pid in self.pids():
            try: total += sum(int(x) for x in Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[11:13])
            except OSError: pass
        return total / tick


def fake_provider():
    "tests/fakeai.py in a process of its own, so its CPU is not the server's."
    port = free_port()
    return Proc([PY, str(ROOT / 'tests' / 'fakeai.py'), str(port)], port, '/_abandoned')


def askdocs_env(provider=None, data=None, **extra):
    "Settings for a benchmark server: the fake model (or none: docs-only), limits out of the way, a fresh data folder."
    if not data:
        data = tempfile.mkdtemp(prefix='askdocs-bench-')
        atexit.register(shutil.rmtree, data, ignore_errors=True)
    env = dict(ASKDOCS_DATA=data, ASKDOCS_SITE_NAME='Benchdocs',
               ASKDOCS_RATE_PER_IP='1000000', ASKDOCS_RATE_GLOBAL='1000000', ASKDOCS_RATE_PER_CONVERSATION='1000000',
               ASKDOCS_MAX_TOKENS='4096', ASKDOCS_TIMEOUT='120')
    if provider: env |= dict(ASKDOCS_MODEL='openai/fake', ASKDOCS_API_BASE=provider.url + '/v1', ASKDOCS_API_KEY='bench')
    return env | extra


def askdocs(env, workers=1, port=None, health='/healthz'):
    "askdocs under uvicorn, as the Dockerfile runs it."
    port = port or free_port()
    return Proc([PY, '-m', 'uvicorn', 'main:app', '--port', str(port), '--workers', str(workers), '--log-level', 'warning',
                 '--timeout-graceful-shutdown', '3'], port, health, env)


def pct(values, p):
    "The p-th percentile (nearest rank) of `values`, or nan when there are none."
    if not values: return float('nan')
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def median(values): return statistics.median(values) if values else float('nan')


def machine():
    "One line naming the machine, for the README's figures."
    mem = next(l for l in Path('/proc/meminfo').read_text().splitlines() if l.startswith('MemTotal')).split()[1]
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')), '?')
    return f'{os.cpu_count()} cores ({cpu}), {int(mem) / 2**20:.0f} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}'


def table(headers, rows):
    "Print a Markdown table (so figures paste straight into benchmarks/README.md)."
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: '| ' + ' | '.join(c.ljust(w) for c, w in zip(r, widths)) + ' |'
    print(line(cells[0]))
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for r in cells[1:]: print(line(r))
    sys.stdout.flush()


def question(tokens, tps, ttft=0.0, tag=''):
    "A question the fake provider answers with `tokens` Markdown tokens at `tps` tokens/s after `ttft` seconds."
    return f'{tag} [[md:{tokens}]] [[pace:{1 / tps:.6f}]] [[delay:{ttft}]]'.strip()


async def ask_and_read(client, q):
    """POST a question as the chat page does and read its answer over SSE, as the browser would.
    Returns the times (perf_counter) of the POST and of every event, the bytes on the wire and the answer text."""
    import html, re
    from httpx_sse import aconnect_sse
    r = dict(posted=time.perf_counter(), events=[], ok=False, error='')
    try:
        resp = await client.post('/ask', data=dict(q=q, conv=''), headers={'HX-Request': '1'})
        r['ask_bytes'] = resp.num_bytes_downloaded
        if resp.status_code != 200: return r | dict(error=f'POST /ask {resp.status_code}')
        url = re.search(r'sse-connect="([^"]+)"', resp.text)[1]
        r['opened'] = time.perf_counter()
        async with aconnect_sse(client, 'GET', url) as src:
            async for e in src.aiter_sse():
                r['events'].append((time.perf_counter(), e.event, e.data))
                if e.event in ('done', 'error'): break
            r['stream_bytes'] = src.response.num_bytes_downloaded
    except Exception as e: return r | dict(error=f'{type(e).__name__}: {e}')
    kinds = [k for _, k, _ in r['events']]
    text = html.unescape(''.join(d for _, k, d in r['events'] if k == 'message'))
    return r | dict(ok=kinds[-1:] == ['done'], error='' if kinds[-1:] == ['done'] else f'ended with {kinds[-1:]}', text=text,
                    frames=kinds.count('message'), done_bytes=sum(len(d.encode()) for _, k, d in r['events'] if k == 'done'),
                    first=next((t for t, k, _ in r['events'] if k == 'message'), None))


def gaps_ms(result):
    "Milliseconds between consecutive answer events of one reader (message frames and the final done)."
    times = [t for t, k, _ in result['events'] if k in ('message', 'done')]
    return [(b - a) * 1000 for a, b in zip(times, times[1:])]
