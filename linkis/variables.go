package linkis

// MaxVariableName bounds the name of a ${name} variable.
const MaxVariableName = 128

// ValidVariableName reports whether s can name a ${name} variable: 1-128
// letters, digits or '_' (a job's own variables, a user's global ones).
func ValidVariableName(s string) bool {
	if s == "" || len(s) > MaxVariableName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
