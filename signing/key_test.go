package signing_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/cnb-artifacts/lifecycle/signing"
)

// keyPair writes a key pair as `cosign generate-key-pair` writes it
// (ENCRYPTED SIGSTORE PRIVATE KEY, scrypt and secretbox, sigstore's own
// code) and returns the key's path and the public key.
func keyPair(t *testing.T, dir, password string) (string, *ecdsa.PublicKey) {
	t.Helper()
	priv, pub, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), func(bool) ([]byte, error) { return []byte(password), nil })
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "cosign.key")
	if err := os.WriteFile(p, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	pk, err := cryptoutils.UnmarshalPEMToPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return p, pk.(*ecdsa.PublicKey)
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	const password = "correct horse"
	key, pub := keyPair(t, dir, password)
	emptyKey, emptyPub := keyPair(t, t.TempDir(), "")
	plain := func() string {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cryptoutils.MarshalPrivateKeyToPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(t, dir, "plain.pem", string(b))
	}()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key, pass string
		pub             *ecdsa.PublicKey
		wantErr         string
	}{
		{name: "encrypted, password file", key: key, pass: write(t, dir, "pw", password), pub: pub},
		{name: "password file with a trailing newline", key: key, pass: write(t, dir, "pw-nl", password+"\n"), pub: pub},
		{name: "password file with CRLF", key: key, pass: write(t, dir, "pw-crlf", password+"\r\n"), pub: pub},
		{name: "cosign key with an empty password, no file", key: emptyKey, pub: emptyPub},
		{name: "unencrypted PKCS 8", key: plain},
		{name: "wrong password", key: key, pass: write(t, dir, "bad", "wrong"), wantErr: "decryption failed"},
		{name: "encrypted, no password", key: key, wantErr: "decryption failed"},
		{name: "two trailing newlines are one too many", key: key, pass: write(t, dir, "pw-2nl", password+"\n\n"), wantErr: "decryption failed"},
		{name: "not a key", key: write(t, dir, "junk", "hello"), wantErr: "PEM decoding failed"},
		{name: "missing key", key: filepath.Join(dir, "absent"), wantErr: "no such file"},
		{name: "missing password file", key: key, pass: filepath.Join(dir, "absent"), wantErr: "password file"},
		{name: "a FIFO is refused without blocking", key: fifo, wantErr: "not a regular file"},
		{name: "a directory", key: dir, wantErr: "not a regular file"},
		{name: "a huge file", key: write(t, dir, "huge", strings.Repeat("A", 64<<10+1)), wantErr: "larger than"},
		{name: "exactly 64 KiB is read (then refused as no key)", key: write(t, dir, "limit", strings.Repeat("A", 64<<10)), wantErr: "PEM decoding failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := signing.LoadKey(tc.key, tc.pass)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, signing.ErrKey) {
					t.Fatalf("err = %v, want ErrKey containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), password) {
					t.Fatalf("the error holds the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte(`{"critical":{}}`)
			sig, err := k.Sign(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			want := tc.pub
			if want == nil {
				want = got.(*ecdsa.PublicKey)
			}
			h := sha256.Sum256(payload)
			if !ecdsa.VerifyASN1(want, h[:], sig) {
				t.Fatal("the signature does not verify with the key pair's public key")
			}
			if ecdsa.VerifyASN1(want, h[:], append(bytes.Clone(sig[:len(sig)-1]), sig[len(sig)-1]^1)) {
				t.Fatal("a changed signature verifies")
			}
		})
	}
}

// An ECDSA key signs deterministically (RFC 6979): the same payload gets the
// same signature, and so the same signature manifest, which a re-export or
// a second reattach writes again instead of adding a referrer; the
// signature still verifies as any ECDSA signature.
func TestSignIsDeterministic(t *testing.T) {
	key, pub := keyPair(t, t.TempDir(), "")
	k, err := signing.LoadKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Sign(context.Background(), []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Sign(context.Background(), []byte("payload"))
	c, _ := k.Sign(context.Background(), []byte("another payload"))
	if !bytes.Equal(a, b) {
		t.Error("two signatures of one payload differ")
	}
	if bytes.Equal(a, c) {
		t.Error("two payloads got the same signature")
	}
	h := sha256.Sum256([]byte("payload"))
	if !ecdsa.VerifyASN1(pub, h[:], a) {
		t.Error("the deterministic signature does not verify")
	}
}
