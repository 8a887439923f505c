package linkis

import (
	"strings"
	"unicode"
)

// IsSecretKey reports whether a configuration, parameter or variable key
// names a secret. The key is split into words at '.', '_', '-' and at
// camelCase boundaries (ConnectionPassword is connection, password), and
// it is a secret when
//
//   - its last word is password, passwd, pwd, passphrase, secret, token,
//     credential(s), or one of those run together with what it protects
//     (apikey, secretkey, privatekey, accesstoken, authtoken, accountkey):
//     jdbc.password, DB_PASSWORD, service.auth.token,
//     spark.hadoop.javax.jdo.option.ConnectionPassword;
//   - its last word is key and an earlier word is secret, private, api,
//     account, encryption, signing or master: fs.s3a.secret.key,
//     aws_secret_access_key, apiKey;
//   - it has account.key anywhere (Azure's
//     fs.azure.account.key.NAME.blob.core.windows.net).
//
// A word that only contains one (secretive, password.file - the path of a
// file, not its content) is no secret. Such values are never persisted,
// logged, replicated or passed as an engine's start-up parameters (which
// become its command line).
func IsSecretKey(k string) bool {
	w := keyWords(k)
	if len(w) == 0 {
		return false
	}
	switch w[len(w)-1] {
	case "password", "passwd", "pwd", "passphrase", "secret", "token", "credential", "credentials",
		"apikey", "secretkey", "privatekey", "accesstoken", "authtoken", "accountkey":
		return true
	case "key":
		for _, x := range w[:len(w)-1] {
			switch x {
			case "secret", "private", "api", "account", "encryption", "signing", "master":
				return true
			}
		}
	}
	for i := 0; i+1 < len(w); i++ {
		if w[i] == "account" && w[i+1] == "key" {
			return true
		}
	}
	return false
}

// keyWords splits k into lower-case words at '.', '_', '-' and camelCase
// boundaries (aB, and ABc before the B).
func keyWords(k string) []string {
	var out []string
	r := []rune(k)
	start := 0
	flush := func(end int) {
		if end > start {
			out = append(out, strings.ToLower(string(r[start:end])))
		}
	}
	for i, c := range r {
		switch {
		case c == '.' || c == '_' || c == '-':
			flush(i)
			start = i + 1
		case i > start && unicode.IsUpper(c) &&
			(unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])):
			flush(i)
			start = i
		}
	}
	flush(len(r))
	return out
}
