package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// retryPolicy retries transient failures of one registry request with
// exponential backoff, bounded in attempts and in total time. It is the one
// policy of every request a Client makes: ping and token, manifests, tags,
// referrers, blob uploads of every size (a retried upload reopens the blob)
// and blob reads. Transient are:
// network errors, 408, 429 (honouring Retry-After) and 5xx. Anything else
// (401, 403, 400 MANIFEST_INVALID, …) fails at once with the registry's
// message.
type retryPolicy struct {
	attempts int
	first    time.Duration
	max      time.Duration // longest single wait
	budget   time.Duration // total time spent waiting
	// sleep waits d or until ctx is done; nil is a real timer. Tests
	// record the waits through it.
	sleep func(ctx context.Context, d time.Duration) error
}

var defaultRetry = retryPolicy{attempts: 5, first: 200 * time.Millisecond, max: 5 * time.Second, budget: 30 * time.Second}

// permanentError marks an error that must not be retried.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// Permanent marks err as not to be retried by the client's policy.
func Permanent(err error) error { return permanent(err) }

// do sends a request with send and judges the response with check, retrying
// as the policy allows. check sees every response that arrived; the body is
// closed after it returns.
func (p retryPolicy) do(ctx context.Context, send func() (*http.Response, error), check func(*http.Response) error) error {
	return p.try(ctx, func() (time.Duration, error) {
		resp, err := send()
		if err != nil {
			return 0, err
		}
		err = check(resp)
		after := retryAfter(resp)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return after, err
	})
}

// try runs op, retrying as the policy allows. op returns its error and how
// long the registry asked to wait (Retry-After), or 0.
func (p retryPolicy) try(ctx context.Context, op func() (time.Duration, error)) error {
	wait := p.first
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		after, err := op()
		if err == nil {
			return nil
		}
		if !transient(ctx, err) || attempt >= p.attempts {
			return err
		}
		d := wait
		if after > d {
			d = after
		}
		if d > p.max {
			d = p.max
		}
		if waited+d > p.budget {
			return err
		}
		if serr := p.wait(ctx, d); serr != nil {
			return errors.Join(err, serr)
		}
		waited += d
		wait *= 2
	}
}

// wait waits d, or until ctx is done.
func (p retryPolicy) wait(ctx context.Context, d time.Duration) error {
	if p.sleep != nil {
		return p.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var perm permanentError
	if errors.As(err, &perm) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch c := terr.StatusCode; {
		case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
			return true
		default:
			return false
		}
	}
	// No HTTP status: a connection reset, a timeout, an EOF mid-response.
	return true
}

func retryAfter(resp *http.Response) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}
