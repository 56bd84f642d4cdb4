#!/usr/bin/env bash
# README command 2: set up (browser included, for the audit-page test) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
AUDIOSETMIX_WITH_BROWSER=1 bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/python -m ruff check .   # lint first: a finding fails CI before the (long) tests run
# two workers (one per core here); a test file stays on one worker, so its module fixtures are built once
exec .venv/bin/python -m pytest -q -n "${AUDIOSETMIX_TEST_WORKERS:-2}" --dist loadfile "$@"
