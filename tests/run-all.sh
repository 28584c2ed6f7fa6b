#!/usr/bin/env bash
# Runs every test of the project: the cargo test suites (unit, snapshot,
# runtime and end-to-end) and the seed's scenarios driven with nc.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
bash tests/seed_scenarios.sh
