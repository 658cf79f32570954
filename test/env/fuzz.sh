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
		for try in 1 2; do
			if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$dir" 2>&1); then
				break
			fi
			# Go's fuzzer can end a time-boxed run with a bare "context deadline
			# exceeded" while stopping its workers on a loaded machine; that is
			# no finding (a finding names its failing input), so run it again.
			if [ "$try" = 1 ] && ! grep -q "Failing input" <<<"$out" && grep -q "context deadline exceeded" <<<"$out"; then
				echo "fuzz: $target stopped without a finding (context deadline exceeded); running it again"
				continue
			fi
			echo "$out"
			exit 1
		done
	done
done
