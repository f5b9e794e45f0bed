"""The docs index: pages from folders, files and URLs, split into heading sections, searched with SQLite FTS5 (BM25)."""
import asyncio, fcntl, hashlib, json, os, re, sqlite3, threading, time
from contextlib import contextmanager
from itertools import combinations
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from xml.etree import ElementTree

@dataclass
class Section:
    heading: str  # the heading path, e.g. "Configuration › Environment"
    anchor: str
    text: str

@dataclass
class Page:
    url: str
    title: str
    sections: list[Section]

@dataclass
class Hit:
    title: str
    heading: str
    url: str
    excerpt: str  # plain text; query terms wrapped in \x02 ... \x03
    text: str = ''  # the whole section

@dataclass
class Summary:
    pages: int = 0
    sections: int = 0
    skipped: int = 0
    removed: int = 0
    failed: list = field(default_factory=list)  # (source, reason)
    seconds: float = 0.0

    def __str__(self):
        return (f'{self.pages} pages indexed ({self.sections} sections), {self.skipped} unchanged, {self.removed} removed, '
                f'{len(self.failed)} failed, in {self.seconds:.1f} s')

# ---- Splitting a page into sections ----

def slug(text):
    "The anchor most generators give a heading (GitHub, MkDocs, Quarto): lower case, punctuation dropped, spaces to -."
    return re.sub(r'\s+', '-', re.sub(r'[^\w\s-]', '', text.strip().lower()))

CHUNK = 1500

def chunks(text):
    "Split long section text at blank lines into pieces of about CHUNK characters, never inside a ``` fence."
    out, cur, fence = [], [], False
    for block in re.split(r'(\n\s*\n)', text):
        fence ^= block.count('```') % 2 == 1
        cur.append(block)
        if not fence and sum(map(len, cur)) >= CHUNK: out.append(''.join(cur).strip()); cur = []
    if ''.join(cur).strip(): out.append(''.join(cur).strip())
    return out or ['']

class Sectioner:
    "Collects text under the current heading path."
    def __init__(self, title=''):
        self.title, self.path, self.anchor, self.buf, self.sections = title, [], '', [], []

    def heading(self, level, text, anchor):
        self.flush()
        text = ' '.join(text.split())
        if level == 1 and not self.title: self.title = text
        self.path = [p for p in self.path if p[0] < level] + [(level, text)]
        self.anchor = anchor

    def add(self, text): self.buf.append(text)

    def flush(self):
        body = re.sub(r'\n{3,}', '\n\n', ''.join(self.buf)).strip()
        self.buf = []
        if body or self.path:
            heading = ' › '.join(t for _, t in self.path)
            self.sections += [Section(heading, self.anchor, c) for c in chunks(body)]

    def done(self):
        self.flush()
        return self.title, [s for s in self.sections if s.text or s.heading]

FENCE = re.compile(r'^\s{0,3}(```|~~~)')
ATX = re.compile(r'^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$')

def markdown_sections(text, title=''):
    if text.startswith('---\n') and (end := text.find('\n---', 4)) > 0:  # YAML front matter (Quarto, MkDocs, Docusaurus)
        if m := re.search(r'^title:\s*["\']?(.*?)["\']?\s*$', text[4:end], re.M): title = m[1]
        text = text[end + 4:]
    s, fence, lines = Sectioner(title), False, text.split('\n')
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ''
        if FENCE.match(line): fence = not fence
        if not fence and (m := ATX.match(line)):
            txt = re.sub(r'\s*\{#([\w-]+)\}\s*$', '', m[2])  # Quarto/Pandoc explicit ids
            s.heading(len(m[1]), txt, (re.search(r'\{#([\w-]+)\}', m[2]) or [None, slug(txt)])[1])
        elif not fence and line.strip() and re.fullmatch(r'\s{0,3}(=+|-+)\s*', nxt) and not line.lstrip().startswith(('-', '*', '|')):
            s.heading(1 if '=' in nxt else 2, line.strip(), slug(line))
            lines[i + 1] = ''
        else: s.add(line + '\n')
    return s.done()

RST_UNDER = re.compile(r'^([=\-~^"\'`#*+:.])\1{2,}\s*$')

