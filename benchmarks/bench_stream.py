"""What one streamed answer costs: bytes on the wire per byte of answer text, and CPU per provider chunk, split between
lisette/litellm and everything the widget adds.

    .venv/bin/python benchmarks/bench_stream.py [--tokens 300] [--readers 20]

CPU is measured two ways. By difference: the askdocs server's CPU per chunk while it streams answers to readers, minus
the CPU per chunk of lisette alone running the same answers in a process of its own (no web server, no SSE). And by
profile: the server under cProfile, its time split by the package each function belongs to.
"""
import argparse, asyncio, cProfile, os, pstats, subprocess, sys, tempfile, time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, ROOT, askdocs, askdocs_env, ask_and_read, fake_provider, free_port, machine, question, table, Proc


async def read_answers(url, questions):
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=httpx.Limits(max_connections=1000)) as c:
        return await asyncio.gather(*[ask_and_read(c, q) for q in questions])


def wire(provider, tokens):
    "Bytes on the wire (bodies as sent, gzip where the server compresses) for one answer at a few token rates."
    rows = []
    with askdocs(askdocs_env(provider)) as srv:
        asyncio.run(read_answers(srv.url, [question(5, 1000)]))  # warm
        for tps in (30, 60, 100):
            r, = asyncio.run(read_answers(srv.url, [question(tokens, tps)]))
            text = len(r['text'].encode())
            stream = r['stream_bytes']
            rows.append([tps, text, r['frames'], stream - r['done_bytes'], r['done_bytes'], f"{stream / text:.2f}",
                         r['ask_bytes'], f"{(stream + r['ask_bytes']) / text:.2f}"])
    print(f'\n### Wire: one {tokens}-token answer (bytes)\n')
    table(['tokens/s', 'answer text', 'message frames', 'message events', 'done event', 'stream ÷ text', 'POST /ask reply (gzip)',
           '(stream + POST) ÷ text'], rows)


def lisette_alone(provider, readers, tokens, tps):
    "Run in a child process: lisette's answers with no web server; prints CPU seconds and chunks."
    code = f'''
import asyncio, os, sys, time
sys.path.insert(0, {str(ROOT)!r})
from answers import model_answer, import_lisette, warm_up
from main import cfg, index
warm_up()
async def one(q):
    return sum([1 async for e in model_answer(cfg, index, q, []) if e.kind == 'text'])
async def run(): return sum(await asyncio.gather(*[one({question(tokens, tps)!r}) for _ in range({readers})]))
c0 = time.process_time(); n = asyncio.run(run()); print(time.process_time() - c0, n)
'''
    env = {**os.environ, **askdocs_env(provider)}
    out = subprocess.run([PY, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def served(provider, readers, tokens, tps):
    "The askdocs server's CPU while `readers` read answers at once; returns (CPU seconds, chunks, frames)."
    with askdocs(askdocs_env(provider)) as srv:
        asyncio.run(read_answers(srv.url, [question(5, 1000)]))  # warm: lisette imported, first answer done
        c0 = srv.cpu_seconds()
        results = asyncio.run(read_answers(srv.url, [question(tokens, tps)] * readers))
        cpu = srv.cpu_seconds() - c0
    assert all(r['ok'] for r in results), [r['error'] for r in results if not r['ok']][:3]
    return cpu, readers * tokens, sum(r['frames'] for r in results)


BUCKETS = [('lisette/litellm', ('litellm', 'lisette', 'openai', 'pydantic', 'httpx', 'httpcore', 'h11', 'tiktoken', 'toolslm')),
           ('widget', ('/main.py', '/answers.py', '/store.py', '/render.py', '/docsindex.py', 'sse_starlette', 'starlette',
                       'uvicorn', 'httptools', 'fasthtml', 'fastcore', 'markdown_it', 'nh3', 'sqlite3', 'fhdaisy'))]


def bucket(filename):
    return next((name for name, keys in BUCKETS for k in keys if k in filename), 'event loop, stdlib')


def profile_split(provider, readers, tokens, tps):
    "cProfile the server while it streams; each function's own time goes to its package (builtins to their callers')."
    out = Path(tempfile.mkdtemp()) / 'askdocs.prof'
    port = free_port()
    srv = Proc([PY, '-m', 'cProfile', '-o', str(out), '-m', 'uvicorn', 'main:app', '--port', str(port), '--log-level', 'warning'],
               port, '/healthz', askdocs_env(provider))
    with srv:
        asyncio.run(read_answers(srv.url, [question(tokens, tps)] * readers))
    stats = pstats.Stats(str(out)).stats
    totals = {}
    for func, (cc, nc, tt, ct, callers) in stats.items():
        if func[0] != '~':
            totals[bucket(func[0])] = totals.get(bucket(func[0]), 0) + tt
            continue
        calls = sum(v[1] for v in callers.values()) or 1
        for caller, v in callers.items():
            b = 'event loop, stdlib' if caller[0] == '~' else bucket(caller[0])
            totals[b] = totals.get(b, 0) + tt * v[1] / calls
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tokens', type=int, default=300)
    ap.add_argument('--readers', type=int, default=20)
    ap.add_argument('--tps', type=float, default=30)
    a = ap.parse_args()
    print(machine())
    with fake_provider() as provider:
        wire(provider, a.tokens)

        cpu_all, chunks, frames = served(provider, a.readers, a.tokens, a.tps)
        cpu_lisette, chunks_l = lisette_alone(provider, a.readers, a.tokens, a.tps)
        per_all, per_lisette = cpu_all / chunks * 1000, cpu_lisette / chunks_l * 1000
        print(f'\n### CPU per provider chunk: {a.readers} readers at once, {a.tokens} tokens each at {a.tps:g} tokens/s '
              f'({frames / a.readers:.0f} frames an answer)\n')
        table(['measured', 'ms CPU per chunk'], [
            ['askdocs server (lisette/litellm + widget)', f'{per_all:.3f}'],
            ['lisette/litellm alone (same answers, no server)', f'{per_lisette:.3f}'],
            ['the widget (difference)', f'{per_all - per_lisette:.3f} ({(per_all - per_lisette) / per_lisette:.0%} of lisette/litellm)']])

        totals = profile_split(provider, a.readers, a.tokens, a.tps)
        lit = totals.get('lisette/litellm', 0)
        print(f'\n### Profile of the server (cProfile, same load; profiling slows small calls, so shares are approximate)\n')
        table(['where', 's', 'ms per chunk', 'vs lisette/litellm'],
              [[k, f'{v:.2f}', f'{v / chunks * 1000:.3f}', f'{v / lit:.0%}' if lit else '-'] for k, v in sorted(totals.items(), key=lambda kv: -kv[1])])


if __name__ == '__main__': main()
