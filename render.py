"""Markdown from the model, rendered on the server and cleaned with an allow-list before any browser sees it."""
import re
from html import escape
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

TAGS = {'p', 'br', 'hr', 'strong', 'em', 'del', 's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a', 'img',
        'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'mark', 'span'}
ATTRS = {'a': {'href', 'title'}, 'img': {'src', 'alt', 'title'}, 'code': {'class'}, 'ol': {'start'},
         'th': {'style'}, 'td': {'style'}}
LANG = re.compile(r'language-[\w+#.-]{1,30}')
ALIGN = re.compile(r'text-align:(left|right|center)')

def _keep_attr(tag, attr, value):
    if attr == 'class': return value if LANG.fullmatch(value) else None
    if attr == 'style': return value if ALIGN.fullmatch(value) else None
    return value

def host(url): return (urlsplit(url).hostname or '').lower()

class Renderer:
    """Renders markdown for one site: links to `docs_hosts` (or relative ones, which resolve to askdocs' own docs pages)
    open in the top window, images from other hosts become links. `anchors` gives headings the ids the index links to."""
    def __init__(self, docs_hosts=(), anchors=False):
        self.docs_hosts, self.attrs = {h.lower() for h in docs_hosts}, ATTRS
        if anchors:
            self.attrs = {**ATTRS, **{f'h{i}': {'id'} for i in range(1, 7)}}
        # js-default: no raw HTML passes through (markdown-it-py's default preset would let it)
        self.md = MarkdownIt('js-default')
        # markdown-it binds render rules to its renderer, so these take that renderer as `r`
        self.md.add_render_rule('link_open', lambda r, *a: self._link_open(*a))
        self.default_image = self.md.renderer.rules['image']
        self.md.add_render_rule('image', lambda r, *a: self._image(*a))
        if anchors: self.md.add_render_rule('heading_open', lambda r, *a: self._heading_open(*a))
        # Built once: nh3.clean() would convert the allow-list to Rust on every call.
        self.cleaner = nh3.Cleaner(tags=TAGS, attributes=self.attrs, attribute_filter=_keep_attr,
                                   tag_attribute_values={'a': {'target': {'_top', '_blank'}}}, url_schemes={'http', 'https', 'mailto'})

    def _heading_open(self, tokens, idx, options, env):
        from docsindex import slug
        tokens[idx].attrSet('id', slug(tokens[idx + 1].content))
        return self.md.renderer.renderToken(tokens, idx, options, env)

    def _link_open(self, tokens, idx, options, env):
        tok = tokens[idx]
        href = tok.attrGet('href') or ''
        tok.attrSet('target', '_top' if host(href) in self.docs_hosts or not urlsplit(href).scheme else '_blank')
        return self.md.renderer.renderToken(tokens, idx, options, env)

    def _image(self, tokens, idx, options, env):
        tok = tokens[idx]
        src, alt = tok.attrGet('src') or '', self.md.renderer.renderInlineAsText(tok.children, options, env)
        if host(src) in self.docs_hosts: return self.default_image(tokens, idx, options, env)
        # An image from elsewhere would be fetched as soon as it renders: a prompt-injected answer could
        # leak the conversation in its URL. As a link it is only fetched if the reader chooses to.
        return f'<a href="{escape(src)}" target="_blank">{escape(alt or src)}</a>'

    def __call__(self, text: str) -> str: return self.cleaner.clean(self.md.render(text))
