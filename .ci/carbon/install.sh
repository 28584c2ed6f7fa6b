#!/usr/bin/env bash
# Install carbon-cache and whisper-fetch (Debian packages graphite-carbon and
# python3-whisper) when they are missing. Used by .ci/run; needs root.
# The package's own service is not started in containers (policy-rc.d) and is
# not needed: tests start private instances with .ci/carbon/start.sh.
set -euo pipefail
if command -v carbon-cache >/dev/null 2>&1 && command -v whisper-fetch >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends graphite-carbon python3-whisper
