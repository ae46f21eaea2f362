package signing

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// maxKeyFile bounds what is read of a key or password file (a cosign key
// is about 650 bytes).
const maxKeyFile = 64 << 10

// KeySigner signs with a private key: cosign's encrypted PEM ("ENCRYPTED
// SIGSTORE PRIVATE KEY", or cosign 1's "ENCRYPTED COSIGN PRIVATE KEY"), or
// an unencrypted PKCS #8, PKCS #1 or SEC 1 PEM key. ECDSA, RSA and Ed25519
// keys sign as cosign signs with them (Ed25519ph).
type KeySigner struct {
	sv signature.SignerVerifier
}

// ErrKey is the error of a key that cannot be used: unreadable, not a key,
// or a wrong password. Its message never holds the password.
var ErrKey = errors.New("signing key")

// LoadKey reads the private key at keyPath, decrypted with the password in
// passwordPath ("" for none: an unencrypted key, or cosign's key written
// with an empty password). One trailing newline of the password file is
// not part of the password, as `echo` and Kubernetes Secrets written by
// hand leave one.
func LoadKey(keyPath, passwordPath string) (*KeySigner, error) {
	pem, err := readSmall(keyPath)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrKey, keyPath, err)
	}
	// Without a password file the password is empty, not absent: cosign's
	// key written with an empty password is still encrypted, and
	// cryptoutils decrypts only when the password is not nil.
	pass := []byte{}
	if passwordPath != "" {
		if pass, err = readSmall(passwordPath); err != nil {
			return nil, fmt.Errorf("%w password file %s: %v", ErrKey, passwordPath, err)
		}
		pass = bytes.TrimSuffix(pass, []byte("\n"))
		pass = bytes.TrimSuffix(pass, []byte("\r"))
	}
	pk, err := cryptoutils.UnmarshalPEMToPrivateKey(pem, func(bool) ([]byte, error) { return pass, nil })
	if err != nil {
		// The library's words ("decryption failed", "PEM decoding failed")
		// hold neither the password nor the key.
		return nil, fmt.Errorf("%w %s: %v (a key as `cosign generate-key-pair` writes it, and its password in CNB_ARTIFACTS_SIGNING_PASSWORD_FILE)", ErrKey, keyPath, err)
	}
	sv, err := signature.LoadDefaultSignerVerifier(pk, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrKey, keyPath, err)
	}
	return &KeySigner{sv: sv}, nil
}

// Sign signs payload.
func (k *KeySigner) Sign(ctx context.Context, payload []byte) ([]byte, error) {
	return k.sv.SignMessage(bytes.NewReader(payload), options.WithContext(ctx))
}

// PublicKey is the key that verifies k's signatures.
func (k *KeySigner) PublicKey() (crypto.PublicKey, error) {
	return k.sv.PublicKey()
}

// readSmall reads a regular file of at most maxKeyFile bytes; a FIFO or a
// device is refused without blocking.
func readSmall(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFile)
	}
	return b, nil
}
