#!/usr/bin/env bash
# Runs the crate's tests and writes {"passed":N,"failed":M} to $1. Silent when green;
# prints cargo's output only when something failed. A build failure counts as failed >= 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 1 && -n "$1" ]] || { echo "usage: test.sh <summary.json>" >&2; exit 2; }
summary="$1"
if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi

output="$(mktemp)"
trap 'rm -f "$output"' EXIT
status=0
(cd "$here" && cargo test --locked --no-fail-fast -q) >"$output" 2>&1 || status=$?

# Lines like "test result: ok. 49 passed; 0 failed; ..." — one per test binary.
read -r passed failed < <(
  sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed;.*/\1 \2/p' "$output" \
    | awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }'
)
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1
fi
printf '{"passed":%d,"failed":%d}\n' "$passed" "$failed" > "$summary"

if [[ $status -ne 0 ]]; then
  cat "$output" >&2
  exit "$status"
fi
