#!/bin/bash
# Run doctor's demo: every service in one process on the embedded defaults,
# plus the sample consumer. A demo alarm is created, a demo notification
# emitted, and the alarm is shown arriving at the consumer.
#
# Creates the virtual environment .venv if it is missing and installs doctor
# into it. Arguments are passed to "doctor-all --demo".

set -eu -o pipefail

cd "$(dirname "$0")/.."

VENV=${DOCTOR_VENV:-.venv}
PYTHON=${PYTHON3:-python3}

# A .venv file rather than a directory is a PEP 832 redirect: its first
# line names the environment to use, relative to the project.
if [[ -f $VENV ]]; then
    VENV=$(head -n 1 "$VENV")
    echo "Using the environment $VENV, named by .venv"
fi

if [[ ! -x $VENV/bin/python ]]; then
    echo "Creating the virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi

echo "Installing doctor into $VENV"
# The warnings silenced are the build backend's, about packaging metadata.
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --quiet --quiet \
    --disable-pip-version-check -e .

exec "$VENV/bin/doctor-all" --demo "$@"
