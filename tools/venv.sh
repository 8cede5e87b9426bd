#!/bin/bash
# Sourced by the quick-start scripts: find or create the project's virtual
# environment and install doctor into it, with any extra requirement files
# given as arguments. Sets VENV to the environment's directory.

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

requirements=()
for file in "$@"; do
    requirements+=(-r "$file")
done

echo "Installing doctor${1:+ and $*} into $VENV"
# The warnings silenced are the build backend's, about packaging metadata.
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --quiet --quiet \
    --disable-pip-version-check -e . "${requirements[@]}"
