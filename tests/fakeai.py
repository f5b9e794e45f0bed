"""A local OpenAI-compatible chat server, so tests run the real lisette -> litellm -> HTTP path with no network.

The last user message steers it with directives in double brackets:
  [[tokens:N]] answer with N words      [[pace:S]] wait S seconds between words   [[delay:S]] before the first word
  [[status:429]] fail with that status  [[drop:K]] cut the connection after K words [[script:NAME]] stream chunks set
  with POST /_scripts/NAME             [[malformed]] send a chunk that is not JSON
  [[fail:KEY]] fail with a 500 until POST /_heal/KEY, then answer
  [[tool:QUERY]] call the search_docs tool with QUERY, then answer citing the first URL it returned
  [[md:N]] answer with N tokens of a realistic Markdown answer (about 4 characters a token, as real tokenizers cut)
Every request is recorded; GET /_requests lists their bodies, GET /_timings when each streamed answer's request came
in and its first word went out.
"""
import asyncio, json, re, threading, time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

requests_seen: list[dict] = []
abandoned: list[str] = []  # last user messages of streams the client closed before the end
scripts: dict[str, list[str]] = {}
healed: set[str] = set()
timings: list[dict] = []  # per streamed answer: when the request came in and the first word went out (perf_counter)

def directives(text):
    return {k: v for k, v in re.findall(r'\[\[(\w+)(?::([^\]]*))?\]\]', text)}

def last_user(body):
    msgs = [m for m in body['messages'] if m['role'] == 'user']
    c = msgs[-1]['content'] if msgs else ''
    return c if isinstance(c, str) else ' '.join(p.get('text', '') for p in c)

# A docs answer in the shape models write them: paragraphs, inline code, a link, a list, a fenced code block.
SAMPLE = '''To change the model, set `ASKDOCS_MODEL` to any provider and model that litellm knows, for example
`anthropic/claude-sonnet-4-5` or `openai/gpt-4o-mini`, and put the key in `ASKDOCS_API_KEY`. See
[Configuration](https://docs.example.com/config.html#model) for the full list of settings.

The server reads its settings once, when it starts:

1. **Environment**: every setting has an `ASKDOCS_` variable.
2. **Defaults**: without a model, answers are search results from the docs.
3. **Validation**: a wrong value stops the server with a message that names it.

```python
import os
os.environ["ASKDOCS_MODEL"] = "openai/gpt-4o-mini"
print("model:", os.environ["ASKDOCS_MODEL"])
```

After a restart, new answers use the new model; conversations that already exist keep their history.

'''
SAMPLE_TOKENS = re.findall(r' ?[A-Za-z]+| ?\d{1,3}|\s+|[^\w\s]+|_', SAMPLE)

def words_for(question, d):
    if 'script' in d: return scripts[d['script']]
    if 'md' in d: return [SAMPLE_TOKENS[i % len(SAMPLE_TOKENS)] for i in range(int(d['md']))]
    n = int(d.get('tokens', 12))
    q = re.sub(r'\[\[.*?\]\]', '', question).strip()
    base = f'You asked: **{q}**. ' if q else ''
    return [base] + [f'word{i} ' for i in range(n)]

