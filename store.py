"""Conversations and their turns in SQLite: the only place chat state lives, so any worker can serve any turn."""
import json, secrets, sqlite3, time
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    conv TEXT NOT NULL REFERENCES conversations(id),
    token TEXT NOT NULL UNIQUE,
    question TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending',
    error TEXT NOT NULL DEFAULT '',
    sources TEXT NOT NULL DEFAULT '[]',
    mode TEXT NOT NULL DEFAULT '',
    stop INTEGER NOT NULL DEFAULT 0,
    alive REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_conv ON turns(conv, id);
CREATE TABLE IF NOT EXISTS spend (day TEXT PRIMARY KEY, usd REAL NOT NULL);
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, window INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (key, window));
"""
FINAL = ('done', 'error', 'stopped')

def _today(): return time.strftime('%Y-%m-%d', time.gmtime())  # budgets reset at midnight UTC

def new_id(): return secrets.token_urlsafe(16)  # 128 bits: ids and stream tokens are capabilities

@dataclass
class Turn:
    id: int
    conv: str
    token: str
    question: str
    answer: str = ''
    status: str = 'pending'
    error: str = ''
    sources: list = field(default_factory=list)
    mode: str = ''
    stop: int = 0
    alive: float = 0
    created: float = 0

    @property
    def final(self): return self.status in FINAL

def _turn(row): return Turn(**{**dict(row), 'sources': json.loads(row['sources'])}) if row else None

class Store:
    "One SQLite file in WAL mode; every call is a short transaction, so several processes can share it."
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute('PRAGMA journal_mode=WAL')
        self.db.execute('PRAGMA synchronous=NORMAL')
        self.db.executescript(SCHEMA)

    def x(self, sql, *args): return self.db.execute(sql, args)

    def new_conversation(self):
        cid = new_id()
        self.x('INSERT INTO conversations VALUES (?, ?)', cid, time.time())
        return cid

    def has_conversation(self, cid): return bool(cid) and self.x('SELECT 1 FROM conversations WHERE id=?', cid).fetchone() is not None

    def add_turn(self, cid, question) -> Turn:
        tok = new_id()
        self.x('INSERT INTO turns (conv, token, question, created) VALUES (?, ?, ?, ?)', cid, tok, question, time.time())
        return self.turn(cid, tok)

    def turn(self, cid, token) -> Turn | None:
        return _turn(self.x('SELECT * FROM turns WHERE conv=? AND token=?', cid, token).fetchone())

    def turns(self, cid) -> list[Turn]:
        return [_turn(r) for r in self.x('SELECT * FROM turns WHERE conv=? ORDER BY id', cid)]

    def history(self, cid, before: int) -> list[tuple[str, str]]:
        "(question, answer) pairs of the turns before `before` that produced an answer; failed turns are left out."
        rows = self.x("SELECT question, answer FROM turns WHERE conv=? AND id<? AND status IN ('done','stopped') AND answer!='' ORDER BY id",
                      cid, before)
        return [(r['question'], r['answer']) for r in rows]

    def claim(self, t: Turn) -> bool:
        "Start answering `t`; only one stream request ever wins, so a reconnect never calls the model twice."
        cur = self.x("UPDATE turns SET status='running', alive=? WHERE id=? AND status='pending'", time.time(), t.id)
        return cur.rowcount == 1

    def heartbeat(self, t: Turn):
        "Mark `t` as still being answered, so readers waiting in other workers do not give up on it."
        self.x('UPDATE turns SET alive=? WHERE id=?', time.time(), t.id)

    def stop_requested(self, t: Turn) -> bool: return bool(self.x('SELECT stop FROM turns WHERE id=?', t.id).fetchone()[0])

    def request_stop(self, t: Turn): self.x('UPDATE turns SET stop=1 WHERE id=?', t.id)

    def finish(self, t: Turn, status, answer='', error='', sources=(), mode=''):
        assert status in FINAL
        self.x('UPDATE turns SET status=?, answer=?, error=?, sources=?, mode=? WHERE id=?',
               status, answer, error, json.dumps(list(sources)), mode, t.id)

    def answering(self, cid) -> bool:
        "Whether an answer in this conversation is still on its way."
        now = time.time()
        return self.x("SELECT 1 FROM turns WHERE conv=? AND status IN ('pending','running') AND alive > ? - 60 OR "
                      "conv=? AND status='pending' AND created > ? - 60", cid, now, cid, now).fetchone() is not None

    def hit(self, limits, window=60) -> int:
        """Count one request against each (key, allowed per window) in `limits`; returns 0 if all allow it, else about
        how many seconds to wait. A sliding window (this window's count plus the previous one's, weighted by how much of
        it still overlaps), so a burst across a window boundary is still seen; counted in SQLite, so across workers."""
        now = time.time()
        w, into = int(now // window), (now % window) / window
        self.x('DELETE FROM hits WHERE window < ?', w - 1)
        for key, allowed in limits:
            n = self.x('INSERT INTO hits VALUES (?, ?, 1) ON CONFLICT(key, window) DO UPDATE SET count=count+1 RETURNING count',
                       key, w).fetchone()[0]
            prev = self.x('SELECT count FROM hits WHERE key=? AND window=?', key, w - 1).fetchone()
            if n + (prev[0] if prev else 0) * (1 - into) > allowed: return int(window * (1 - into)) + 1
        return 0

    def spend(self, usd):
        if usd: self.x('INSERT INTO spend VALUES (?, ?) ON CONFLICT(day) DO UPDATE SET usd=usd+excluded.usd', _today(), usd)

    def spent_today(self) -> float:
        row = self.x('SELECT usd FROM spend WHERE day=?', _today()).fetchone()
        return row[0] if row else 0.0

    def retry(self, t: Turn) -> Turn | None:
        "Give a failed turn a fresh stream token; the question is kept."
        tok = new_id()
        cur = self.x("UPDATE turns SET token=?, status='pending', answer='', error='', stop=0 WHERE id=? AND status='error'", tok, t.id)
        return self.turn(t.conv, tok) if cur.rowcount else None
