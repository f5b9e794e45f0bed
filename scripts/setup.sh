#!/usr/bin/env bash
# Sets askdocs up on a fresh machine: a virtualenv with the pinned Python packages, and the pinned front-end
# assets (htmx, its SSE extension, CSS built by Tailwind with daisyUI) when npm is there. Safe to run again.
# With --test it also installs what the test suite needs from Debian (Chromium for the browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock

if command -v npm >/dev/null; then
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run -s build)
else
  echo "setup: npm not found; the chat page will load its pinned front-end assets from a CDN instead" >&2
fi
