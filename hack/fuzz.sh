#!/usr/bin/env bash
# Runs every Fuzz target of the main module for FUZZTIME each.
# Go fuzzes one target of one package per invocation, so targets are listed
# first: `go test -list` prints a package's test names before its "ok" line.
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}

targets=$("$GO" test -timeout 5m -list '^Fuzz' ./... | awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok/   { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
')

if [[ -z "$targets" ]]; then
	echo "fuzz: no Fuzz targets found under ./..." >&2
	exit 1
fi

while read -r pkg name; do
	echo "> fuzzing $pkg $name for $FUZZTIME"
	"$GO" test -timeout "${FUZZ_TIMEOUT:-10m}" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
done <<<"$targets"
