"""The docs index: extraction per generator, incremental updates, crawling over loopback, and answers grounded in it."""
import http.server, json, re, subprocess, sys, threading, time

import httpx, pytest

from conftest import ROOT, assert_inert, ask, events
from docsindex import DocsIndex, html_sections, markdown_sections, notebook_markdown, rst_sections

def page(main, title='Page — Site', chrome=''):
    return f'<!doctype html><html><head><title>{title}</title><script>var x = "SCRIPT";</script></head><body>{chrome}{main}</body></html>'

NAV = '<nav>NAVIGATION sidebar links</nav><header class="md-header">HEADER</header>'
FOOT = '<footer>FOOTER copyright</footer>'
SPHINX = page('<div class="related">RELATED</div><div class="document"><div class="body" role="main"><section id="install">'
              '<h1>Install<a class="headerlink" href="#install">¶</a></h1><p>Run the installer.</p><section id="linux"><h2>On Linux'
              '<a class="headerlink" href="#linux">¶</a></h2><div class="highlight-python"><pre>pip install thing\n  # keep</pre></div>'
              '<dl class="py function"><dt id="thing.run">thing.run(x)</dt><dd><p>Runs the thing.</p></dd></dl></section></section>'
              '</div></div><div class="sphinxsidebar">SIDEBAR</div>' + FOOT, chrome=NAV)
MKDOCS = page('<div class="md-content"><article class="md-content__inner md-typeset"><a class="md-content__button">EDIT THIS PAGE</a>'
              '<h1 id="setup">Setup</h1><p>Configure it.</p><h2 id="options">Options<a class="headerlink" href="#options">¶</a></h2>'
              '<p>All the options.</p></article></div>' + FOOT, chrome=NAV)
QUARTO = page('<main class="content" id="quarto-document-content"><header id="title-block-header"><h1 class="title">Guide</h1></header>'
              '<section id="usage" class="level2"><h2 class="anchored" data-anchor-id="usage">Usage</h2><p>Use it well.</p>'
              '<div class="sourceCode"><pre class="sourceCode python"><code class="sourceCode python">print(1)</code></pre></div>'
              '</section></main><div id="quarto-margin-sidebar">ON THIS PAGE</div>', chrome=NAV)
DOCUSAURUS = page('<main><div class="theme-doc-breadcrumbs">BREADCRUMBS</div><article><div class="theme-doc-markdown markdown">'
                  '<header><h1>Intro</h1></header><p>Welcome.</p><h2 class="anchor" id="next-steps">Next steps<a class="hash-link" '
                  'href="#next-steps">#</a></h2><p>Read more.</p></div><div class="theme-doc-footer">EDIT THIS PAGE</div></article>'
                  '<nav class="pagination-nav">NEXT PAGE</nav></main>', chrome=NAV)
PLAIN = page('<h1>Plain</h1><p>Just text.</p><h2 id="more">More</h2><p>Even more.</p>' + FOOT, chrome=NAV)

@pytest.mark.parametrize('html, title, headings, anchors, text', [
    (SPHINX, 'Page — Site', ['Install', 'Install › On Linux', 'Install › On Linux › thing.run'], ['install', 'linux', 'thing.run'],
     ['Run the installer.', '```python\npip install thing\n  # keep\n```', 'Runs the thing.']),
    (MKDOCS, 'Page — Site', ['Setup', 'Setup › Options'], ['setup', 'options'], ['Configure it.', 'All the options.']),
    (QUARTO, 'Page — Site', ['Guide', 'Guide › Usage'], ['', 'usage'], ['Use it well.', '```python\nprint(1)\n```']),
    (DOCUSAURUS, 'Page — Site', ['Intro', 'Intro › Next steps'], ['', 'next-steps'], ['Welcome.', 'Read more.']),
    (PLAIN, 'Page — Site', ['Plain', 'Plain › More'], ['', 'more'], ['Just text.', 'Even more.'])])
def test_html_extraction_keeps_content_drops_chrome(html, title, headings, anchors, text):
    t, sections = html_sections(html)
    assert t == title
    assert [s.heading for s in sections if s.heading] == headings
    assert [s.anchor for s in sections if s.heading] == anchors
    body = '\n'.join(s.text for s in sections)
    for piece in text: assert piece in body
    for chrome in ('NAVIGATION', 'FOOTER', 'SIDEBAR', 'RELATED', 'EDIT THIS PAGE', 'ON THIS PAGE', 'BREADCRUMBS', 'NEXT PAGE', 'SCRIPT', '¶'):
        assert chrome not in body