def rst_sections(text, title=''):
    s, styles, lines, skip = Sectioner(title), [], text.split('\n'), set()
    for i, line in enumerate(lines):
        if i in skip: continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ''
        over = i > 0 and RST_UNDER.match(lines[i - 1]) and (i - 1) in skip
        if line.strip() and not RST_UNDER.match(line) and RST_UNDER.match(nxt) and len(nxt.rstrip()) >= len(line.rstrip()):
            style = (nxt[0], bool(over))
            if style not in styles: styles.append(style)
            s.heading(styles.index(style) + 1, line.strip(), slug(line))
            skip.add(i + 1)
        elif RST_UNDER.match(line) and i + 2 < len(lines) and RST_UNDER.match(lines[i + 2]) and lines[i + 1].strip():
            skip.add(i)  # an overline: the title and its underline follow
        else: s.add(line + '\n')
    return s.done()

def notebook_markdown(raw):
    nb = json.loads(raw)
    lang = nb.get('metadata', {}).get('kernelspec', {}).get('language', 'python')
    src = lambda c: ''.join(c.get('source', '')) if isinstance(c.get('source'), list) else c.get('source', '')
    return '\n\n'.join(src(c) if c.get('cell_type') == 'markdown' else f'```{lang}\n{src(c)}\n```'
                       for c in nb.get('cells', []) if c.get('cell_type') in ('markdown', 'code') and src(c).strip())

# Where the content is, per generator, most specific first; and the chrome inside it that is not content.
MAIN = ('article.md-content__inner', 'main#quarto-document-content', '#quarto-document-content', 'div.theme-doc-markdown',
        'article[role=main]', 'div[role=main]', '[role=main]', 'div.body', 'main article', 'article', 'main', 'div.document')
CHROME = ('script', 'style', 'noscript', 'nav', 'footer', 'aside', 'form', 'button', 'svg', 'iframe', 'template', 'select',
          '.headerlink', '.anchor-link', 'a.hash-link', '.sphinxsidebar', '.related', '.md-source-file', '.md-content__button',
          '.theme-edit-this-page', '.edit-this-page', '.pagination-nav', '.theme-doc-footer', '.theme-doc-toc-mobile',
          '.theme-doc-breadcrumbs', '.breadcrumbs', '[aria-label=breadcrumbs]', '#quarto-margin-sidebar', '.quarto-title-meta',
          '#toc', '.toc', '.toctree-wrapper', '[role=navigation]', '.copybtn', '.prev-next-area', '.bd-footer-article',
          'body > header', '.md-header', '.sidebar', '.footer', '.navigation', '.skip-link')
BLOCK = {'p', 'div', 'section', 'article', 'li', 'ul', 'ol', 'dl', 'dd', 'table', 'tr', 'blockquote', 'figure', 'details',
         'summary', 'br', 'hr', 'main', 'header', 'caption', 'figcaption', 'tbody', 'thead'}
HEADINGS = {'h1': 1, 'h2': 2, 'h3': 3, 'h4': 4, 'h5': 5, 'h6': 6}
SPHINX_DESC = re.compile(r'\b(function|class|method|attribute|data|exception|describe|property|decorator|option|envvar)\b')

def _anchor(node):
    if node.id: return node.id
    parent = node.parent
    if parent is not None and parent.id and parent.tag in ('section', 'div'): return parent.id  # Sphinx: <section id=..><h2>
    inner = node.css_first('[id], a[name]')
    return (inner.id or inner.attributes.get('name')) if inner else ''

def _walk(node, s: Sectioner):
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == '-text': s.add(re.sub(r'\s+', ' ', child.text_content or ''))
        elif tag in HEADINGS: s.heading(HEADINGS[tag], child.text(deep=True), _anchor(child))
        elif tag == 'pre':
            code = child.css_first('code')
            cls = ' '.join(n.attributes.get('class') or '' for n in (code, child, child.parent) if n is not None)
            lang = (re.search(r'(?:language-|highlight-|sourceCode\s+)(\w+)', cls) or [None, ''])[1]
            s.add(f'\n```{lang}\n{child.text(deep=True).rstrip()}\n```\n')
        elif tag == 'dt' and child.id and SPHINX_DESC.search((child.parent.attributes.get('class') or '') if child.parent else ''):
            s.heading(min(7, max((p[0] for p in s.path), default=1) + 1), child.id, child.id)  # one level under its section
            _walk(child, s)
        elif tag == 'td' or tag == 'th': s.add(' '); _walk(child, s); s.add(' |')
        else:
            block = tag in BLOCK or tag == 'dt'
            if block: s.add('\n')
            _walk(child, s)
            if block: s.add('\n')

