"""The answer pipeline shared by the widget and the CLI: a lisette AsyncChat rebuilt per turn from stored history."""
import asyncio, functools, json, logging, os, re
from dataclasses import dataclass

os.environ.setdefault('LITELLM_LOCAL_MODEL_COST_MAP', 'True')  # else litellm fetches a price map when imported
log = logging.getLogger('askdocs')

@dataclass
class Event:
    kind: str  # 'text' (a fragment of the answer), 'status' (tool progress) or 'sources'
    data: object

class AnswerError(Exception):
    "A failure the reader can act on; its message is shown in the error bubble."

def system_prompt(site):
    return (f"You are the assistant on the documentation site of {site}, answering readers' questions in a small chat "
            f"widget. Use the search_docs tool to find the relevant parts of {site}'s documentation, and answer from what it "
            "returns; when the docs do not cover something, say so plainly instead of guessing. Cite the pages you used as "
            "Markdown links to the URLs the tool gave. Be concise, use Markdown, and put code in fenced blocks with a language.")

def md_escape(text):
    "Text shown verbatim inside Markdown: no markup from it takes effect."
    return re.sub(r'([\\`*_{}\[\]<>()#+!|~])', r'\\\1', ' '.join(text.split()))

def highlighted(excerpt):
    "An FTS5 snippet (matches between \\x02 and \\x03) as Markdown with the matches in bold, without source markup."
    plain = re.sub(r'```[\w+-]*|`|(?:\s*\|)+\s*|(?<!\S)#{1,6}\s', ' ', excerpt)  # fences, backticks, table pipes, headings
    return re.sub('\x02(.*?)\x03', lambda m: f'**{m[1]}**' if m[1].strip() else m[1], md_escape(plain))

def label(hit): return f'{hit.title} › {hit.heading.split(" › ")[-1]}' if hit.heading and hit.heading != hit.title else hit.title

def sources_of(answer_text, hits, fallback=3):
    "The pages an answer cites (by link), in citation order; if it cites none, the best search results."
    by_page = {}
    for h in hits: by_page.setdefault(h.url.split('#')[0], h)
    cited = re.findall(r'\]\(([^)\s]+)', answer_text)
    used = [by_page[u.split('#')[0]] for u in cited if u.split('#')[0] in by_page]
    used = used or list(by_page.values())[:fallback]
    return [dict(title=label(h), url=h.url) for h in {h.url.split('#')[0]: h for h in used}.values()]

def search_tool(index, found: list):
    def search_docs(query: str) -> str:
        "Search the documentation. Returns the best-matching sections, each with its title, URL and text."
        hits = index.search(query, k=5)
        found.extend(hits)
        if not hits: return 'No section of the docs matches that query.'
        return '\n\n'.join(f'[{i}] {label(h)}\nURL: {h.url}\n{h.text}' for i, h in enumerate(hits, 1))
    return search_docs

imported = {}  # lisette, once its import has finished (sys.modules has it half-imported while the warm-up runs)

def import_lisette():
    "lisette pulls in litellm: seconds of CPU, so pages are served without it and the warm-up thread pays for it."
    import lisette
    imported['lisette'] = lisette
    return lisette

def warm_up():
    """Import lisette and the modules litellm imports lazily on its first streamed call (about 2 s of CPU here), so the
    first reader does not wait for them. The call goes to a closed loopback port: nothing leaves the machine."""
    litellm = import_lisette().core.litellm
    async def call():
        try:
            async for _ in await litellm.acompletion(model='openai/warm-up', api_base='http://127.0.0.1:9/v1', api_key='-',
                                                     messages=[dict(role='user', content='-')], stream=True, num_retries=0,
                                                     max_retries=0, timeout=2): pass
        except Exception: pass
    asyncio.run(call())

TOO_SLOW = 'The AI provider took too long to answer. Please retry.'

def friendly(e: Exception) -> str:
    import litellm
    match e:
        case litellm.RateLimitError(): return 'The AI provider is rate-limiting us right now. Please retry in a moment.'
        case litellm.Timeout(): return TOO_SLOW
        # A read timeout mid-stream reaches us as a connection error whose message says so.
        case litellm.APIConnectionError() | litellm.exceptions.MidStreamFallbackError() if 'timeout' in str(e).lower(): return TOO_SLOW
        case litellm.ContextWindowExceededError(): return 'This conversation is too long for the model. Start a new conversation.'
        case litellm.AuthenticationError() | litellm.PermissionDeniedError(): return 'The AI provider rejected our credentials. The site owner has been notified in the logs.'
        case litellm.APIConnectionError() | litellm.exceptions.MidStreamFallbackError(): return 'The connection to the AI provider was lost. Please retry.'
        case _: return 'The AI provider returned an error. Please retry.'

