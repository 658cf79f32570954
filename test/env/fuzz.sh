#!/usr/bin/env bash
# Runs every Go fuzz target in the module briefly (FUZZTIME each, default 5s).
# The committed seed corpora under testdata/fuzz run as plain tests too.
set -euo pipefail
cd "$(dirname "$0")/../.."
time="${1:-5s}"
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
	dir="./$(dirname "${f#./}")"
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		echo "fuzz: $dir $target ($time)"
		if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$dir" 2>&1); then
			echo "$out"
			exit 1
		fi
	done
done
