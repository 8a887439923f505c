#!/usr/bin/env bash
# Installs Chromium from Debian packages, for the console's browser tests
# (orchestrator/console, driven with chromedp). `make test` runs it when
# chromium is missing. Non-interactive; nothing is left running: each test
# starts its own headless browser with a fresh profile and stops it.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-chromium.sh: chromium is missing and installing it needs root (apt-get install chromium)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "install-chromium.sh: $(chromium --version 2>/dev/null || echo chromium) installed"
