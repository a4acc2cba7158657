package registry

// ValidTag reports whether s is a valid tag name under the OCI distribution
// specification, [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}: the names a registry
// may list, and the only ones tagwatch writes. Registries list others
// ("9.9.9+build", names with ':' or control characters, 100 KB names);
// callers drop them as listed (see internal/resolve).
func ValidTag(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
