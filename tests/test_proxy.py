"""Behind Debian's nginx with its default buffering, as many deployments are: tokens still arrive as they are made,
and the loader still knows the https origin readers use."""
import os, subprocess, time
from pathlib import Path

import httpx, pytest
from httpx_sse import connect_sse

from conftest import ask, free_port

NGINX = '/usr/sbin/nginx'
if not Path(NGINX).exists():
    if os.environ.get('CI'): raise RuntimeError(f'no {NGINX}: CI must run the proxy tests (scripts/setup.sh --test installs it)')
    pytest.skip(f'no {NGINX} (apt-get install nginx-light)', allow_module_level=True)

CONF = """
worker_processes 1;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  sendfile on; tcp_nopush on; gzip on;  # as in Debian's /etc/nginx/nginx.conf
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;  # as if nginx terminated TLS
    }}
  }}
}}
"""

@pytest.fixture(scope='module')
def proxied(shared_server, tmp_path_factory):
    d, port = tmp_path_factory.mktemp('nginx'), free_port()
    (d / 'nginx.conf').write_text(CONF.format(d=d, port=port, upstream=shared_server.port))
    proc = subprocess.Popen([NGINX, '-p', str(d), '-c', str(d / 'nginx.conf'), '-g', 'daemon off;'], stderr=subprocess.PIPE)
    url = f'http://127.0.0.1:{port}'
    for _ in range(200):  # start-up polling
        try:
            httpx.get(f'{url}/healthz', timeout=1)
            break
        except httpx.TransportError: time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)

def test_tokens_arrive_progressively_through_a_buffering_proxy(proxied):
    with httpx.Client(base_url=proxied, timeout=30) as c:
        _, url, _ = ask(c, 'through nginx [[tokens:20]] [[pace:0.1]]')
        seen = []
        with connect_sse(c, 'GET', url) as src:
            for e in src.iter_sse(): seen.append((time.monotonic(), e.event))
    times = [t for t, e in seen if e == 'message']
    assert seen[-1][1] == 'done' and len(times) >= 5
    assert times[-1] - times[0] > 1.0  # spread over the ~2 s of generation, not delivered in one lump at the end

def test_loader_knows_the_https_origin_behind_a_tls_proxy(proxied):
    js = httpx.get(f'{proxied}/embed').text
    assert f'"origin": "https://127.0.0.1:{proxied.rsplit(":", 1)[1]}"' in js
