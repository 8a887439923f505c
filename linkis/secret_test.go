package linkis

import "testing"

func TestIsSecretKey(t *testing.T) {
	for k, want := range map[string]bool{"jdbc.password": true, "wds.linkis.jdbc.password": true, "a.PASSWD": true, "pwd": true,
		"b.secret": true, "jdbc.username": false, "secretive": false, "password.file": false, "": false,
		// Common secret settings that do not end in one of the words
		// above as a dot-word (found by the data review).
		"spark.hadoop.javax.jdo.option.ConnectionPassword": true, "fs.s3a.secret.key": true, "DB_PASSWORD": true,
		"service.auth.token": true, "aws_secret_access_key": true, "apiKey": true, "APIKey": true, "x.apikey": true,
		"fs.azure.account.key.acct.blob.core.windows.net": true, "ssl.keystore.password": true, "oauth.accessToken": true,
		"my-passphrase": true, "gcp.credentials": true,
		// Not secrets.
		"fs.s3a.access.key": false, "wds.linkis.rm.tokenizer": false, "auth.token.ttl": false, "engineconn.memory": false,
		"keystore.path": false, "primary.key": false, "passwordless": false, "token.file": false} {
		if IsSecretKey(k) != want {
			t.Errorf("IsSecretKey(%q) = %v", k, !want)
		}
	}
}
