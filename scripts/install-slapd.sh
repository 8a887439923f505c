#!/usr/bin/env bash
# Installs OpenLDAP's server (slapd) and tools from Debian packages, for the
# LDAP login tests (orchestrator/identity). `make test` runs it when slapd
# is missing. Non-interactive; the package is told not to configure a
# directory of its own and no slapd is left running: each test starts its
# own on a loopback port and stops it.
set -euo pipefail
if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-slapd.sh: slapd is missing and installing it needs root (apt-get install slapd ldap-utils)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null
# A package whose postinst started a daemon anyway must not leave it running.
if command -v service >/dev/null 2>&1; then service slapd stop >/dev/null 2>&1 || true; fi
echo "install-slapd.sh: slapd installed"
