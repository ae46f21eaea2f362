package harness

import (
	"strings"
	"testing"
)

// CosignKeyCanary returns a line of an encrypted private key that
// `cosign generate-key-pair` wrote (key, its PEM bytes) that is
// ciphertext: a string no other key and no other file holds, to search
// for where the key must not be. The PEM body is base64 of a JSON
// document whose beginning (the KDF's name and parameters) is the same in
// every key, so the first lines are not canaries; the one before the last
// is inside "ciphertext". A key without such a line fails the test.
func CosignKeyCanary(t testing.TB, key []byte) string {
	t.Helper()
	var body []string
	for _, l := range strings.Split(strings.TrimSpace(string(key)), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "-----") {
			body = append(body, l)
		}
	}
	if len(body) < 4 || len(body[len(body)-2]) < 48 {
		t.Fatalf("the private key has no line of ciphertext to search for (%d lines)", len(body))
	}
	return body[len(body)-2]
}
