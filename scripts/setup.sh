#!/usr/bin/env bash
# Sets askdocs up on a fresh machine: a virtualenv with the pinned Python packages, and the pinned front-end
# assets (htmx, its SSE extension, CSS built by Tailwind with daisyUI) when npm is there. Safe to run again.
# --test also installs the test tools (requirements-test.lock) and, as root, Debian's Chromium, nginx and the
# Python docs (a real Sphinx site) for the browser and proxy tests.
set -euo pipefail
cd "$(dirname "$0")/.."

lock=requirements.lock
if [ "${1:-}" = "--test" ]; then
  lock=requirements-test.lock
  if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ] || [ ! -d /usr/share/doc/python3.11/html ]; } && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx-light python3.11-doc) >/dev/null
  fi
  [ -x /usr/bin/chromium ] || echo "setup: no /usr/bin/chromium (apt-get install chromium); the browser tests will be skipped" >&2
  [ -x /usr/sbin/nginx ] || echo "setup: no /usr/sbin/nginx (apt-get install nginx-light); the proxy tests will be skipped" >&2
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$lock"

if command -v npm >/dev/null; then
  # `npm install`, not `npm ci`: npm ci refuses a lock that lacks the other platforms' optional Tailwind binaries,
  # which a registry mirror may not serve. With the lock present, npm install keeps to its exact versions.
  (cd frontend && npm install --no-audit --no-fund --loglevel=error >/dev/null && npm run -s build)
else
  echo "setup: npm not found; the chat page will load its pinned front-end assets from a CDN instead" >&2
fi
