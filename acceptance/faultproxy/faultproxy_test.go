package faultproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cnb-artifacts/lifecycle/acceptance/faultproxy"
)

func TestProxyFailsExactlyTheNthRequest(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer backend.Close()
	p, err := faultproxy.Start(strings.TrimPrefix(backend.URL, "http://"), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}}
	for _, tc := range []struct {
		kind   faultproxy.Kind
		status int  // of the 2nd request
		netErr bool // the 2nd request gets no answer
	}{
		{faultproxy.Status500, http.StatusInternalServerError, false},
		{faultproxy.Status429, http.StatusTooManyRequests, false},
		{faultproxy.Reset, 0, true},
		{faultproxy.Stall, 0, true},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			p.Arm(2, tc.kind)
			for i := 1; i <= 3; i++ {
				resp, err := client.Get("http://" + p.Host + "/v2/x")
				if i != 2 {
					if err != nil || resp.StatusCode != http.StatusOK {
						t.Fatalf("request %d: %v %v", i, resp, err)
					}
					resp.Body.Close()
					continue
				}
				if tc.netErr {
					if err == nil {
						t.Fatalf("request 2 answered %d", resp.StatusCode)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status || !strings.Contains(string(b), `"code"`) {
					t.Fatalf("request 2: %d %s", resp.StatusCode, b)
				}
				if tc.kind == faultproxy.Status429 && resp.Header.Get("Retry-After") != "1" {
					t.Fatal("no Retry-After")
				}
			}
			if !p.Injected() || p.Count() != 3 {
				t.Fatalf("injected=%v count=%d", p.Injected(), p.Count())
			}
			reqs := p.Requests()
			if len(reqs) != 3 || reqs[1].Fault != tc.kind || reqs[0].Fault != faultproxy.None || reqs[1].Path != "/v2/x" {
				t.Fatalf("requests %v", reqs)
			}
		})
	}
}

func TestProxyOutageFailsEveryRequestFromTheNth(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	p, err := faultproxy.Start(strings.TrimPrefix(backend.URL, "http://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Arm(2, faultproxy.Outage)
	for i, want := range []int{200, 500, 500, 500} {
		resp, err := http.Get("http://" + p.Host + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}