def html_sections(html, title=''):
    from selectolax.lexbor import LexborHTMLParser
    tree = LexborHTMLParser(html)
    if t := tree.css_first('title'): title = ' '.join(t.text().split()) or title
    main = next((m for sel in MAIN if (m := tree.css_first(sel))), None) or tree.body
    if main is None: return title, []
    for sel in CHROME:
        for n in main.css(sel): n.decompose()
    s = Sectioner()
    _walk(main, s)
    h1, sections = s.done()
    return (title or h1), sections

def text_sections(text, title=''):
    s = Sectioner(title)
    s.add(text)
    return s.done()

KINDS = {'.md': 'markdown', '.markdown': 'markdown', '.qmd': 'markdown', '.mdx': 'markdown', '.rst': 'rst', '.txt': 'text',
         '.html': 'html', '.htm': 'html', '.ipynb': 'notebook'}

def split_page(url, kind, raw: bytes, title=''):
    "Parse one page's bytes into a Page; raises ValueError for what cannot be read as docs."
    text = raw.decode('utf-8', errors='replace')
    match kind:
        case 'html': title, sections = html_sections(text, title)
        case 'markdown': title, sections = markdown_sections(text, title)
        case 'notebook': title, sections = markdown_sections(notebook_markdown(text), title)
        case 'rst': title, sections = rst_sections(text, title)
        case 'text': title, sections = text_sections(text, title)
        case _: raise ValueError(f'not a docs page ({kind})')
    return Page(url, title or url.rsplit('/', 1)[-1], sections)

def _split_job(job):
    url, kind, raw, title = job
    try: return split_page(url, kind, raw, title), None
    except Exception as e: return None, f'{type(e).__name__}: {e}'

# ---- Sources: local folders and files, and URLs ----

def path_and_base(spec):
    "A local source spec: a folder or file, optionally `PATH=BASE_URL` to link its pages to where they are published."
    path, _, base = spec.partition('=') if '=' in spec and not is_url(spec) else (spec, '', '')
    return Path(path).expanduser(), base

def is_url(s): return urlsplit(s).scheme in ('http', 'https')

LOCAL = '/docs-page/'  # pages of local docs with no published URL are served by askdocs itself, under this path

def base_hosts(specs):
    "Hosts the docs are published on: links to them open in the top window, images from them are shown."
    return tuple(h for spec in specs if (h := urlsplit(spec if is_url(spec) else path_and_base(spec)[1]).hostname))

def local_files(spec):
    "(url, kind, path) for every docs file under a folder or file spec. Without a base URL, pages link to /docs-page/."
    path, base = path_and_base(spec)
    if not path.exists(): raise FileNotFoundError(f'{path} does not exist')
    root = path if base and path.is_dir() else path.parent
    files = sorted(p for p in path.rglob('*') if p.suffix.lower() in KINDS and not any(part.startswith(('.', '_')) and part not in ('_build',) for part in p.relative_to(root).parts[:-1])) if path.is_dir() else [path]
    for f in files:
        rel = f.relative_to(root).as_posix()
        url = urljoin(base if base.endswith('/') else base + '/', rel) if base else f'{LOCAL}{rel}'
        yield url, KINDS.get(f.suffix.lower(), 'unknown'), f

async def fetch_site(start, max_pages=2000, concurrency=4, timeout=15.0, progress=None):
    "Fetch a page, a sitemap (or sitemap index), llms.txt or llms-full.txt; yields (url, kind, bytes) and (url, error)."
    import httpx
    site = urlsplit(start).netloc
    same_site = lambda u: urlsplit(u).netloc == site and is_url(u)
    sem, seen, results = asyncio.Semaphore(concurrency), set(), []
    headers = {'User-Agent': 'askdocs-indexer (+https://github.com/askdocs)'}
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, headers=headers) as client:
        async def get(url):
            async with sem:
                r = await client.get(url)
                r.raise_for_status()
                return r
        async def page(url):
            url = urldefrag(url)[0]
            if url in seen or len(seen) >= max_pages or not same_site(url): return
            seen.add(url)
            try:
                r = await get(url)
                ctype = r.headers.get('content-type', '').split(';')[0].strip().lower()
                path = urlsplit(url).path.lower()
                if path.endswith('.xml') or ctype in ('application/xml', 'text/xml'): return await sitemap(url, r.content)
                if path.endswith('/llms.txt'): return await llms(url, r.text)
                kind = ('html' if 'html' in ctype else 'markdown' if path.endswith(('.md', '.txt')) or ctype == 'text/markdown'
                        else 'notebook' if path.endswith('.ipynb') else 'text' if ctype == 'text/plain' else None)
                if kind is None: raise ValueError(f'not a docs page (content-type {ctype or "unknown"})')
                results.append((url, kind, r.content))
                if progress: progress(len(results))
            except Exception as e: results.append((url, f'{type(e).__name__}: {e}'.strip(': ')))
        async def sitemap(url, body):
            root = ElementTree.fromstring(body)
            locs = [e.text.strip() for e in root.iter() if e.tag.endswith('loc') and e.text]
            await asyncio.gather(*[page(l) for l in locs])
        async def llms(url, text):
            links = [urljoin(url, l) for l in re.findall(r'\]\(([^)\s]+)\)', text)]
            await asyncio.gather(*[page(l) for l in links])
        await page(start)
    return results