def recent(history, budget):
    "The latest (question, answer) pairs that fit in about `budget` tokens (4 characters a token): older ones are dropped."
    kept, used = [], 0
    for q, a in reversed(history):
        used += (len(q) + len(a)) // 4
        if used > budget: break
        kept.append((q, a))
    return kept[::-1]

@functools.cache
def tool_schema(lisette):
    "search_docs's JSON schema, made once: lisette would rebuild it from the docstring for every answer (~5 ms)."
    return lisette.core.lite_mk_func(search_tool(None, []))

@functools.cache
def docs_chat(lisette):
    class DocsChat(lisette.AsyncChat):
        def _prep_msg(self, msg=None, prefill=None):
            # lisette 0.1.37 extends the history with `self.hist += tool_results`; fastcore's L (what parallel_async
            # returns) turns the list into an L, which mk_msgs then sends as ONE user message. Keep it a list.
            self.hist = list(self.hist)
            return super()._prep_msg(msg, prefill)
    return DocsChat

def searching(response):
    "Status lines for the searches a model response asks for."
    for tc in (response.choices[0].message.tool_calls or []) if response.choices else []:
        try: query = json.loads(tc.function.arguments or '{}').get('query', '')
        except ValueError: query = ''
        yield f'Searching the docs for “{query}”…' if query else 'Searching the docs…'

async def model_answer(cfg, index, question: str, history: list[tuple[str, str]]):
    "Yield `Event`s for one answer from the configured model; failures become `AnswerError`."
    # Waits off the event loop while the warm-up thread is still importing; once imported, no thread hop.
    lisette = imported.get('lisette') or await asyncio.to_thread(import_lisette)
    hist, found, parts = [m for pair in recent(history, cfg.history_tokens) for m in pair], [], []
    chat = docs_chat(lisette)(cfg.model, sp=system_prompt(cfg.site_name), hist=hist, tools=[tool_schema(lisette)],
                             ns=dict(search_docs=search_tool(index, found)),
                             api_base=cfg.api_base, api_key=cfg.api_key, max_tokens=cfg.max_tokens,
                             # litellm 1.106 imports its MCP bridge (and the uninstalled `mcp` package) whenever tools are
                             # passed, unless told to skip it; we have no MCP tools.
                             callkw=dict(timeout=cfg.timeout, _skip_mcp_handler=True))
    try:
        async for o in await chat(question, stream=True, max_steps=3):
            kind = type(o).__name__
            if kind == 'ModelResponseStream' and o.choices and (text := o.choices[0].delta.content):
                parts.append(text)
                yield Event('text', text)
            elif kind == 'ModelResponse':
                for status in searching(o): yield Event('status', status)
    except Exception as e:
        log.warning('model call failed: %s: %s', type(e).__name__, e)
        raise AnswerError(friendly(e)) from e
    yield Event('cost', chat.use.cost)  # litellm's price for the tokens used (0 for a model it has no price for)
    yield Event('sources', sources_of(''.join(parts), found))

async def docs_only_answer(cfg, index, question: str, history, notice=''):
    "No model: the best-matching sections, as excerpts with the question's words in bold, linked to their sections."
    yield Event('mode', 'docs')
    if notice: yield Event('text', f'_{notice}_\n\n')
    hits = index.search(question, k=5)
    if not hits:
        yield Event('text', 'The docs are still being indexed. Please try again in a minute.' if index.building else
                            "I couldn't find anything about that in the docs. Try different words?")
        return
    yield Event('text', 'These parts of the docs match your question best:\n\n')
    for h in hits: yield Event('text', f'- **[{md_escape(label(h))}]({h.url})**  \n  {highlighted(h.excerpt)}\n')

def answer(cfg, index, question, history, over_budget=False):
    if over_budget: return docs_only_answer(cfg, index, question, history, notice=OVER_BUDGET)
    return (model_answer if cfg.model else docs_only_answer)(cfg, index, question, history)

OVER_BUDGET = "The AI assistant has used today's budget, so here are search results from the docs instead."
