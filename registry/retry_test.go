package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const ms = time.Millisecond

// recording returns p with a sleep that records each wait instead of
// waiting, and the recorded waits.
func recording(p retryPolicy) (retryPolicy, *[]time.Duration) {
	var waits []time.Duration
	p.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return p, &waits
}

func statusError(code int) error {
	return &transport.Error{StatusCode: code}
}

// The policy of spec 8: 5 attempts, 200 ms doubling, at most 5 s per wait
// and 30 s in all, Retry-After honoured but capped, permanent errors at once.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	long := retryPolicy{attempts: 20, first: time.Second, max: 5 * time.Second, budget: 30 * time.Second}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tc := range []struct {
		name      string
		policy    retryPolicy
		errs      []error         // what each attempt returns; past the end, the last again
		after     []time.Duration // the Retry-After of each attempt; past the end, 0
		wantCalls int
		wantWaits []time.Duration
		wantOK    bool
	}{
		{
			name: "default: 5 attempts, 200 ms doubling", policy: defaultRetry,
			errs:      []error{statusError(http.StatusInternalServerError)},
			wantCalls: 5, wantWaits: []time.Duration{200 * ms, 400 * ms, 800 * ms, 1600 * ms},
		},
		{
			name: "default: succeeds on the third attempt", policy: defaultRetry,
			errs:      []error{reset, statusError(http.StatusBadGateway), nil},
			wantCalls: 3, wantWaits: []time.Duration{200 * ms, 400 * ms}, wantOK: true,
		},
		{
			name: "first attempt succeeds", policy: defaultRetry,
			errs: []error{nil}, wantCalls: 1, wantOK: true,
		},
		{
			name: "waits grow to the cap, then the budget ends the retries", policy: long,
			errs:      []error{statusError(http.StatusServiceUnavailable)},
			wantCalls: 8, wantWaits: []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		},
		{
			name:      "a wait that would pass the budget is not taken",
			policy:    retryPolicy{attempts: 10, first: 2 * time.Second, max: 5 * time.Second, budget: 5 * time.Second},
			errs:      []error{reset},
			wantCalls: 2, wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name:      "a wait that ends exactly at the budget is taken",
			policy:    retryPolicy{attempts: 10, first: time.Second, max: 5 * time.Second, budget: 3 * time.Second},
			errs:      []error{reset},
			wantCalls: 3, wantWaits: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name: "Retry-After longer than the backoff is honoured", policy: defaultRetry,
			errs: []error{statusError(http.StatusTooManyRequests), nil}, after: []time.Duration{time.Second},
			wantCalls: 2, wantWaits: []time.Duration{time.Second}, wantOK: true,
		},
		{
			name: "Retry-After shorter than the backoff: the backoff", policy: long,
			errs: []error{statusError(http.StatusTooManyRequests), nil}, after: []time.Duration{100 * ms},
			wantCalls: 2, wantWaits: []time.Duration{time.Second}, wantOK: true,
		},
		{
			name: "Retry-After is capped at the longest wait", policy: defaultRetry,
			errs: []error{statusError(http.StatusTooManyRequests), nil}, after: []time.Duration{time.Hour},
			wantCalls: 2, wantWaits: []time.Duration{5 * time.Second}, wantOK: true,
		},
		{
			name: "the backoff keeps doubling after a Retry-After", policy: defaultRetry,
			errs:  []error{statusError(http.StatusTooManyRequests), statusError(http.StatusTooManyRequests), nil},
			after: []time.Duration{3 * time.Second, 0}, wantCalls: 3,
			wantWaits: []time.Duration{3 * time.Second, 400 * ms}, wantOK: true,
		},
		{
			name: "408 is retried", policy: defaultRetry,
			errs:      []error{statusError(http.StatusRequestTimeout), nil},
			wantCalls: 2, wantWaits: []time.Duration{200 * ms}, wantOK: true,
		},
		{
			name: "599 is retried", policy: defaultRetry,
			errs:      []error{statusError(599), nil},
			wantCalls: 2, wantWaits: []time.Duration{200 * ms}, wantOK: true,
		},
		{
			name: "a network error is retried", policy: defaultRetry,
			errs:      []error{fmt.Errorf("put manifest: %w", io.ErrUnexpectedEOF), nil},
			wantCalls: 2, wantWaits: []time.Duration{200 * ms}, wantOK: true,
		},
		{name: "400 is not retried", policy: defaultRetry, errs: []error{statusError(http.StatusBadRequest)}, wantCalls: 1},
		{name: "401 is not retried", policy: defaultRetry, errs: []error{statusError(http.StatusUnauthorized)}, wantCalls: 1},
		{name: "403 is not retried", policy: defaultRetry, errs: []error{statusError(http.StatusForbidden)}, wantCalls: 1},
		{name: "404 is not retried", policy: defaultRetry, errs: []error{statusError(http.StatusNotFound)}, wantCalls: 1},
		{name: "499 is not retried", policy: defaultRetry, errs: []error{statusError(499)}, wantCalls: 1},
		{name: "a permanent error is not retried", policy: defaultRetry, errs: []error{permanent(reset)}, wantCalls: 1},
		{
			name: "a permanent error after a retry ends the retries", policy: defaultRetry,
			errs:      []error{statusError(http.StatusInternalServerError), permanent(errors.New("bad digest"))},
			wantCalls: 2, wantWaits: []time.Duration{200 * ms},
		},
		{name: "one attempt: no retry", policy: retryPolicy{attempts: 1, first: ms, max: ms, budget: time.Second}, errs: []error{reset}, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, waits := recording(tc.policy)
			calls := 0
			var last error
			err := p.try(context.Background(), func() (time.Duration, error) {
				i := min(calls, len(tc.errs)-1)
				var after time.Duration
				if calls < len(tc.after) {
					after = tc.after[calls]
				}
				calls++
				last = tc.errs[i]
				return after, last
			})
			if calls != tc.wantCalls {
				t.Errorf("%d attempts, want %d", calls, tc.wantCalls)
			}
			if !slices.Equal(*waits, tc.wantWaits) {
				t.Errorf("waits %v, want %v", *waits, tc.wantWaits)
			}
			switch {
			case tc.wantOK && err != nil:
				t.Errorf("err = %v, want success", err)
			case !tc.wantOK && err == nil:
				t.Error("succeeded, want the last attempt's error")
			case !tc.wantOK && err != last:
				t.Errorf("err = %v, want the last attempt's error %v unchanged", err, last)
			}
		})
	}
}

