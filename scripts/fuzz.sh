#!/usr/bin/env bash
# Long fuzzing runs of message reading (tests/fuzz.rs): mutated corpus
# messages through the pipeline's reading step, built optimized.
#
#   scripts/fuzz.sh [SECONDS] [SEED]
#
# SECONDS defaults to 3600; SEED to a random one, printed at the start. An
# input that panics, is not stopped by content.read_budget or (here, unlike
# in `cargo test`) needs the budget to stop it fails the run; it is written
# to target/fuzz/ and the line printed replays it alone:
#   BIENTAP_FUZZ_SEED=<seed> BIENTAP_FUZZ_ONLY=<iteration> cargo test --release --test fuzz
# Several runs in parallel (one per core) explore different seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

export BIENTAP_FUZZ_SECONDS="${1:-3600}"
export BIENTAP_FUZZ_SEED="${2:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
export BIENTAP_FUZZ_STRICT="${BIENTAP_FUZZ_STRICT:-1}"
exec cargo test --release --test fuzz -- --nocapture
