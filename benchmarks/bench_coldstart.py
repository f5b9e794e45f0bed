"""Cold start: from launching `uvicorn main:app` to the first 200 on /embed, on /chat-standalone, and to the first word of
an answer (the fake provider answers at once, so the figure is all askdocs: imports, lisette's warm-up, the first call).

    .venv/bin/python benchmarks/bench_coldstart.py [--runs 5]

Each run is a new process with a new data folder, as on a first deploy; the docs (README.md and docs/) are indexed in the
background while the pages are served.
"""
import argparse, asyncio, sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import askdocs, askdocs_env, ask_and_read, fake_provider, machine, median, question, table


def page(env, path):
    with askdocs(env, health=path) as srv: return (srv.ready - srv.started) * 1000


def first_word(env):
    with askdocs(env) as srv:
        async def read():
            async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c: return await ask_and_read(c, question(20, 1000))
        r = asyncio.run(read())
        assert r['ok'], r['error']
        return (r['first'] - srv.started) * 1000


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
