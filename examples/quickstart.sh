#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what is missing, builds heldby, records the bitmap export example
# and prints its report: the first of the README's two commands.
set -eu
cd "$(dirname "$0")/.."
sh .ci/install-deps build
sh .ci/build
out=$(mktemp -d)/export.%p.hbt
build/tools/heldby run -o "$out" -- build/examples/export "${1:-48}"
build/tools/heldby report "$(ls "$(dirname "$out")"/export.*.hbt)"
