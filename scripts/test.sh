#!/usr/bin/env bash
# Runs every test against real servers: installs Dovecot and Postfix when
# missing (apt-get, as root), makes sure PostgreSQL and MariaDB answer on
# loopback, starts the private mail stack, checks formatting and lints, runs
# the test suite, and stops the mail stack it started.
set -euo pipefail
cd "$(dirname "$0")/.."

stack=$(tests/harness/services.sh mail-dir)
tests/harness/services.sh ensure all "$stack"
trap 'tests/harness/mailstack.sh stop "$stack" >/dev/null 2>&1 || true' EXIT

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets "$@"
