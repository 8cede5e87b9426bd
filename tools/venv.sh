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

# pip's output shortened to what is being installed and how far along it
# is: a line every DOCTOR_PROGRESS_INTERVAL seconds (10 by default) while
# requirements are resolved and downloaded, one for each package built
# from source, one when the installing starts, one at the end.
pip_progress() {
    local start every last resolved=0 line name count
    start=$SECONDS
    every=${DOCTOR_PROGRESS_INTERVAL:-10}
    last=$((SECONDS - every))
    while IFS= read -r line; do
        case $line in
            "Collecting "*|"Requirement already satisfied: "*)
                resolved=$((resolved + 1))
                if ((SECONDS - last >= every)); then
                    name=${line#Collecting }
                    name=${name#Requirement already satisfied: }
                    printf '  %4d s  %d requirements resolved, now %s\n' \
                        $((SECONDS - start)) "$resolved" "${name%% *}"
                    last=$SECONDS
                fi
                ;;
            *"Building "*" for "*": started")
                name=${line#*for }
                printf '  %4d s  building %s from source\n' \
                    $((SECONDS - start)) "${name%% *}"
                ;;
            "Installing collected packages: "*)
                line=${line#Installing collected packages: }
                count=$(($(tr -cd , <<<"$line" | wc -c) + 1))
                printf '  %4d s  %d requirements resolved, installing %d ' \
                    $((SECONDS - start)) "$resolved" "$count"
                printf 'packages\n'
                ;;
            "Successfully installed "*)
                printf '  %4d s  done\n' $((SECONDS - start))
                ;;
        esac
    done
}

echo "Installing doctor${1:+ and $*} into $VENV (about a minute the first" \
    "time)"
# The warnings silenced are the build backend's, about packaging metadata.
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install \
    --disable-pip-version-check --progress-bar off -e . \
    "${requirements[@]}" | pip_progress