def chunk(model, **delta):
    return {'id': 'chatcmpl-fake', 'object': 'chat.completion.chunk', 'created': int(time.time()), 'model': model,
            'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}]}

def frame(obj): return f'data: {json.dumps(obj)}\n\n'

async def completions(req: Request):
    received = time.perf_counter()  # CLOCK_MONOTONIC: comparable with other processes' perf_counter on Linux
    body = await req.json()
    requests_seen.append(body)
    d = directives(last_user(body))
    if 'fail' in d and d['fail'] not in healed: d['status'] = '500'
    if 'status' in d:
        code = int(d['status'])
        return JSONResponse({'error': {'message': f'fake error {code}', 'type': 'fake', 'code': code}}, status_code=code,
                            headers={'retry-after': '0'} if code == 429 else None)
    words, model = words_for(last_user(body), d), body.get('model', 'fake')
    tool_results = [m for m in body['messages'] if m['role'] == 'tool']
    if 'tool' in d and body.get('tools') and not tool_results and body.get('stream'):
        return StreamingResponse(tool_call(model, d['tool']), media_type='text/event-stream')
    if 'tool' in d and tool_results:
        found = re.search(r'URL: (\S+)', str(tool_results[-1]['content']))
        words = ['From the docs: ', f'see [this section]({found[1]}).' if found else 'nothing matched.']
    if not body.get('stream'):
        return JSONResponse({'id': 'x', 'object': 'chat.completion', 'created': 0, 'model': model,
                             'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': ''.join(words)}, 'finish_reason': 'stop'}],
                             'usage': {'prompt_tokens': 5, 'completion_tokens': len(words), 'total_tokens': 5 + len(words)}})
    async def gen():
        try:
            async for part in words_stream(): yield part
        except (asyncio.CancelledError, GeneratorExit):
            abandoned.append(last_user(body))
            raise
    async def words_stream():
        timing = dict(question=last_user(body), received=received)
        timings.append(timing)
        if 'delay' in d: await asyncio.sleep(float(d['delay']))
        yield frame(chunk(model, role='assistant', content=''))
        start = time.monotonic()
        for i, w in enumerate(words):
            if 'drop' in d and i == int(d['drop']): raise ConnectionError('fake provider dropped the connection')
            if 'malformed' in d and i == 2: yield 'data: {not json\n\n'
            yield frame(chunk(model, content=w))
            if i == 0: timing['first_word'] = time.perf_counter()
            # On a schedule, as a model produces tokens: a late word does not make every later word late too.
            if 'pace' in d: await asyncio.sleep(max(0.0, start + (i + 1) * float(d['pace']) - time.monotonic()))
        end = chunk(model)
        end['choices'][0]['finish_reason'] = 'stop'
        yield frame(end)
        yield frame({**chunk(model), 'choices': [], 'usage': {'prompt_tokens': 5, 'completion_tokens': len(words), 'total_tokens': 5 + len(words)}})
        yield 'data: [DONE]\n\n'
    return StreamingResponse(gen(), media_type='text/event-stream')

async def tool_call(model, query):
    args = json.dumps({'query': query})
    call = lambda **f: {'index': 0, 'id': 'call_fake1', 'type': 'function', 'function': f}
    yield frame(chunk(model, role='assistant', content=None, tool_calls=[call(name='search_docs', arguments='')]))
    for part in (args[:len(args) // 2], args[len(args) // 2:]):
        yield frame(chunk(model, tool_calls=[{'index': 0, 'function': {'arguments': part}}]))
    end = chunk(model)
    end['choices'][0]['finish_reason'] = 'tool_calls'
    yield frame(end)
    yield 'data: [DONE]\n\n'

async def set_script(req: Request):
    scripts[req.path_params['name']] = (await req.json())['chunks']
    return JSONResponse({'ok': True})

async def heal(req: Request):
    healed.add(req.path_params['key'])
    return JSONResponse({'ok': True})

async def list_requests(req: Request): return JSONResponse(requests_seen)

async def list_abandoned(req: Request): return JSONResponse(abandoned)

async def list_timings(req: Request): return JSONResponse(timings)

app = Starlette(routes=[Route('/v1/chat/completions', completions, methods=['POST']),
                        Route('/chat/completions', completions, methods=['POST']),
                        Route('/_scripts/{name}', set_script, methods=['POST']),
                        Route('/_heal/{key}', heal, methods=['POST']),
                        Route('/_requests', list_requests),
                        Route('/_abandoned', list_abandoned),
                        Route('/_timings', list_timings)])

def start(port=0):
    "Serve in a background thread; returns (base_url, server)."
    server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=port, log_level='warning', lifespan='off'))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started: time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f'http://127.0.0.1:{port}/v1', server

if __name__ == '__main__':
    import sys
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765, log_level="warning")
