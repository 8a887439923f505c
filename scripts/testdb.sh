#!/usr/bin/env bash
# Real database servers for the jdbc engine's tests: a PostgreSQL 15 and a
# MariaDB, each in a directory of its own on a free loopback port, with a
# fresh random password per start.
#
#   scripts/testdb.sh install        install MariaDB from Debian packages when absent
#   scripts/testdb.sh start DIR      start both servers in DIR (installs MariaDB first
#                                    when needed); prints KEY=VALUE lines (see below)
#   scripts/testdb.sh start-pg DIR   only PostgreSQL;  start-mariadb DIR: only MariaDB
#   scripts/testdb.sh restart-pg DIR restart the PostgreSQL of DIR at once (-m immediate:
#                                    every connection is cut, as in a crash), same port
#   scripts/testdb.sh restart-mariadb DIR  kill the MariaDB of DIR (SIGKILL, as a crash) and
#                                    start it again on the same port
#   scripts/testdb.sh stop DIR       stop the servers started in DIR (DIR is kept)
#
# Printed on start (stdout, one per line): PG_PORT PG_USER PG_PASSWORD PG_DB
# PG_SOCKET_DIR PG_ADMIN (the superuser, reached over the socket without a
# password) PG_BIN; MYSQL_PORT MYSQL_USER MYSQL_PASSWORD MYSQL_DB MYSQL_SOCKET
# (root over the socket without a password). The servers are for tests:
# their admin accounts need no password on their sockets in DIR. Everything else goes to stderr.
# A server that cannot start makes the script exit non-zero: the tests that
# call it fail rather than skip.
#
# PostgreSQL refuses to run as root: as root the servers run as the postgres
# and mysql users (created by the Debian packages) and DIR is handed to them.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
MYSQL_SBIN=${MYSQL_SBIN:-/usr/sbin}

die() { echo "testdb: $*" >&2; exit 1; }

# A random alphanumeric secret (no shell or URL metacharacters).
secret() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 || true; }

# free_port prints a loopback port nobody listens on (another process may
# still take it before the server binds: start_* retry on a new port).
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free loopback port found"
}

