"""Cold start: from launching `uvicorn main:app` to the first 200 on /embed, on /chat-standalone, and to the first word of
an answer (the fake provider answers at once, so the figure is all askdocs: imports, lisette's warm-up, the first call).

    .venv/bin/python benchmarks/bench_coldstart.py [--runs 5]

Each run is a new process with a new data folder, as on a first deploy; the docs (README.md and docs/) are indexed in the
background while the pages are served.
"""
import argparse, asyncio, os, subprocess, sys, time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, ROOT, askdocs_env, ask_and_read, fake_provider, free_port, machine, median, question, table


def launch(env):
    port = free_port()
    proc = subprocess.Popen([PY, '-m', 'uvicorn', 'main:app', '--port', str(port), '--log-level', 'warning'], cwd=ROOT,
                            env={**os.environ, **env}, stderr=subprocess.DEVNULL)
    return proc, time.perf_counter(), f'http://127.0.0.1:{port}'


def first_200(url, proc):
    "Poll every 5 ms until `url` answers 200; the time it did."
    with httpx.Client(timeout=10) as c:
        while proc.poll() is None:
            try:
                if c.get(url).status_code == 200: return time.perf_counter()
            except httpx.TransportError: time.sleep(0.005)
    raise RuntimeError(f'askdocs exited before {url} answered')


def stop(proc):
    proc.terminate()
    proc.wait(timeout=15)


def page(env, path):
    proc, started, url = launch(env)
    try: return (first_200(url + path, proc) - started) * 1000
    finally: stop(proc)


def first_word(env):
    proc, started, url = launch(env)
    try:
        first_200(url + '/healthz', proc)
        async def read():
            async with httpx.AsyncClient(base_url=url, timeout=60) as c: return await ask_and_read(c, question(20, 1000))
        r = asyncio.run(read())
        assert r['ok'], r['error']
        return (r['first'] - started) * 1000
    finally: stop(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=5)
    a = ap.parse_args()
    print(machine())
    with fake_provider() as provider:
        rows = []
        for label, mode, measure in [('/embed', 'no model', lambda env: page(env, '/embed')),
                                     ('/chat-standalone', 'no model', lambda env: page(env, '/chat-standalone')),
                                     ('/embed', 'with a model', lambda env: page(env, '/embed')),
                                     ('/chat-standalone', 'with a model', lambda env: page(env, '/chat-standalone')),
                                     ('first answer word', 'with a model', first_word)]:
            times = [measure(askdocs_env(provider if mode == 'with a model' else None)) for _ in range(a.runs)]
            rows.append([label, mode, f'{median(times):.0f}', f'{min(times):.0f}–{max(times):.0f}'])
    print(f'\n### Cold start: process launch to ... (ms, {a.runs} runs)\n')
    table(['first 200 on / first word of', 'mode', 'median ms', 'min–max ms'], rows)


if __name__ == '__main__': main()
