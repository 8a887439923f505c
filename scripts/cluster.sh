#!/usr/bin/env bash
# Starts the whole system on loopback as it runs on three hosts: three
# `linkis server` members (the replicated manager and job queues; every
# API on each) and two ECM hosts that join them; Ctrl-C stops everything
# cleanly. Data stays in $DATA (default /tmp/linkis-cluster), so running the
# script again restarts the same cluster from disk.
#
#   scripts/cluster.sh            # or: make cluster
#   LINKIS_TOKEN=... LINKIS_USERS=alice:code DATA=/var/tmp/lk scripts/cluster.sh
# The cluster token reaches the members and ECMs in $LINKIS_TOKEN, never
# on their command lines (which every user of the host can read).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-/tmp/linkis-cluster}
export LINKIS_TOKEN=${LINKIS_TOKEN:-local-dev-cluster-token}
export LINKIS_USERS=${LINKIS_USERS:-alice:alice-dev-code}
BIN=$DATA/bin/linkis
mkdir -p "$DATA/bin"
go build -o "$BIN" ./cmd/linkis

pids=()
stop() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	wait
}
trap stop INT TERM

members=http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103
for i in 1 2 3; do
	# A member with state on disk rejoins by itself; the flags matter the
	# first time only.
	enter=(--join http://127.0.0.1:8101)
	[ "$i" = 1 ] && enter=(--bootstrap)
	"$BIN" server --id "s$i" --data-dir "$DATA/s$i" --raft-addr "127.0.0.1:710$i" --http-addr "127.0.0.1:810$i" \
		--no-ecm "${enter[@]}" 2>>"$DATA/s$i.log" &
	pids+=($!)
	# The first member must lead before the others ask it to let them in.
	[ "$i" = 1 ] && sleep 2
done
for i in 1 2; do
	"$BIN" ecm --id "ecm-$i" --manager "$members" --data-dir "$DATA/ecm-$i" --http-addr "127.0.0.1:910$i" \
		--memory 4g --cores 2 --instances 8 2>>"$DATA/ecm-$i.log" &
	pids+=($!)
done

echo "servers: $members (REST under /api/rest_j/v1; user ${LINKIS_USERS%%:*})"
echo "ECMs: http://127.0.0.1:9101 http://127.0.0.1:9102   logs: $DATA/*.log"
echo "  LINKIS_SERVER=$members LINKIS_USER=alice LINKIS_TOKEN_CODE=alice-dev-code $BIN submit --engine shell --code 'echo hi' --wait"
echo "  printf 'Authorization: Bearer %s\\n' \"\$LINKIS_TOKEN\" | curl -H @- http://127.0.0.1:8101/v1/status   # the token never on a command line"
wait