def test_markdown_sections_follow_headings_and_keep_code_intact():
    md = '---\ntitle: From Front Matter\n---\nIntro text.\n\n# Top\n\nBody.\n\n```bash\n# not a heading\necho hi\n```\n\nSetext\n------\n\nUnder setext.\n\n### Deep {#custom-id}\n\nDeep text.'
    title, sections = markdown_sections(md)
    assert title == 'From Front Matter'
    assert [(s.heading, s.anchor) for s in sections] == [('', ''), ('Top', 'top'), ('Top › Setext', 'setext'), ('Top › Setext › Deep', 'custom-id')]
    assert '```bash\n# not a heading\necho hi\n```' in sections[1].text

def test_long_sections_are_split_without_breaking_code_blocks():
    code = '```python\n' + '\n\n'.join(f'x{i} = {i}' for i in range(200)) + '\n```'
    _, sections = markdown_sections('# Big\n\n' + '\n\n'.join(['word ' * 100] * 10) + '\n\n' + code)
    assert len(sections) > 2 and all(s.heading == 'Big' for s in sections)
    assert sum(s.text.count('```') for s in sections) == 2 and any(code in s.text for s in sections)

def test_rst_and_notebooks():
    _, sections = rst_sections('=====\nTitle\n=====\n\nIntro.\n\nUsage\n-----\n\nUse it.\n')
    assert [(s.heading, s.anchor) for s in sections] == [('Title', 'title'), ('Title › Usage', 'usage')]
    nb = json.dumps({'metadata': {'kernelspec': {'language': 'python'}}, 'cells': [
        {'cell_type': 'markdown', 'source': ['# Notebook\n', 'Explained.']}, {'cell_type': 'code', 'source': 'print(42)'}]})
    md = notebook_markdown(nb)
    assert '# Notebook' in md and '```python\nprint(42)\n```' in md

@pytest.fixture
def docs(tmp_path):
    d = tmp_path / 'docs'
    (d / 'guide').mkdir(parents=True)
    (d / 'index.md').write_text('# Welcome\n\nThe frobnicator turns widgets into gadgets.\n\n## Install\n\nRun `pip install frob`.\n')
    (d / 'guide' / 'config.md').write_text('# Configuration\n\n## Colours\n\nSet FROB_COLOUR to choose the colour of the gadgets.\n')
    (d / 'guide' / 'api.html').write_text(SPHINX)
    (d / 'broken.ipynb').write_text('{not json')
    (d / '.hidden').mkdir()
    (d / '.hidden' / 'secret.md').write_text('# Secret\n\nfrobnicator password')
    return d

def test_index_finds_sections_with_deep_links_and_skips_broken_pages(docs, tmp_path):
    ix = DocsIndex(tmp_path / 'ix.db')
    s = ix.update([str(docs)])
    assert (s.pages, s.skipped, len(s.failed)) == (3, 0, 1)
    assert 'broken.ipynb' in s.failed[0][0]
    [hit, *_] = ix.search('what colour are the gadgets?')
    assert hit.url == '/docs-page/docs/guide/config.md#colours' and hit.heading == 'Configuration › Colours'
    assert '\x02colour\x03' in hit.excerpt.lower()
    assert not [h for h in ix.search('password') if 'secret' in h.url]

def test_reindex_skips_unchanged_pages_and_removes_deleted_ones(docs, tmp_path):
    ix = DocsIndex(tmp_path / 'ix.db')
    ix.update([str(docs)])
    (docs / 'guide' / 'config.md').write_text('# Configuration\n\n## Colours\n\nThe palette is now set with FROB_PALETTE.\n')
    (docs / 'index.md').unlink()
    s = ix.update([str(docs)])
    assert (s.pages, s.skipped, s.removed) == (1, 1, 1)
    assert ix.search('palette') and not ix.search('frobnicator widgets')

def test_published_base_url_makes_links_absolute(docs, tmp_path):
    ix = DocsIndex(tmp_path / 'ix.db')
    ix.update([f'{docs}=https://frob.example/docs/'])
    assert ix.search('colour gadgets')[0].url == 'https://frob.example/docs/guide/config.md#colours'

def test_readers_never_see_a_half_built_index(docs, tmp_path):
    ix = DocsIndex(tmp_path / 'ix.db')
    ix.update([str(docs)])
    for i in range(150): (docs / f'extra{i}.md').write_text(f'# Extra {i}\n\nMore gadgets number {i}.\n')
    counts, stop = set(), threading.Event()
    def read():  # through the same index object, as the server searches while its background build runs
        while not stop.is_set(): counts.add(len(ix))
    t = threading.Thread(target=read)
    t.start()
    ix.update([str(docs)])
    stop.set()
    t.join()
    assert counts <= {3, 153} and 3 in counts  # the old index or the new one, nothing in between