# ---- The index ----

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (id INTEGER PRIMARY KEY, url TEXT UNIQUE NOT NULL, title TEXT NOT NULL, hash TEXT NOT NULL,
                                  source TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT '');
CREATE VIRTUAL TABLE IF NOT EXISTS sections USING fts5(title, heading, body, url UNINDEXED,
                                                        tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# A section's rowid is its page id shifted left, plus its position: a page's sections are deleted by rowid range.
SHIFT = 20
WEIGHTS = (10.0, 5.0, 1.0)  # BM25 weights of title, heading path, body
STOP = set('a an and are as at be but by can do does for from how i if in into is it its me my of on or so that the their '
           'them then there these this to was what when where which who why will with you your should would could get'.split())

def page_hash(raw: bytes): return hashlib.blake2b(raw, digest_size=16).hexdigest()

def fts_terms(q):
    "The question's words as quoted FTS5 terms, without stop words (unless that leaves none)."
    words = [w for w in re.findall(r'\w+', q.lower()) if len(w) > 1 or w.isdigit()]
    keep = [w for w in words if w not in STOP] or words
    return [f'"{w}"' for w in dict.fromkeys(keep)]

class DocsIndex:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.local = threading.local()
        self.db.executescript(SCHEMA)

    @property
    def db(self):
        "A connection per thread: a search never runs inside the background build's open transaction, nor shares a cursor."
        if (db := getattr(self.local, 'db', None)) is None:
            db = self.local.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute('PRAGMA journal_mode=WAL')
        return db

    def __len__(self): return self.db.execute('SELECT count(*) FROM pages').fetchone()[0]

    @contextmanager
    def lock(self, wait=True):
        "One builder at a time across processes (several workers may start at once); yields False if busy and not waiting."
        with open(self.path.with_suffix('.lock'), 'a') as f:
            try: fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try: yield True
            finally: fcntl.flock(f, fcntl.LOCK_UN)

    @property
    def building(self):
        with self.lock(wait=False) as got: return not got

    def meta(self, key, default=''):
        row = self.db.execute('SELECT value FROM meta WHERE key=?', (key,)).fetchone()
        return row[0] if row else default

    def page(self, url):
        row = self.db.execute('SELECT url, title, source, kind FROM pages WHERE url=?', (url,)).fetchone()
        return dict(zip(('url', 'title', 'source', 'kind'), row)) if row else None

    def search(self, query, k=5, per_page=1) -> list[Hit]:
        terms = fts_terms(query)
        if not terms: return []
        # Rank first, then build snippets for the few rows kept: snippet() on every match costs more than the ranking.
        # Sections with two or more of the question's words first: ranking every section that has any one of them
        # (thousands, for words like "file") is most of a search's time. Fall back to any word when that finds too little.
        sql = 'SELECT rowid, url FROM sections WHERE sections MATCH ? ORDER BY bm25(sections, ?, ?, ?) LIMIT ?'
        ranked = []
        if 3 <= len(terms) <= 6:  # more words make the pair query cost more than it saves
            ranked = self.db.execute(sql, (' OR '.join(f'({a} AND {b})' for a, b in combinations(terms, 2)), *WEIGHTS, k * 6)).fetchall()
            if len({url.split('#')[0] for _, url in ranked}) < k: ranked = []
        q = ' OR '.join(terms)
        ranked = ranked or self.db.execute(sql, (q, *WEIGHTS, k * 6)).fetchall()
        keep, per = [], {}
        for rowid, url in ranked:
            page = url.split('#')[0]
            if per.get(page, 0) >= per_page or any(u == url for _, u in keep): continue
            per[page] = per.get(page, 0) + 1
            keep.append((rowid, url))
            if len(keep) == k: break
        if not keep: return []
        ids = [r for r, _ in keep]
        rows = {r[0]: r[1:] for r in self.db.execute(
            f"SELECT rowid, title, heading, url, snippet(sections, 2, char(2), char(3), '…', 40), body FROM sections "
            f"WHERE sections MATCH ? AND rowid IN ({','.join('?' * len(ids))})", (q, *ids))}
        return [Hit(*rows[r]) for r in ids if r in rows]

    def update(self, sources, progress=None, workers=None, wait=True) -> Summary | None:
        """Index `sources` (folder, file or URL specs) in one transaction, so readers see the old index or the new one,
        never half of it. Unchanged pages (by content hash) are skipped; pages no longer in the sources are removed.
        With `wait=False`, returns None at once if another process is indexing."""
        with self.lock(wait) as mine: return self._update(sources, progress, workers) if mine else None

    def _update(self, sources, progress, workers) -> Summary:
        t0, summary = time.monotonic(), Summary()
        known = {url: (pid, h) for pid, url, h in self.db.execute('SELECT id, url, hash FROM pages')}
        jobs, seen = [], set()
        for spec in sources:
            try:
                if is_url(spec):
                    for item in asyncio.run(fetch_site(spec, progress=progress and (lambda n: n % 50 or progress('fetched', n, 0)))):
                        if len(item) == 2: summary.failed.append(item); continue  # (url, error); pages are (url, kind, bytes)
                        jobs.append((*item, spec, ''))
                else:
                    for url, kind, f in local_files(spec): jobs.append((url, kind, f, spec, ''))
            except Exception as e: summary.failed.append((spec, f'{type(e).__name__}: {e}'))
        todo = []
        for url, kind, raw, spec, title in jobs:
            if url in seen: continue
            seen.add(url)
            try: data = raw.read_bytes() if isinstance(raw, Path) else raw
            except OSError as e: summary.failed.append((url, str(e))); continue
            h = page_hash(data)
            if url in known and known[url][1] == h: summary.skipped += 1; continue
            todo.append(((url, kind, data, title), h, str(raw) if isinstance(raw, Path) else spec))
        parsed = []
        for i, result in enumerate(self._parse([j for j, _, _ in todo], workers), 1):
            parsed.append(result)
            if progress and (i % 50 == 0 or i == len(todo)): progress('parsed', i, len(todo))
        db = self.db
        db.execute('BEGIN IMMEDIATE')
        try:
            for ((url, kind, _, _), h, src), (page, err) in zip(todo, parsed):
                if err: summary.failed.append((url, err)); seen.discard(url); continue
                pid = known[url][0] if url in known else None
                if pid is not None: self._delete(pid)
                pid = db.execute('INSERT INTO pages (id, url, title, hash, source, kind) VALUES (?, ?, ?, ?, ?, ?) '
                                 'ON CONFLICT(url) DO UPDATE SET title=excluded.title, hash=excluded.hash RETURNING id',
                                 (pid, url, page.title, h, src, kind)).fetchone()[0]
                db.executemany('INSERT INTO sections (rowid, title, heading, body, url) VALUES (?, ?, ?, ?, ?)',
                               [((pid << SHIFT) + i, page.title, s.heading, s.text, f'{url}#{s.anchor}' if s.anchor else url)
                                for i, s in enumerate(page.sections)])
                summary.pages += 1
                summary.sections += len(page.sections)
            failed_urls = {u for u, _ in summary.failed}
            for url, (pid, _) in known.items():
                if url not in seen and url not in failed_urls:  # a page that failed this time keeps its old sections
                    self._delete(pid)
                    db.execute('DELETE FROM pages WHERE id=?', (pid,))
                    summary.removed += 1
            db.execute("INSERT OR REPLACE INTO meta VALUES ('built', ?)", (str(time.time()),))
            db.execute('COMMIT')
        except BaseException:
            db.execute('ROLLBACK')
            raise
        summary.seconds = time.monotonic() - t0
        return summary

    def _delete(self, pid):
        self.db.execute('DELETE FROM sections WHERE rowid >= ? AND rowid < ?', (pid << SHIFT, (pid + 1) << SHIFT))

    @staticmethod
    def _parse(jobs, workers):
        "Parse pages in order, over all cores when there are many (HTML extraction is most of an index build)."
        workers = workers or min(len(jobs) // 50, os.cpu_count() or 1)
        if workers < 2: yield from map(_split_job, jobs); return
        with ProcessPoolExecutor(workers) as pool: yield from pool.map(_split_job, jobs, chunksize=16)
