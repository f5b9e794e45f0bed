"""A real Sphinx site on loopback: the Python docs (apt-get install python3.11-doc) with the widget's script tag added
to every page, as a docs author adds it; `?plain` in a URL serves the page as it is. For the browser tests and
benchmarks/bench_browser.py."""
import functools, threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SPHINX = Path('/usr/share/doc/python3.11/html')

class WithTag(SimpleHTTPRequestHandler):
    tag = b''
    def log_message(self, *a): pass
    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.suffix != '.html' or not path.exists(): return super().do_GET()
        body = path.read_bytes()
        if '?plain' not in self.path: body = body.replace(b'</body>', self.tag + b'</body>')
        self.send_response(200)
        self.send_header('Content-Type', 'text/html; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

def serve(tag: str) -> ThreadingHTTPServer:
    "The docs with `tag` in every page, served in a thread; call shutdown() and server_close() when done."
    handler = type('H', (WithTag,), dict(tag=tag.encode()))
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(handler, directory=str(SPHINX)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
