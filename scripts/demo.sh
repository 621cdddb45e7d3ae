#!/usr/bin/env bash
# The demo on the embedded default: copies the sample submissions from
# fixtures/demo/Maildir into demo-state/, runs bientap over that Maildir with
# SQLite (config/demo.toml), and shows the tickets it made.
set -euo pipefail
cd "$(dirname "$0")/.."

rm -rf demo-state
mkdir -p demo-state/Maildir/cur demo-state/Maildir/tmp
cp -r fixtures/demo/Maildir/new demo-state/Maildir/new

cargo build --release --quiet
bin=./target/release/bientap
cfg=config/demo.toml

"$bin" --config "$cfg" check-config
echo
"$bin" --config "$cfg" run --once
echo
"$bin" --config "$cfg" tickets list
echo
"$bin" --config "$cfg" tickets show "$("$bin" --config "$cfg" tickets list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["code"])')"
echo
echo "Mail bientap would have sent (demo-state/outbox):"
"$bin" --config "$cfg" outbox list
echo
first=$(ls demo-state/outbox/*.eml | head -n 1)
echo "The first one, $first:"
"$bin" inspect --json "$first" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print("From:", m["from"]["name"], "<" + m["from"]["address"] + ">")
print("Subject:", m["subject"])
print()
print(m["body_text"])'
