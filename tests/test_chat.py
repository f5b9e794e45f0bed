"""The chat page and POST /ask, through Starlette's TestClient, with fragments requested as htmx does."""
import re

from conftest import HX, ask, events, model_requests

def test_chat_page_has_header_starters_and_input(client):
    r = client.get('/chat-standalone')
    assert r.status_code == 200
    assert 'Ask Testdocs' in r.text
    assert 'New conversation' in r.text
    assert r.text.count('class="btn btn-sm btn-outline starter') == 2
    assert re.search(r'<main[^>]*role="log"[^>]*aria-live="polite"', r.text)
    assert re.search(r'<textarea[^>]*name="q"', r.text)

def test_chat_page_theme_override(client):
    assert 'data-theme="dark"' in client.get('/chat-standalone?theme=dark').text
    assert 'data-theme' not in client.get('/chat-standalone?theme=<script>').text

def test_ask_returns_bubbles_and_resets_input(client):
    conv, url, r = ask(client, 'How do I install it?')
    assert r.status_code == 200
    assert 'class="chat chat-end' in r.text and 'How do I install it?' in r.text
    assert 'class="chat chat-start' in r.text and url.startswith('/stream/')
    fields = re.search(r'<div hx-swap-oob="true" id="chat-fields".*?</div>', r.text, re.S)[0]
    assert '<textarea' in fields and re.search(r'<textarea[^>]*></textarea>', fields)
    assert len(conv) >= 22

def test_question_never_travels_in_a_url(client):
    conv, url, r = ask(client, 'secret-question-words')
    assert 'secret' not in url
    assert all('secret' not in u for u in re.findall(r'(?:hx-post|sse-connect|href)="([^"]*)"', r.text))

def test_empty_question_does_nothing(client):
    for q in ('', '   \n '):
        r = client.post('/ask', data=dict(q=q, conv=''), headers=HX)
        assert r.status_code == 204 and r.text == ''

def test_long_question_is_refused_and_kept_in_the_box(client):
    r = client.post('/ask', data=dict(q='x' * 2001, conv=''), headers=HX)
    assert r.status_code == 422
    assert r.headers['HX-Reswap'] == 'none'
    assert 'under 2,000 characters' in r.text and 'id="chat-error"' in r.text
    assert 'chat-fields' not in r.text  # the textarea is not replaced, so the reader's text stays
    assert ask(client, 'y' * 2000)[2].status_code == 200

def test_unknown_conversation_is_404_not_a_new_one(client):
    r = client.post('/ask', data=dict(q='hello', conv='not-a-real-conversation-id'), headers=HX)
    assert r.status_code == 404 and 'no longer exists' in r.text

def test_body_over_the_limit_is_refused_before_parsing(client):
    r = client.post('/ask', data=dict(q='x' * 70_000, conv=''), headers=HX)
    assert r.status_code == 413 and 'too large' in r.text

def test_page_resumes_a_conversation_by_id(client):
    conv, url, _ = ask(client, 'first question [[tokens:3]]')
    evs = events(client, url)
    assert evs[-1][0] == 'done'
    page = client.get(f'/chat-standalone?conv={conv}').text
    assert 'first question' in page and 'word2' in page
    assert f'value="{conv}"' in page
    fresh = client.get('/chat-standalone?conv=unknown-id').text
    assert 'first question' not in fresh and 'value="unknown-id"' not in fresh

def test_second_question_sends_history_to_the_model(client):
    conv, url, _ = ask(client, 'histA first [[tokens:2]]')
    events(client, url)
    _, url2, _ = ask(client, 'histB second [[tokens:2]]', conv)
    events(client, url2)
    [req] = model_requests('histB')
    contents = [m['role'] + ':' + str(m['content']) for m in req['messages']]
    assert any('user:histA first' in c for c in contents)
    assert any(c.startswith('assistant:') and 'word1' in c for c in contents)
    assert req['messages'][0]['role'] == 'system' and 'Testdocs' in req['messages'][0]['content']

def test_no_cookie_is_needed_or_set(client):
    r = client.get('/chat-standalone')
    assert 'set-cookie' not in r.headers
    conv, url, r = ask(client, 'cookieless [[tokens:2]]')
    assert 'set-cookie' not in r.headers
    client.cookies.clear()
    assert events(client, url)[-1][0] == 'done'

def test_stream_of_another_conversation_is_refused(client):
    conv_a, url_a, _ = ask(client, 'private question of A [[tokens:2]]')
    conv_b, _, _ = ask(client, 'B asks [[tokens:2]]')
    token = url_a.rsplit('/', 1)[1]
    evs = events(client, f'/stream/{conv_b}/{token}')
    assert [e for e, _ in evs] == ['error']
    assert 'private' not in evs[0][1] and 'does not exist' in evs[0][1]

