#!/usr/bin/env bash
# Replaces the chaos results table in docs/reliability.md with a long run's
# (make chaos writes it to .cache/chaos). Run on purpose, to commit the
# figures; tests never write into the tree.
set -euo pipefail
table="${1:?usage: chaos-record.sh TABLE DOC}"
doc="${2:?usage: chaos-record.sh TABLE DOC}"
if [ ! -s "$table" ]; then
	echo "chaos-record: $table is missing: run make chaos first" >&2
	exit 1
fi
if ! grep -q '^### .* — long run, ' "$table"; then
	echo "chaos-record: $table is not a long run's table" >&2
	exit 1
fi
if ! grep -q '^## Chaos results' "$doc"; then
	echo "chaos-record: $doc has no '## Chaos results' section" >&2
	exit 1
fi
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
# The section is the document's last: keep its text, drop the old table.
awk '/^## Chaos results/ { in_section = 1 } in_section && /^### / { exit } { print }' "$doc" >"$tmp"
cat "$table" >>"$tmp"
cp "$tmp" "$doc"
echo "chaos-record: $doc now holds $(head -n1 "$table" | sed 's/^### //')"
