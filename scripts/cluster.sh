#!/usr/bin/env bash
# Starts a local 3-member manager cluster on loopback and waits; Ctrl-C
# stops every member cleanly. Data stays in $DATA (default
# /tmp/linkis-cluster), so running the script again restarts the same
# cluster from disk.
#
#   scripts/cluster.sh            # or: make cluster
#   LINKIS_TOKEN=... DATA=/var/tmp/lk scripts/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-/tmp/linkis-cluster}
export LINKIS_TOKEN=${LINKIS_TOKEN:-local-dev-token}
BIN=$DATA/bin/linkis
mkdir -p "$DATA/bin"
go build -o "$BIN" ./cmd/linkis

pids=()
stop() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	wait
}
trap stop INT TERM

for i in 1 2 3; do
	args=(manager --id "m$i" --data-dir "$DATA/m$i" --raft-addr "127.0.0.1:710$i" --http-addr "127.0.0.1:810$i")
	if [ ! -e "$DATA/m$i/raft.db" ]; then
		if [ "$i" = 1 ]; then args+=(--bootstrap); else args+=(--join "http://127.0.0.1:8101"); fi
	fi
	"$BIN" "${args[@]}" 2>>"$DATA/m$i.log" &
	pids+=($!)
	# The first member must lead before the others ask it to let them in.
	[ "$i" = 1 ] && sleep 2
done

echo "manager cluster: http://127.0.0.1:8101 http://127.0.0.1:8102 http://127.0.0.1:8103"
echo "token: $LINKIS_TOKEN   logs: $DATA/m*.log   status:"
echo "  curl -H 'Authorization: Bearer $LINKIS_TOKEN' http://127.0.0.1:8101/v1/status"
wait
