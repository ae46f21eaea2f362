package registry

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Every request has a deadline that moves while bytes move: a registry that
// never answers, or stalls mid-answer or mid-upload, fails the request with
// a timeout; one that keeps moving, however long it takes, does not.
func TestStallTransport(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		switch r.URL.Path {
		case "/silent": // accepts the connection, never answers
			<-release
		case "/stalls-body": // answers the headers, then stalls
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("{"))
			f.Flush()
			<-release
		case "/slow-body": // keeps moving, for longer than the timeout in all
			w.WriteHeader(http.StatusOK)
			for range 6 {
				w.Write([]byte("x"))
				f.Flush()
				time.Sleep(timeout / 3)
			}
		case "/upload-unread": // never reads the body
			<-release
		case "/upload": // reads the body to its end
			n, _ := io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Read", strings.Repeat("x", int(min(n, 10))))
			w.WriteHeader(http.StatusCreated)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets the handlers end
	client := &http.Client{Transport: baseTransport(false, timeout, nil)}

	for _, tc := range []struct {
		name    string
		method  string
		path    string
		body    io.Reader
		stalled bool
	}{
		{name: "never answers", method: http.MethodGet, path: "/silent", stalled: true},
		{name: "stalls the body", method: http.MethodGet, path: "/stalls-body", stalled: true},
		{name: "slow but moving", method: http.MethodGet, path: "/slow-body"},
		{name: "upload the registry stops reading", method: http.MethodPut, path: "/upload-unread", body: io.LimitReader(zeros{}, 1<<30), stalled: true},
		{name: "upload that moves slowly", method: http.MethodPut, path: "/upload", body: &slowReader{n: 6, pause: timeout / 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, tc.body)
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			took := time.Since(start)
			if !tc.stalled {
				if err != nil {
					t.Fatalf("error %v after %v; the request kept moving", err, took)
				}
				return
			}
			var se *StallError
			var nerr net.Error
			if !errors.As(err, &se) || !errors.As(err, &nerr) || !nerr.Timeout() || !transient(t.Context(), err) {
				t.Fatalf("error %v (%T), want a retryable *StallError", err, err)
			}
			if took > 10*timeout {
				t.Fatalf("took %v, timeout %v", took, timeout)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// slowReader sends n bytes, one per pause.
type slowReader struct {
	n     int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	r.n--
	return copy(p, bytes.Repeat([]byte("x"), 1)), nil
}
