package engines

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitStatementsDialects(t *testing.T) {
	for _, c := range []struct {
		name string
		d    sqlDialect
		in   string
		want []string
	}{
		{"pg dollar quote", postgresDialect,
			"CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql; SELECT f()",
			[]string{"CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql", "SELECT f()"}},
		{"pg tagged dollar quote", postgresDialect, "SELECT $x$a;$$;b$x$; SELECT $1",
			[]string{"SELECT $x$a;$$;b$x$", "SELECT $1"}},
		{"pg E string", postgresDialect, `SELECT E'it\'s; here'; SELECT 'a\'; SELECT 2`,
			[]string{`SELECT E'it\'s; here'`, `SELECT 'a\'`, "SELECT 2"}},
		{"pg nested comment", postgresDialect, "SELECT 1 /* a /* b; */ c; */; SELECT 2",
			[]string{"SELECT 1 /* a /* b; */ c; */", "SELECT 2"}},
		{"pg begin atomic", postgresDialect,
			"CREATE PROCEDURE p() LANGUAGE SQL BEGIN ATOMIC INSERT INTO t VALUES (1); SELECT CASE WHEN true THEN 1 END; END; CALL p()",
			[]string{"CREATE PROCEDURE p() LANGUAGE SQL BEGIN ATOMIC INSERT INTO t VALUES (1); SELECT CASE WHEN true THEN 1 END; END", "CALL p()"}},
		{"pg transaction", postgresDialect, "BEGIN; INSERT INTO t VALUES (1); COMMIT;",
			[]string{"BEGIN", "INSERT INTO t VALUES (1)", "COMMIT"}},
		{"pg array is no identifier", postgresDialect, "SELECT a[1]; SELECT 2", []string{"SELECT a[1]", "SELECT 2"}},
		{"mysql backslash", mysqlDialect, `SELECT 'it\'s; x', "a\";b"; SELECT 2`,
			[]string{`SELECT 'it\'s; x', "a\";b"`, "SELECT 2"}},
		{"mysql hash comment", mysqlDialect, "SELECT 1; # a; comment\nSELECT 2", []string{"SELECT 1", "# a; comment\nSELECT 2"}},
		{"mysql dash needs a blank", mysqlDialect, "SELECT 1--1; SELECT 2 -- c;\n; -- only", []string{"SELECT 1--1", "SELECT 2 -- c;"}},
		{"mysql procedure", mysqlDialect,
			"CREATE PROCEDURE p() BEGIN DECLARE i INT DEFAULT 0; IF i = 0 THEN SET i = 1; END IF; l: LOOP LEAVE l; END LOOP l; CASE i WHEN 1 THEN SELECT 1; END CASE; END; CALL p()",
			[]string{"CREATE PROCEDURE p() BEGIN DECLARE i INT DEFAULT 0; IF i = 0 THEN SET i = 1; END IF; l: LOOP LEAVE l; END LOOP l; CASE i WHEN 1 THEN SELECT 1; END CASE; END", "CALL p()"}},
		{"mysql executable comment", mysqlDialect, "/*!40101 SET NAMES utf8 */; /* plain */;", []string{"/*!40101 SET NAMES utf8 */"}},
		{"mysql start transaction", mysqlDialect, "START TRANSACTION; BEGIN; COMMIT", []string{"START TRANSACTION", "BEGIN", "COMMIT"}},
		{"sqlite trigger with case", sqliteDialect,
			"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET a = CASE WHEN 1 THEN 2 END; END; SELECT 3",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET a = CASE WHEN 1 THEN 2 END; END", "SELECT 3"}},
		{"a table named like a block", mysqlDialect, "CREATE TABLE event (a INT); SELECT 1", []string{"CREATE TABLE event (a INT)", "SELECT 1"}},
	} {
		if got := splitStatements(c.in, c.d); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: split(%q)\n got %q\nwant %q", c.name, c.in, got, c.want)
		}
	}
}

// FuzzSplitStatements: in every dialect, splitting never panics, never
// loses a statement's text, and never returns an empty statement.
func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 'a;b'", "SELECT $$a;$$; $x$", "SELECT E'\\'';", "/* /* */; */", "# c\n--x;", "CREATE PROCEDURE p() BEGIN END IF; END;", "/*!1 x */;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		for _, d := range []sqlDialect{sqliteDialect, postgresDialect, mysqlDialect} {
			for _, st := range splitStatements(code, d) {
				if st == "" || !strings.Contains(code, st) {
					t.Fatalf("statement %q is empty or not part of %q", st, code)
				}
			}
		}
	})
}

func TestSkipLeadingCommentsByDialect(t *testing.T) {
	for _, c := range []struct {
		name string
		d    sqlDialect
		in   string
		want string
	}{
		{"pg nested", postgresDialect, " /* a /* b */ c */ COPY t TO STDOUT", "COPY t TO STDOUT"},
		{"pg dashes and blanks", postgresDialect, "-- x\n\t--y\n  /* z */\nCOPY t", "COPY t"},
		{"pg dashes without a space", postgresDialect, "--x\nSELECT 1", "SELECT 1"},
		{"pg unterminated", postgresDialect, "/* a /* b */ COPY t", ""},
		{"pg comments only", postgresDialect, "-- only", ""},
		{"mysql flat", mysqlDialect, "/* a /* b */ SELECT 1", "SELECT 1"},
		{"mysql hash", mysqlDialect, "# x\n-- y\nSELECT 1", "SELECT 1"},
		{"mysql --x is code", mysqlDialect, "--x\nSELECT 1", "--x\nSELECT 1"},
		{"mysql executable comment", mysqlDialect, "/*!50000 SELECT 1 */", "/*!50000 SELECT 1 */"},
	} {
		if got := skipLeadingComments(c.in, c.d); got != c.want {
			t.Errorf("%s: skipLeadingComments(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
	for st, want := range map[string]bool{
		"/* a /* b */ c */ COPY t TO STDOUT":        true,
		"-- c\n/* x */ copy t from stdin":           true,
		"/* a /* b */ COPY t TO STDOUT */ SELECT 1": false,
		"COPY t TO '/tmp/x'":                        false,
		"SELECT 'COPY t TO STDOUT'":                 false,
	} {
		if got := clientCopy(st); got != want {
			t.Errorf("clientCopy(%q) = %v, want %v", st, got, want)
		}
	}
}
