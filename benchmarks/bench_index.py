"""Benchmark the docs index on the real Python 3.11 docs: build time, re-index time, search latency, recall@5 and MRR.

    .venv/bin/python benchmarks/bench_index.py [--docs /usr/share/doc/python3.11/html]
"""
import argparse, json, os, platform, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from docsindex import DocsIndex  # noqa: E402

BASE = 'https://docs.python.org/3.11/'
QUESTIONS = HERE / 'python_docs_questions.json'
RUNS = 20


def page_of(url):
    "https://docs.python.org/3.11/library/json.html#json.dumps -> library/json.html"
    return url.split('#')[0].removeprefix(BASE)


def build(index, docs):
    spec = f'{docs}={BASE}'
    first = index.update([spec])
    again = index.update([spec])
    return first, again


def latencies(index, questions):
    for q in questions: index.search(q['q'], k=5)  # warm-up
    times = []
    for _ in range(RUNS):
        for q in questions:
            t0 = time.perf_counter()
            index.search(q['q'], k=5)
            times.append((time.perf_counter() - t0) * 1000)
    return times


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def quality(index, questions):
    "Returns recall@5, MRR@10 and the misses as (question, top 3 pages)."
    found, rr, misses = 0, 0.0, []
    for q in questions:
        pages = [page_of(h.url) for h in index.search(q['q'], k=10)]
        expected = set(q['pages'])
        if expected & set(pages[:5]): found += 1
        else: misses.append((q['q'], pages[:3]))
        rank = next((i for i, p in enumerate(pages, 1) if p in expected), None)
        rr += 1 / rank if rank else 0.0
    return found / len(questions), rr / len(questions), misses


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--docs', default='/usr/share/doc/python3.11/html', help='the Python 3.11 HTML docs folder')
    args = ap.parse_args()
    docs = Path(args.docs)
    if not (docs / 'library').is_dir():
        sys.exit(f'No Python docs at {docs}. Install them with:  apt-get install python3.11-doc  (or pass --docs PATH)')
    questions = json.loads(QUESTIONS.read_text())

    with tempfile.TemporaryDirectory() as tmp:
        index = DocsIndex(Path(tmp) / 'index.db')
        first, again = build(index, docs)
        times = latencies(index, questions)
        recall, mrr, misses = quality(index, questions)
        index.db.close()

    rows = [
        ('machine', f'{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.machine()}'),
        ('build from scratch', f'{first.seconds:.2f} s  ({first.pages} pages, {first.sections} sections, {len(first.failed)} failed)'),
        ('re-index, unchanged', f'{again.seconds:.2f} s  ({again.skipped} unchanged, {again.pages} re-indexed)'),
        ('search latency', f'p50 {percentile(times, 50):.2f} ms, p99 {percentile(times, 99):.2f} ms  '
                           f'({len(questions)} questions x {RUNS})'),
        ('recall@5', f'{recall:.1%}  ({len(questions) - len(misses)}/{len(questions)})'),
        ('MRR@10', f'{mrr:.3f}'),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows: print(f'{k:<{width}}  {v}')
    if misses:
        print(f'\nMissed ({len(misses)}), with their top 3 pages:')
        for q, top in misses: print(f'  - {q}\n      {", ".join(top) or "(no hits)"}')


if __name__ == '__main__':
    main()