// The default policy's numbers are spec 8's.
func TestDefaultRetryPolicy(t *testing.T) {
	t.Parallel()
	want := retryPolicy{attempts: 5, first: 200 * ms, max: 5 * time.Second, budget: 30 * time.Second}
	got := defaultRetry
	if got.sleep != nil || got.attempts != want.attempts || got.first != want.first || got.max != want.max || got.budget != want.budget {
		t.Fatalf("defaultRetry = %+v, want %+v", got, want)
	}
}

// A cancelled context stops the retries: during a wait, or before an
// attempt is judged.
func TestRetryStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	t.Run("during a wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := defaultRetry
		real := defaultRetry // its wait is a real timer
		p.sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return real.wait(ctx, time.Hour)
		}
		calls := 0
		done := make(chan error)
		go func() {
			done <- p.try(ctx, func() (time.Duration, error) {
				calls++
				return 0, statusError(http.StatusServiceUnavailable)
			})
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || !isStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("err = %v, want the attempt's error and context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a cancelled context did not end the wait")
		}
		if calls != 1 {
			t.Fatalf("%d attempts after the cancel", calls)
		}
	})
	t.Run("before the attempt is judged", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p, waits := recording(defaultRetry)
		calls := 0
		err := p.try(ctx, func() (time.Duration, error) {
			calls++
			cancel()
			return 0, statusError(http.StatusServiceUnavailable)
		})
		if calls != 1 || len(*waits) != 0 || !isStatus(err, http.StatusServiceUnavailable) {
			t.Fatalf("%d attempts, waits %v, err %v; want one attempt and its error", calls, *waits, err)
		}
	})
	t.Run("the real timer waits", func(t *testing.T) {
		p := retryPolicy{attempts: 2, first: 20 * ms, max: time.Second, budget: time.Second}
		calls := 0
		began := time.Now()
		err := p.try(context.Background(), func() (time.Duration, error) {
			calls++
			if calls == 1 {
				return 0, statusError(http.StatusBadGateway)
			}
			return 0, nil
		})
		if err != nil || calls != 2 {
			t.Fatalf("err %v after %d attempts", err, calls)
		}
		if took := time.Since(began); took < 20*ms {
			t.Fatalf("retried after %s, want a wait of 20ms", took)
		}
	})
}

