package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
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
	done chan struct{} // closed when the key is decrypted, or failed to be
	sv   signature.SignerVerifier
	// ecdsa, for an ECDSA key (cosign's), signs deterministically (RFC
	// 6979, the standard library's) with hash, the hash sigstore chooses
	// for the key: the same payload gets the same signature, so a re-export
	// or a second reattach writes the same signature manifest again, not
	// another referrer. Ed25519 and RSA PKCS #1 v1.5 are deterministic
	// already.
	ecdsa *ecdsa.PrivateKey
	hash  crypto.Hash
	err   error
}

// ErrKey is the error of a key that cannot be used: unreadable, not a key,
// or a wrong password. Its message never holds the password.
var ErrKey = errors.New("signing key")

// LoadKey reads the private key at keyPath, decrypted with the password in
// passwordPath ("" for none: an unencrypted key, or cosign's key written
// with an empty password), and waits until it is decrypted. One trailing
// newline of the password file is not part of the password, as `echo` and
// Kubernetes Secrets written by hand leave one.
func LoadKey(keyPath, passwordPath string) (*KeySigner, error) {
	k, err := OpenKey(keyPath, passwordPath)
	if err != nil {
		return nil, err
	}
	return k, k.Ready()
}

// OpenKey reads the key and its password file now (before privileges
// drop: they may be readable by root alone) and decrypts the key in the
// background: cosign's format derives the key with scrypt, 0.2 to 0.7 s
// here, which then overlaps with the export's own work on its layers.
// Ready waits for it and says whether the key can be used; Sign waits too.
func OpenKey(keyPath, passwordPath string) (*KeySigner, error) {
	pem, err := readSmall(keyPath)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrKey, keyPath, err)
	}
	pass := []byte{} // cosign's key with an empty password is still encrypted
	if passwordPath != "" {
		if pass, err = readSmall(passwordPath); err != nil {
			return nil, fmt.Errorf("%w password file %s: %v", ErrKey, passwordPath, err)
		}
		pass = bytes.TrimSuffix(pass, []byte("\n"))
		pass = bytes.TrimSuffix(pass, []byte("\r"))
	}
	k := &KeySigner{done: make(chan struct{})}
	go func() {
		defer close(k.done)
		k.err = k.decrypt(keyPath, pem, pass)
	}()
	return k, nil
}

// decrypt turns the PEM key into k's signer.
func (k *KeySigner) decrypt(keyPath string, pem, pass []byte) error {
	pk, err := cryptoutils.UnmarshalPEMToPrivateKey(pem, func(bool) ([]byte, error) { return pass, nil })
	if err != nil {
		// The library's words ("decryption failed", "PEM decoding failed")
		// hold neither the password nor the key.
		return fmt.Errorf("%w %s: %v (a key as `cosign generate-key-pair` writes it, and its password in CNB_ARTIFACTS_SIGNING_PASSWORD_FILE)", ErrKey, keyPath, err)
	}
	if k.sv, err = signature.LoadDefaultSignerVerifier(pk, options.WithED25519ph()); err != nil {
		return fmt.Errorf("%w %s: %v", ErrKey, keyPath, err)
	}
	if e, ok := pk.(*ecdsa.PrivateKey); ok {
		details, err := signature.GetDefaultAlgorithmDetails(e.Public())
		if err != nil {
			return fmt.Errorf("%w %s: %v", ErrKey, keyPath, err)
		}
		k.ecdsa, k.hash = e, details.GetHashType()
	}
	return nil
}

// Ready waits until the key is decrypted and returns why it cannot be
// used, if it cannot (an ErrKey).
func (k *KeySigner) Ready() error {
	<-k.done
	return k.err
}

// Sign signs payload.
func (k *KeySigner) Sign(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case <-k.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if k.err != nil {
		return nil, k.err
	}
	if k.ecdsa != nil {
		h := k.hash.New()
		h.Write(payload)
		return k.ecdsa.Sign(nil, h.Sum(nil), k.hash) // nil: RFC 6979
	}
	return k.sv.SignMessage(bytes.NewReader(payload), options.WithContext(ctx))
}

// PublicKey is the key that verifies k's signatures.
func (k *KeySigner) PublicKey() (crypto.PublicKey, error) {
	if err := k.Ready(); err != nil {
		return nil, err
	}
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
