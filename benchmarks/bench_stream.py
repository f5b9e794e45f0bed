"""What one streamed answer costs: bytes on the wire per byte of answer text, and CPU per provider chunk, split between
lisette/litellm and everything the widget adds.

    .venv/bin/python benchmarks/bench_stream.py [--tokens 300] [--readers 20]

CPU is measured two ways. By difference: the askdocs server's CPU per chunk while it streams answers to readers, minus
the CPU per chunk of lisette alone running the same answers in a process of its own (no web server, no SSE). And by
profile: the server under cProfile, its time split by the package each function belongs to.
"""
import argparse, asyncio, cProfile, os, subprocess, sys, sysconfig, threading, time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, ROOT, askdocs, askdocs_env, ask_and_read, fake_provider, free_port, machine, question, table


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
    table(['tokens/s', 'answer text', 'message frames', 'message events + framing', 'done event', 'stream ÷ text', 'POST /ask reply (gzip)',
           '(stream + POST) ÷ text'], rows)


def lisette_alone(provider, readers, tokens, tps):
    "Run in a child process: lisette's answers with no web server; prints CPU seconds and chunks."
    code = f'''
import asyncio, os, sys, time
sys.path.insert(0, {str(ROOT)!r})
from answers import model_answer, warm_up
from main import cfg, index
import uvloop
warm_up()
async def one(q):
    return sum([1 async for e in model_answer(cfg, index, q, []) if e.kind == 'text'])
async def run():
    await one({question(5, 1000)!r})  # warm, as the server is: the first real answer's one-off costs are not counted
    c0 = time.process_time()
    n = sum(await asyncio.gather(*[one({question(tokens, tps)!r}) for _ in range({readers})]))
    return time.process_time() - c0, n
print(*uvloop.run(run()))  # the loop uvicorn runs the server on
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


BUCKETS = [('lisette/litellm', ('litellm', 'lisette', 'openai', 'pydantic', 'httpx', 'httpcore', 'h11', 'tiktoken', 'toolslm',
                                 'aiohttp', 'multidict', 'yarl', 'frozenlist', 'propcache', 'aiosignal', 'jiter', 'tenacity')),
           ('widget', ('/main.py', '/answers.py', '/store.py', '/render.py', '/docsindex.py', 'sse_starlette', 'starlette',
                       'uvicorn', 'httptools', 'fasthtml', 'markdown_it', 'nh3', 'sqlite3', 'fhdaisy', 'multipart', 'itsdangerous'))]


IDLE = ("<method 'poll' of 'select.epoll' objects>", "<method 'acquire' of '_thread.lock' objects>")  # waiting, not working


STDLIB = sysconfig.get_paths()['stdlib']


def shared(filename):
    "Code both sides call: builtins, the standard library (asyncio's transports, json, ...), fastcore, anyio."
    return (filename == '~' or any(k in filename for k in ('fastcore', 'anyio', 'sniffio', 'typing_extensions'))
            or (filename.startswith(STDLIB) and 'site-packages' not in filename))


def owners(stats, func, memo, active=()):
    """{bucket: share} of `func`'s own time: its package's, or for shared code its callers', weighted by the time spent
    under each caller, followed up through shared callers to the code that made the call."""
    if not shared(func[0]): return {bucket(func[0]): 1.0}
    if func in memo: return memo[func]
    callers = {c: v for c, v in stats.get(func, (0, 0, 0, 0, {}))[4].items() if c not in active}
    total = sum(v[3] for v in callers.values())
    out = {}
    if not total: out = {'event loop': 1.0}  # the loop's own work: nothing above it to charge
    for caller, v in callers.items():
        for b, share in owners(stats, caller, memo, (*active, func)).items(): out[b] = out.get(b, 0) + share * v[3] / total
    memo[func] = out
    return out


def bucket(filename):
    return next((name for name, keys in BUCKETS for k in keys if k in filename), 'other')


def profile_split(provider, readers, tokens, tps):
    """cProfile the server's event loop while it streams (not its start-up); each function's own time goes to its package.
    The server runs in a thread of this process on a plain asyncio loop (uvloop hides its loop in C); the readers run
    in a child process, so the profile holds only the server's work."""
    os.environ.update(askdocs_env(provider))
    import uvicorn
    sys.path.insert(0, str(ROOT))
    import main as askdocs_main
    port, prof, ready = free_port(), cProfile.Profile(), threading.Event()
    server = uvicorn.Server(uvicorn.Config(askdocs_main.app, port=port, log_level='warning', loop='asyncio'))
    async def serve():
        server.loop = asyncio.get_running_loop()
        ready.set()
        await server.serve()
    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    ready.wait()
    while not server.started: time.sleep(0.01)  # start-up polling
    url = f'http://127.0.0.1:{port}'
    read = lambda n, q: subprocess.run([PY, __file__, '--read', url, str(n), q], check=True)
    read(2, question(5, 1000))  # warm: lisette imported, first answer done
    server.loop.call_soon_threadsafe(prof.enable)  # runs on the server's thread, so that is the thread profiled
    read(readers, question(tokens, tps))
    server.loop.call_soon_threadsafe(prof.disable)
    server.should_exit = True
    thread.join(15)
    prof.create_stats()
    stats = prof.stats
    totals, widget, memo = {}, {}, {}
    for func, (cc, nc, tt, ct, callers) in stats.items():
        if func[2] in IDLE: continue
        for b, share in owners(stats, func, memo).items():
            totals[b] = totals.get(b, 0) + tt * share
            if b == 'widget': widget[func] = widget.get(func, 0) + tt * share
    return totals, sorted(widget.items(), key=lambda kv: -kv[1])[:8]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tokens', type=int, default=300)
    ap.add_argument('--readers', type=int, default=20)
    ap.add_argument('--tps', type=float, default=30)
    ap.add_argument('--read', nargs=3, metavar=('URL', 'N', 'QUESTION'), help=argparse.SUPPRESS)  # the profile's readers
    a = ap.parse_args()
    if a.read:
        results = asyncio.run(read_answers(a.read[0], [a.read[2]] * int(a.read[1])))
        sys.exit(0 if all(r['ok'] for r in results) else 'some answers failed')
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

        totals, top = profile_split(provider, a.readers, a.tokens, a.tps)
        lit = totals.get('lisette/litellm', 0)
        print('\n### Profile of the server (cProfile, same load, plain asyncio loop; profiling slows small calls, so shares are approximate)\n')
        table(['where', 's', 'ms per chunk', 'vs lisette/litellm'],
              [[k, f'{v:.2f}', f'{v / chunks * 1000:.3f}', f'{v / lit:.0%}' if lit else '-'] for k, v in sorted(totals.items(), key=lambda kv: -kv[1])])
        print('\nThe widget\'s biggest items (own time; builtins and fastcore counted where the widget calls them):\n')
        table(['function', 'ms per chunk'], [[f'{Path(f[0]).name}:{f[1]} {f[2]}', f'{t / chunks * 1000:.4f}'] for f, t in top])


if __name__ == '__main__': main()