// do, against a real HTTP server: which statuses are retried, and the
// Retry-After it reads from each.
func TestRetryDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status     int
		retryAfter string
		wantCalls  int
		wantWaits  []time.Duration
	}{
		{status: http.StatusRequestTimeout, wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusTooManyRequests, wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusTooManyRequests, retryAfter: "2", wantCalls: 2, wantWaits: []time.Duration{2 * time.Second}},
		{status: http.StatusTooManyRequests, retryAfter: "120", wantCalls: 2, wantWaits: []time.Duration{5 * time.Second}},
		{status: http.StatusTooManyRequests, retryAfter: "0", wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusTooManyRequests, retryAfter: "-3", wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusTooManyRequests, retryAfter: "soon", wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusServiceUnavailable, retryAfter: "3", wantCalls: 2, wantWaits: []time.Duration{3 * time.Second}},
		// Retry-After is read from 429 and 503 only.
		{status: http.StatusInternalServerError, retryAfter: "3", wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusBadGateway, wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusGatewayTimeout, wantCalls: 2, wantWaits: []time.Duration{200 * ms}},
		{status: http.StatusBadRequest, retryAfter: "1", wantCalls: 1},
		{status: http.StatusUnauthorized, wantCalls: 1},
		{status: http.StatusForbidden, wantCalls: 1},
		{status: http.StatusNotFound, wantCalls: 1},
		{status: http.StatusConflict, wantCalls: 1},
	} {
		t.Run(fmt.Sprintf("%d Retry-After %q", tc.status, tc.retryAfter), func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++ // requests are sequential: each waits for the answer
				if calls == 1 {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, `{"errors":[{"code":"X","message":"injected"}]}`)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			p, waits := recording(defaultRetry)
			err := p.do(context.Background(), func() (*http.Response, error) {
				return http.Get(srv.URL)
			}, func(resp *http.Response) error {
				return transport.CheckError(resp, http.StatusOK)
			})
			if calls != tc.wantCalls {
				t.Errorf("%d requests, want %d", calls, tc.wantCalls)
			}
			if !slices.Equal(*waits, tc.wantWaits) {
				t.Errorf("waits %v, want %v", *waits, tc.wantWaits)
			}
			if retried := tc.wantCalls > 1; retried != (err == nil) {
				t.Errorf("err = %v", err)
			}
			if err != nil && !isStatus(err, tc.status) {
				t.Errorf("err = %v, want the registry's %d", err, tc.status)
			}
		})
	}
}

// A request that gets no answer (the connection is reset) is retried; the
// body of every answer is drained and closed.
func TestRetryDoNetworkError(t *testing.T) {
	t.Parallel()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			_ = conn.(*net.TCPConn).SetLinger(0)
			_ = conn.Close()
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	p, waits := recording(defaultRetry)
	var bodies []*closeRecorder
	err := p.do(context.Background(), func() (*http.Response, error) {
		resp, err := http.Get(srv.URL)
		if err == nil {
			b := &closeRecorder{ReadCloser: resp.Body}
			bodies = append(bodies, b)
			resp.Body = b
		}
		return resp, err
	}, func(resp *http.Response) error { return transport.CheckError(resp, http.StatusOK) })
	if err != nil || calls != 2 || len(*waits) != 1 {
		t.Fatalf("err %v after %d requests, waits %v", err, calls, *waits)
	}
	for _, b := range bodies {
		if !b.closed || !b.eof {
			t.Errorf("body closed %v, read to the end %v", b.closed, b.eof)
		}
	}
}

type closeRecorder struct {
	io.ReadCloser
	closed, eof bool
}

func (c *closeRecorder) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

func (c *closeRecorder) Close() error {
	c.closed = true
	return c.ReadCloser.Close()
}
