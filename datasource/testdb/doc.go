// Package testdb starts real database servers for tests: a PostgreSQL 15
// and a MariaDB (installed from Debian packages when absent), through
// scripts/testdb.sh, each on a free loopback port with a fresh random
// password. A test whose servers cannot start fails; it never skips.
//
// It is test support only: nothing outside _test.go files imports it.
package testdb
