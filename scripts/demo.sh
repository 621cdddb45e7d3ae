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
