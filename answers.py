"""The answer pipeline shared by the widget and the CLI: a lisette AsyncChat rebuilt per turn from stored history."""
import asyncio, logging, os
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
            f"widget. Answer from {site}'s documentation; when it does not cover something, say so plainly instead of "
            "guessing. Be concise, use Markdown, and put code in fenced blocks with a language.")

def import_lisette():
    "lisette pulls in litellm: seconds of CPU, so pages are served without it and the warm-up thread pays for it."
    import lisette
    return lisette

def warm_up():
    """Import lisette and the modules litellm imports lazily on its first streamed call (about 2 s of CPU here), so the
    first reader does not wait for them. The call goes to a closed loopback port: nothing leaves the machine."""
    import asyncio
    litellm = import_lisette().core.litellm
    async def call():
        try:
            async for _ in await litellm.acompletion(model='openai/warm-up', api_base='http://127.0.0.1:9/v1', api_key='-',
                                                     messages=[dict(role='user', content='-')], stream=True, num_retries=0,
                                                     max_retries=0, timeout=2): pass
        except Exception: pass
    asyncio.run(call())

def friendly(e: Exception) -> str:
    import litellm
    match e:
        case litellm.RateLimitError(): return 'The AI provider is rate-limiting us right now. Please retry in a moment.'
        case litellm.Timeout(): return 'The AI provider took too long to answer. Please retry.'
        case litellm.ContextWindowExceededError(): return 'This conversation is too long for the model. Start a new conversation.'
        case litellm.AuthenticationError() | litellm.PermissionDeniedError(): return 'The AI provider rejected our credentials. The site owner has been notified in the logs.'
        case litellm.APIConnectionError() | litellm.exceptions.MidStreamFallbackError(): return 'The connection to the AI provider was lost. Please retry.'
        case _: return 'The AI provider returned an error. Please retry.'

async def model_answer(cfg, question: str, history: list[tuple[str, str]]):
    "Yield `Event`s for one answer from the configured model; failures become `AnswerError`."
    lisette = await asyncio.to_thread(import_lisette)  # waits off the event loop if the warm-up is still importing
    hist = [m for pair in history for m in pair]
    chat = lisette.AsyncChat(cfg.model, sp=system_prompt(cfg.site_name), hist=hist, api_base=cfg.api_base,
                             api_key=cfg.api_key, max_tokens=cfg.max_tokens, callkw=dict(timeout=cfg.timeout))
    try:
        async for o in await chat(question, stream=True):
            if isinstance(o, dict): yield Event('status', f"Used {o.get('name', 'a tool')}")
            elif type(o).__name__ == 'ModelResponseStream' and o.choices and (text := o.choices[0].delta.content):
                yield Event('text', text)
    except Exception as e:
        if isinstance(e, AnswerError): raise
        log.warning('model call failed: %s: %s', type(e).__name__, e)
        raise AnswerError(friendly(e)) from e

async def no_model_answer(cfg, question: str, history):
    yield Event('text', f"No AI model is configured for {cfg.site_name} yet, so I can't answer questions here. "
                        "The site owner can set `ASKDOCS_MODEL` to enable answers.")

def answer(cfg, question, history):
    return (model_answer if cfg.model else no_model_answer)(cfg, question, history)