def test_stop_and_retry_of_unknown_answers_are_404(client):
    assert client.post('/stop/nope/nope', headers=HX).status_code == 404
    assert client.post('/retry/nope/nope', headers=HX).status_code == 404

def test_healthz(client):
    h = client.get('/healthz').json()
    assert h['ok'] is True and h['model'] == 'openai/fake' and isinstance(h['docs_pages'], int) and h['pid'] > 0

def test_demo_page_embeds_the_real_script_tag(client):
    r = client.get('/')
    assert r.status_code == 200
    assert re.search(r'<script src="/embed" defer></script>', r.text)

def test_embed_loader_is_javascript_that_knows_its_server(client):
    r = client.get('/embed', headers={'x-forwarded-proto': 'https'})
    assert r.headers['content-type'].startswith('application/javascript')
    assert '__ASKDOCS_CONFIG__' not in r.text and '"siteName": "Testdocs"' in r.text
    assert 'document.currentScript' in r.text

def test_chat_page_may_be_framed_by_any_site_by_default_and_runs_only_its_own_scripts(client):
    r = client.get('/chat-standalone')
    csp = dict(d.strip().split(' ', 1) for d in r.headers['content-security-policy'].split(';'))
    assert csp['frame-ancestors'] == '*' and 'x-frame-options' not in r.headers
    assert csp['script-src'] == "'self'" and csp['connect-src'] == "'self'" and csp['object-src'] == "'none'"

def test_allowed_origins_limit_who_may_frame_the_chat(server, tmp_path):
    import httpx
    s = server(data=tmp_path, ASKDOCS_ALLOWED_ORIGINS='https://docs.example.com, https://other.example.org')
    csp = httpx.get(f'{s.url}/chat-standalone').headers['content-security-policy']
    assert 'frame-ancestors https://docs.example.com https://other.example.org' in csp

def test_one_answer_at_a_time_per_conversation(client):
    conv, url, _ = ask(client, 'first [[tokens:2]]')
    r = client.post('/ask', data=dict(q='second', conv=conv), headers=HX)
    assert r.status_code == 429 and 'wait for the current answer' in r.text and r.headers['Retry-After']
    events(client, url)
    assert ask(client, 'third [[tokens:2]]', conv)[2].status_code == 200

def test_rate_limits_per_client_and_conversation_answer_429_with_retry_after(server, tmp_path):
    import httpx
    # uvicorn trusts X-Forwarded-For only from FORWARDED_ALLOW_IPS (loopback by default); here loopback is not the proxy.
    s = server(data=tmp_path, ASKDOCS_RATE_PER_IP='3', ASKDOCS_RATE_PER_CONVERSATION='2', FORWARDED_ALLOW_IPS='192.0.2.1')
    with httpx.Client(base_url=s.url) as c:
        codes = [c.post('/ask', data=dict(q=f'q{i} [[tokens:1]]', conv=''), headers={**HX, 'X-Forwarded-For': f'10.0.0.{i}'})
                 for i in range(4)]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]  # a spoofed X-Forwarded-For does not reset it
        assert 'Too many questions' in codes[-1].text and 0 < int(codes[-1].headers['Retry-After']) <= 61
    s2 = server(data=tmp_path / 'conv', ASKDOCS_RATE_PER_CONVERSATION='2')
    with httpx.Client(base_url=s2.url, timeout=30) as c:
        conv = ''
        for i in range(2):
            conv, url, r = ask(c, f'c{i} [[tokens:1]]', conv)
            events(c, url)
        assert ask(c, 'c2 [[tokens:1]]', conv)[2].status_code == 429
        assert ask(c, 'elsewhere [[tokens:1]]')[2].status_code == 200  # other conversations are not held back

def test_malformed_requests_get_4xx_never_a_500(client):
    from starlette.testclient import TestClient
    import main
    c = TestClient(main.app, raise_server_exceptions=False)
    form = {**HX, 'content-type': 'application/x-www-form-urlencoded'}
    cases = [dict(content=b'abc', headers={**HX, 'content-type': 'multipart/form-data'}),             # no boundary
             dict(content=(b'q=' + b'x' * 70_000 for _ in range(1)), headers=form),                   # chunked, too big
             dict(content=b'q=hi', headers={**form, 'content-length': 'lots'})]
    codes = [c.post('/ask', **kw).status_code for kw in cases]
    assert codes == [400, 413, 413]
    assert c.get('/ask').status_code == 405 and c.get('/stop/a/b').status_code == 405
    assert c.post('/ask', content=b'q=%ff%fe&conv=', headers=form).status_code == 200  # bad UTF-8 is replaced, not fatal
