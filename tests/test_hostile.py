"""Hostile input, several hundred payloads: as the reader's question and as the model's answer, nothing runs."""
import html, random

import httpx

from conftest import FAKE_URL, ask, assert_inert, events
from payloads import corpus

def test_every_payload_as_a_model_answer_renders_inert():
    import main
    for p in corpus(): assert_inert(main.render_md(p))

def test_every_payload_as_a_question_is_escaped_in_its_bubble():
    import main
    from fasthtml.common import to_xml
    for p in corpus(): assert_inert(to_xml(main.UserBubble(p)))

def test_the_whole_corpus_streamed_in_random_pieces_arrives_as_text_and_renders_inert(shared_server):
    text = '\n\n'.join(corpus())
    rnd, cuts, i = random.Random(4), [], 0
    while i < len(text):
        n = rnd.randint(1, 40)
        cuts.append(text[i:i + n])
        i += n
    name = f'corpus{rnd.randint(0, 10**9)}'
    httpx.post(FAKE_URL.removesuffix('/v1') + f'/_scripts/{name}', json=dict(chunks=cuts)).raise_for_status()
    with httpx.Client(base_url=shared_server.url, timeout=60) as c:
        _, url, _ = ask(c, f'[[script:{name}]]')
        evs = events(c, url)
    streamed = [d for e, d in evs if e == 'message']
    assert all('<' not in d for d in streamed)  # fragments are escaped text, never markup
    assert html.unescape(''.join(streamed)) == text
    assert evs[-1][0] == 'done'
    assert_inert(evs[-1][1].split('answer-final">', 1)[1].split('chat-footer', 1)[0])

def test_every_payload_as_a_question_over_http(shared_server):
    with httpx.Client(base_url=shared_server.url, timeout=60) as c:
        for p in corpus():
            if not p.strip(): continue
            r = c.post('/ask', data=dict(q=p, conv=''), headers={'HX-Request': '1'})
            assert r.status_code == 200, (p, r.status_code)
            assert_inert(r.text.split('chat-bubble-primary', 1)[1].split('</div>', 1)[0])
