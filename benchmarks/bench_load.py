"""Many readers at once: N real SSE clients, each asking and reading answers back to back, against askdocs with 1 and 2
uvicorn workers and the fake provider pacing tokens like a model.

    .venv/bin/python benchmarks/bench_load.py [--readers 10,50,100,200] [--workers 1,2] [--tokens 300] [--tps 30]

Readers start spread over one answer's length and then ask again as soon as an answer is done, so N answers stream at
once. Overhead is what the widget adds before the first words: the time from POST /ask to the first `message` event,
minus the provider's own time to first token (from receiving the request to sending the first word, as the fake
provider measured it; --ttft sets how long it waits).
"""
import argparse, asyncio, random, sys, threading, time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import askdocs, askdocs_env, ask_and_read, fake_provider, gaps_ms, machine, median, pct, question, table


async def reader(client, questions, start):
    await asyncio.sleep(start)
    return [await ask_and_read(client, q) | dict(q=q) for q in questions]


async def readers(url, n, question_for, ramp, rounds):
    "n readers, each asking `rounds` questions (question_for(reader, round)) one after the other."
    limits = httpx.Limits(max_connections=n * 2 + 10, max_keepalive_connections=n * 2 + 10)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(120, connect=30), limits=limits) as c:
        rng = random.Random(n)
        runs = await asyncio.gather(*[reader(c, [question_for(i, j) for j in range(rounds)], rng.uniform(0, ramp)) for i in range(n)])
    return [r for run in runs for r in run]


class PeakMemory:
    "Samples the server's resident memory every 100 ms in a thread while the load runs."
    def __init__(self, srv): self.srv, self.peak, self.done = srv, 0.0, threading.Event()

    def __enter__(self):
        def sample():
            while not self.done.wait(0.1): self.peak = max(self.peak, self.srv.rss_mb())
        threading.Thread(target=sample, daemon=True).start()
        return self

    def __exit__(self, *exc): self.done.set()


def run(provider, workers, n, a):
    tag = f'w{workers}n{n}'
    with askdocs(askdocs_env(provider), workers=workers) as srv:
        asyncio.run(readers(srv.url, workers * 4, lambda i, j: question(5, 1000, tag=f'warm{tag}-{i}-{j}'), 0, 2))  # every worker has answered
        cpu0, fake0, mine0, t0 = srv.cpu_seconds(), provider.cpu_seconds(), time.process_time(), time.perf_counter()
        with PeakMemory(srv) as mem:
            results = asyncio.run(readers(srv.url, n, lambda i, j: question(a.tokens, a.tps, a.ttft, tag=f'{tag}-{i}-{j}'),
                                          a.tokens / a.tps, a.rounds))
        wall = time.perf_counter() - t0
        cpu, fake, mine = srv.cpu_seconds() - cpu0, provider.cpu_seconds() - fake0, time.process_time() - mine0
    ok = [r for r in results if r['ok']]
    # The provider's own time to first token, as it measured it (CLOCK_MONOTONIC, shared by every process here).
    seen = {t['question']: t for t in httpx.get(provider.url + '/_timings').json() if 'first_word' in t}
    timed = [(r, seen[r['q']]) for r in ok if r['first'] and r['q'] in seen]
    overhead = [(r['first'] - r['posted'] - (t['first_word'] - t['received'])) * 1000 for r, t in timed]
    split = [median([f(r, t) * 1000 for r, t in timed]) for f in (
        lambda r, t: r['opened'] - r['posted'],        # POST /ask, answered
        lambda r, t: t['received'] - r['opened'],      # stream opened, until the provider has the request
        lambda r, t: r['first'] - t['first_word'])]    # the provider's first word, until the reader has it
    gaps = [g for r in ok for g in gaps_ms(r)]
    errors = sorted({r['error'] for r in results if not r['ok']})
    return [workers, n, f'{len(ok)}/{len(results)}', f'{len(ok) / wall:.1f}', f'{median(overhead):.0f}', f'{pct(overhead, 99):.0f}',
            f'{median(gaps):.0f}', f'{pct(gaps, 99):.0f}', f'{cpu / wall:.0%}', f'{fake / wall:.0%}', f'{mine / wall:.0%}', f'{mem.peak:.0f}'], \
           [workers, n, len(timed), *(f'{x:.1f}' for x in split)], errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--readers', default='10,50,100,200')
    ap.add_argument('--workers', default='1,2')
    ap.add_argument('--tokens', type=int, default=300)
    ap.add_argument('--tps', type=float, default=30, help="each answer's tokens per second")
    ap.add_argument('--ttft', type=float, default=0.3, help="the provider's time to first token, seconds")
    ap.add_argument('--rounds', type=int, default=2, help='answers each reader reads, one after the other')
    a = ap.parse_args()
    print(machine())
    print(f'\n### Load: {a.tokens}-token answers at {a.tps:g} tokens/s, provider time to first token {a.ttft * 1000:.0f} ms, '
          f'{a.rounds} answers a reader\n')
    rows, splits, notes = [], [], []
    with fake_provider() as provider:
        for w in map(int, a.workers.split(',')):
            for n in map(int, a.readers.split(',')):
                row, split, errors = run(provider, w, n, a)
                rows.append(row)
                splits.append(split)
                notes += [f'{w} worker(s), {n} readers: {e}' for e in errors]
    table(['workers', 'readers', 'answers ok', 'answers/s', 'overhead p50 ms', 'overhead p99 ms', 'event gap p50 ms',
           'event gap p99 ms', 'server CPU', 'provider CPU', 'readers CPU', 'peak server MB'], rows)
    print('\nWhere the overhead goes (p50 ms): the POST, then from opening the stream until the provider has the request '
          '(askdocs claims the turn, lisette and litellm build the request), then from the provider\'s first word to the reader\n')
    table(['workers', 'readers', 'answers timed', 'POST /ask', 'stream opened → provider has the request',
           "provider's first word → reader"], splits)
    for note in notes: print('error:', note)


if __name__ == '__main__': main()