class Site(http.server.SimpleHTTPRequestHandler):
    "A docs site on loopback: a sitemap index, an llms.txt, a slow page and an image."
    def log_message(self, *a): pass
    def do_GET(self):
        host = f'http://127.0.0.1:{self.server.server_port}'
        pages = {
            '/sitemap.xml': ('application/xml', f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{host}/sitemap-docs.xml</loc></sitemap></sitemapindex>'),
            '/sitemap-docs.xml': ('application/xml', f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{host}/a.html</loc></url>'
                                  f'<url><loc>{host}/slow.html</loc></url><url><loc>{host}/logo.png</loc></url><url><loc>https://elsewhere.example/x</loc></url></urlset>'),
            '/a.html': ('text/html', MKDOCS), '/b.md': ('text/markdown', '# Bee\n\nBuzzing bees.'),
            '/llms.txt': ('text/plain', f'# Site\n\n> Docs.\n\n## Docs\n\n- [Bee]({host}/b.md): bees\n- [A](/a.html)\n'),
            '/logo.png': ('image/png', 'PNG')}
        if self.path == '/slow.html': time.sleep(3)
        ctype, body = pages.get(self.path, ('text/html', PLAIN))
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        self.end_headers()
        self.wfile.write(body.encode())

@pytest.fixture
def site():
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Site)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_port}'
    srv.shutdown()

def test_crawl_follows_sitemap_index_and_reports_failures(site, tmp_path, monkeypatch):
    import docsindex
    monkeypatch.setattr(docsindex, 'fetch_site', lambda start, **kw: _fetch(start, timeout=1.0, **kw))
    ix = DocsIndex(tmp_path / 'ix.db')
    s = ix.update([f'{site}/sitemap.xml'])
    assert s.pages == 1 and ix.search('options')[0].url == f'{site}/a.html#options'
    failed = dict(s.failed)
    assert 'Timeout' in failed[f'{site}/slow.html'] and 'not a docs page' in failed[f'{site}/logo.png']
    assert not [u for u in failed if 'elsewhere' in u]  # other sites are not crawled, nor reported

_fetch = __import__('docsindex').fetch_site

def test_llms_txt_indexes_the_pages_it_lists(site, tmp_path):
    ix = DocsIndex(tmp_path / 'ix.db')
    s = ix.update([f'{site}/llms.txt'])
    assert s.pages == 2 and not s.failed
    assert ix.search('buzzing')[0].url == f'{site}/b.md#bee'

def test_index_cli_reports_a_summary(docs, tmp_path):
    import os
    r = subprocess.run([sys.executable, 'main.py', 'index', str(docs)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, 'ASKDOCS_DATA': str(tmp_path / 'data')})
    assert r.returncode == 0
    assert '3 pages indexed' in r.stdout and '1 failed' in r.stdout and 'broken.ipynb' in r.stderr

def test_model_searches_the_docs_and_cites_them(server, docs, tmp_path):
    s = server(data=tmp_path / 'data', ASKDOCS_DOCS=str(docs))
    with httpx.Client(base_url=s.url, timeout=30) as c:
        wait_indexed(c)
        _, url, _ = ask(c, 'how do I pick a colour? [[tool:gadget colour]]')
        evs = events(c, url)
    statuses = [d for e, d in evs if e == 'status']
    assert statuses and 'Searching the docs for “gadget colour”' in statuses[0]
    done = evs[-1][1]
    assert evs[-1][0] == 'done' and 'Sources' in done
    assert re.search(r'<a href="/docs-page/docs/guide/config.md#colours" target="_top"[^>]*>Configuration › Colours</a>', done)

def test_docs_only_answer_streams_escaped_highlighted_excerpts(server, docs, tmp_path):
    (docs / 'evil.md').write_text('# Gadgets <script>alert(1)</script>\n\nGadgets [x](javascript:alert(1)) <img src=x onerror=alert(1)> **gadgets**\n')
    s = server(data=tmp_path / 'data', ASKDOCS_DOCS=str(docs), ASKDOCS_MODEL='')
    with httpx.Client(base_url=s.url, timeout=30) as c:
        wait_indexed(c)
        _, url, _ = ask(c, 'gadgets')
        evs = events(c, url)
        page = c.get('/docs-page/docs/guide/config.md')
    assert evs[-1][0] == 'done'
    answer = evs[-1][1].split('answer-final">', 1)[1].split('chat-footer', 1)[0]
    assert_inert(answer)
    assert '<strong>Gadgets</strong>' in answer and 'Search results from the docs' in evs[-1][1]
    assert page.status_code == 200 and 'id="colours"' in page.text

def wait_indexed(c):
    for _ in range(200):  # the first start indexes in the background; poll its health until the pages are in
        if c.get('/healthz').json()['docs_pages']: return
        time.sleep(0.05)
    raise AssertionError('the docs were not indexed')
