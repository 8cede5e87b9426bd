#!/bin/bash
# Run doctor's demo: every service in one process on the embedded defaults,
# plus the sample consumer. A demo alarm is created, a demo notification
# emitted, and the alarm is shown arriving at the consumer.
#
# Creates the virtual environment .venv if it is missing and installs doctor
# into it. Arguments are passed to "doctor-all --demo".

set -eu -o pipefail

cd "$(dirname "$0")/.."

# shellcheck source=tools/venv.sh
source tools/venv.sh

exec "$VENV/bin/doctor-all" --demo "$@"
