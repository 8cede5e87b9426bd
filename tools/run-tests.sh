#!/bin/bash
# Run doctor's unit and functional tests, in parallel, in the project's
# virtual environment (.venv, created if missing), then print the totals
# as one line: "N passed, N failed" (", N skipped" when some were skipped).
#
# Arguments are passed to "stestr run", e.g. a regex selecting tests:
#     ./tools/run-tests.sh doctor.tests.unit.evaluator
#
# Exits non-zero when a test failed, when the tests could not be loaded,
# or when no test ran.

set -eu -o pipefail

cd "$(dirname "$0")/.."

# shellcheck source=tools/venv.sh
source tools/venv.sh test-requirements.txt

STESTR=("$VENV/bin/python" -m stestr)

# The newest run id in the stestr repository, or -1 when there is none.
function last_run_id {
    local ids
    ids=$("${STESTR[@]}" history list 2>/dev/null |
        awk -F'|' '$2 ~ /^ *[0-9]+ *$/ {print $2 + 0}') || true
    if [[ -z $ids ]]; then
        echo -1
    else
        echo "$ids" | sort -n | tail -n 1
    fi
}

before=$(last_run_id)
status=0
"${STESTR[@]}" --test-path ./doctor/tests run "$@" || status=$?
after=$(last_run_id)

if [[ $after == "$before" ]]; then
    echo >&2
    echo "stestr stored no run: no test matched, or the tests could" \
        "not be loaded" >&2
    echo "0 passed, 0 failed"
    exit 1
fi

totals=$("${STESTR[@]}" last --subunit |
    "$VENV/bin/python" tools/stestr-totals.py)

read -r passed _ failed _ <<< "${totals//,/}"
if [[ $status -eq 0 ]]; then
    if [[ $failed -ne 0 ]]; then
        status=1
    elif [[ $passed -eq 0 ]]; then
        echo "No test ran" >&2
        status=1
    fi
fi
echo "$totals"
exit "$status"