# as USER CMD...: run CMD as USER when we are root, else as ourselves.
as() {
	local user=$1
	shift
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

install_mariadb() {
	if [ -x "$MYSQL_SBIN/mariadbd" ] && command -v mariadb-install-db >/dev/null && command -v mariadb >/dev/null; then
		return
	fi
	[ "$(id -u)" = 0 ] || die "MariaDB is not installed and installing it needs root: apt-get install -y mariadb-server"
	echo "testdb: installing MariaDB from Debian packages" >&2
	export DEBIAN_FRONTEND=noninteractive
	# The package must not start a system-wide server: a policy that denies
	# service starts is put in place for the install when none exists.
	local policy=/usr/sbin/policy-rc.d added=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added=1
	fi
	local rc=0
	{ apt-get update -qq && apt-get install -y -qq mariadb-server; } >&2 || rc=$?
	[ -n "$added" ] && rm -f "$policy"
	[ "$rc" = 0 ] || die "apt-get install mariadb-server failed ($rc)"
}

start_pg() {
	local dir=$1/pg
	[ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 server binaries not found in $PG_BIN"
	mkdir -p "$dir"
	local owner=${USER:-$(id -un)}
	if [ "$(id -u)" = 0 ]; then
		owner=postgres
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
		chown -R postgres "$dir"
		chmod 0711 "$1"
	fi
	local pw admin=linkis_admin user=linkis db=linkis
	pw=$(secret)
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as "$owner" "$PG_BIN/initdb" -D "$dir/data" -U "$admin" --auth-local=trust --auth-host=scram-sha-256 \
			-E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	fi
	local port ok=
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		if as "$owner" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
			-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2; then
			ok=1
			break
		fi
	done
	[ -n "$ok" ] || { tail -20 "$dir/server.log" >&2; die "postgres did not start"; }
	echo "$port" >"$dir/port"
	as "$owner" "$PG_BIN/psql" -h "$dir" -p "$port" -U "$admin" -d postgres -v ON_ERROR_STOP=1 -q >&2 <<-SQL || die "postgres set-up failed"
		DROP DATABASE IF EXISTS $db;
		DROP ROLE IF EXISTS $user;
		CREATE ROLE $user LOGIN PASSWORD '$pw';
		CREATE DATABASE $db OWNER $user;
	SQL
	cat <<-EOF
		PG_PORT=$port
		PG_USER=$user
		PG_PASSWORD=$pw
		PG_DB=$db
		PG_SOCKET_DIR=$dir
		PG_ADMIN=$admin
		PG_BIN=$PG_BIN
	EOF
}

# run_mariadbd DIR OWNER PORT starts mariadbd in the background and waits
# until it answers on its socket; it fails when the server exits first.
run_mariadbd() {
	local dir=$1 owner=$2 port=$3 pid
	rm -f "$dir/sock"
	as "$owner" "$MYSQL_SBIN/mariadbd" --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$dir/sock" --port="$port" \
		--bind-address=127.0.0.1 --pid-file="$dir/pid" --log-error="$dir/server.log" --skip-name-resolve \
		--innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M --max-connections=200 </dev/null >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 300); do
		if mariadb --no-defaults --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	return 1
}

start_mariadb() {
	local dir=$1/mariadb
	install_mariadb
	mkdir -p "$dir"
	local owner=${USER:-$(id -un)}
	if [ "$(id -u)" = 0 ]; then
		owner=mysql
		chown -R mysql "$dir"
		chmod 0711 "$1"
	fi
	mkdir -p "$dir/tmp"
	[ "$(id -u)" = 0 ] && chown mysql "$dir/tmp"
	if [ ! -d "$dir/data/mysql" ]; then
		as "$owner" mariadb-install-db --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --auth-root-authentication-method=normal \
			--skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
	fi
	local port ok=
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		if run_mariadbd "$dir" "$owner" "$port"; then
			ok=1
			break
		fi
	done
	[ -n "$ok" ] || { tail -20 "$dir/server.log" >&2; die "mariadbd did not start"; }
	echo "$port" >"$dir/port"
	local pw user=linkis db=linkis
	pw=$(secret)
	mariadb --no-defaults --socket="$dir/sock" -uroot >&2 <<-SQL || die "mariadb set-up failed"
		DROP DATABASE IF EXISTS $db;
		DROP USER IF EXISTS '$user'@'%';
		CREATE DATABASE $db;
		CREATE USER '$user'@'%' IDENTIFIED BY '$pw';
		GRANT ALL ON $db.* TO '$user'@'%';
		GRANT PROCESS ON *.* TO '$user'@'%';
	SQL
	cat <<-EOF
		MYSQL_PORT=$port
		MYSQL_USER=$user
		MYSQL_PASSWORD=$pw
		MYSQL_DB=$db
		MYSQL_SOCKET=$dir/sock
	EOF
}

stop_pg() {
	local dir=$1/pg
	[ -f "$dir/data/postmaster.pid" ] || return 0
	local owner=${USER:-$(id -un)}
	[ "$(id -u)" = 0 ] && owner=postgres
	as "$owner" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >&2 ||
		as "$owner" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >&2 || true
}

restart_pg() {
	local dir=$1/pg owner=${USER:-$(id -un)}
	[ "$(id -u)" = 0 ] && owner=postgres
	as "$owner" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m immediate -w -t 60 restart >&2 || die "postgres did not restart"
}

restart_mariadb() {
	local dir=$1/mariadb owner=${USER:-$(id -un)} pid
	[ "$(id -u)" = 0 ] && owner=mysql
	pid=$(cat "$dir/pid")
	kill -9 "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	run_mariadbd "$dir" "$owner" "$(cat "$dir/port")" || { tail -20 "$dir/server.log" >&2; die "mariadbd did not restart"; }
}

stop_mariadb() {
	local dir=$1/mariadb pid
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

cmd=${1:-}
case "$cmd" in
install) install_mariadb ;;
start)
	[ -n "${2:-}" ] || die "usage: $0 start DIR"
	mkdir -p "$2"
	start_pg "$2"
	start_mariadb "$2" || { stop_pg "$2"; exit 1; }
	;;
start-pg) start_pg "${2:?usage: $0 start-pg DIR}" ;;
start-mariadb) start_mariadb "${2:?usage: $0 start-mariadb DIR}" ;;
restart-pg) restart_pg "${2:?usage: $0 restart-pg DIR}" ;;
restart-mariadb) restart_mariadb "${2:?usage: $0 restart-mariadb DIR}" ;;
stop)
	[ -n "${2:-}" ] || die "usage: $0 stop DIR"
	stop_pg "$2"
	stop_mariadb "$2"
	;;
*) die "usage: $0 install | start DIR | start-pg DIR | start-mariadb DIR | restart-pg DIR | restart-mariadb DIR | stop DIR" ;;
esac
