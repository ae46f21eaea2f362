package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// stallTransport gives every request of the transaction a deadline that
// moves while bytes move: it fails once timeout passes with nothing sent or
// received, from the first byte of the request to the last of the response
// body. So a registry that accepts a connection and never answers, or
// answers the headers and then stalls the body (a manifest read, a token,
// the ping), cannot hold the export, while a 1 GiB upload that keeps moving
// is never cut. The error is a timeout (StallError), which the retry policy
// treats as transient.
type stallTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

// StallError reports a request that made no progress for Timeout.
type StallError struct {
	Method, URL string
	After       time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("%s %s: the registry made no progress for %v (CNB_ARTIFACTS_REGISTRY_TIMEOUT)", e.Method, e.URL, e.After)
}

// Timeout and Temporary make it a net.Error that every retry predicate
// retries.
func (e *StallError) Timeout() bool   { return true }
func (e *StallError) Temporary() bool { return true }

func (t stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := &watchdog{cancel: cancel, timeout: t.timeout, err: &StallError{Method: req.Method, URL: req.URL.Redacted(), After: t.timeout}}
	w.timer = time.AfterFunc(t.timeout, w.fire)
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &progressBody{rc: req.Body, w: w}
	}
	if getBody := req.GetBody; getBody != nil {
		req.GetBody = func() (io.ReadCloser, error) {
			rc, err := getBody()
			if err != nil || rc == http.NoBody {
				return rc, err
			}
			return &progressBody{rc: rc, w: w}, nil
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		w.stop()
		return nil, w.wrap(err)
	}
	w.progress()
	resp.Body = &progressBody{rc: resp.Body, w: w, closeStops: true}
	return resp, nil
}

// watchdog cancels a request's context when its timer fires.
type watchdog struct {
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelFunc
	err     *StallError

	mu    sync.Mutex
	fired bool
}

func (w *watchdog) fire() {
	w.mu.Lock()
	w.fired = true
	w.mu.Unlock()
	w.cancel()
}

func (w *watchdog) progress() { w.timer.Reset(w.timeout) }

func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel()
}

// wrap turns the error of a request whose watchdog fired into a StallError.
func (w *watchdog) wrap(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired && err != nil && err != io.EOF {
		return w.err
	}
	return err
}

// progressBody moves the deadline on every read that returns bytes; the
// response body stops the watchdog when it is closed.
type progressBody struct {
	rc         io.ReadCloser
	w          *watchdog
	closeStops bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.progress()
	}
	return n, b.w.wrap(err)
}

func (b *progressBody) Close() error {
	err := b.rc.Close()
	if b.closeStops {
		b.w.stop()
	}
	return err
}
