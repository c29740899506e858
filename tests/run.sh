#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what is missing, builds heldby and runs the whole test suite; ends
# with one line "N passed, M failed" counting every single check.
set -eu
cd "$(dirname "$0")/.."
sh .ci/install-deps
sh .ci/build
status=0
meson test -C build --print-errorlogs "$@" >build/test-output.txt 2>&1 || status=$?
tail -n 40 build/test-output.txt
/usr/bin/python3 tests/count_results.py build/meson-logs/testlog.json || status=1
exit $status
