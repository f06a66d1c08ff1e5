#!/usr/bin/env bash
# The test command (`make test`, also run by .ci/run): start what the tests talk to, then pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"

bash scripts/services.sh || exit 1
bash scripts/browser.sh

# PostgreSQL tests run when the server answers; CI must have them, so services.sh failing
# there is fatal, while a developer without PostgreSQL still gets the SQLite suite.
if [ -z "${STORYWATCH_TEST_POSTGRES_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export STORYWATCH_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"
fi

"$BIN/ruff" check storywatch tests benchmarks || exit 1
"$BIN/mypy" || exit 1

"$BIN/python" -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure of the suite, not a pass" >&2
  exit 1
fi
exit "$status"
