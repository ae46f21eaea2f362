package exporter

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/buildpacks/lifecycle/log"
)

// A long artifact upload says where it is at every interval (bytes of the
// file's size, and the rate); one that ends within the interval says
// nothing, so a short export's log is stock's.
func TestUploadProgress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		pause     time.Duration // between reads
		wantLines bool
	}{
		{"slow upload logs", 40 * time.Millisecond, true},
		{"quick upload logs nothing", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			content := strings.Repeat("x", 64<<10)
			a := streamFixture(t, content)
			ls, _ := a.Layers()
			var buf bytes.Buffer
			logger := log.NewDefaultLogger(&buf)
			l := withProgress(streamPolicy{minSize: 1}.layer(ls[0]), ls[0], "artifact 'a:b' (tag 't') file \"f\"", logger, 100*time.Millisecond)
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 4<<10)
			for {
				n, err := rc.Read(chunk)
				_ = n
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(tc.pause)
			}
			rc.Close()
			got := buf.String()
			if has := strings.Contains(got, "Uploading artifact 'a:b' (tag 't') file \"f\": ") && strings.Contains(got, " of 64.0 KiB (") && strings.Contains(got, "/s)"); has != tc.wantLines {
				t.Fatalf("progress lines %v, want %v:\n%s", has, tc.wantLines, got)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1<<20 - 1: "1024.0 KiB", 1 << 20: "1.0 MiB", 3 << 29: "1.5 GiB", 1 << 40: "1.0 TiB", 1 << 60: "1024.0 PiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// The rate a progress line gives is bytes sent over the time since the
// upload started: at least what was sent over the whole read, measured
// around it.
func TestUploadProgressRate(t *testing.T) {
	t.Parallel()
	content := strings.Repeat("x", 256<<10)
	a := streamFixture(t, content)
	ls, _ := a.Layers()
	var buf bytes.Buffer
	logger := log.NewDefaultLogger(&buf)
	start := time.Now()
	l := withProgress(streamPolicy{minSize: 1}.layer(ls[0]), ls[0], "f", logger, time.Nanosecond)
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	elapsed := time.Since(start) // at least the time the rate was taken over
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	last := lines[len(lines)-1] // "Uploading f: 256.0 KiB of 256.0 KiB (<rate>/s)"
	i := strings.LastIndex(last, "(")
	if i < 0 || !strings.HasSuffix(last, "/s)") {
		t.Fatalf("no rate in %q", last)
	}
	var v float64
	var unit string
	if _, err := fmt.Sscanf(last[i+1:len(last)-3], "%f %s", &v, &unit); err != nil {
		t.Fatalf("rate %q: %v", last[i+1:], err)
	}
	scale := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}[unit]
	if min := float64(len(content)) / elapsed.Seconds(); v*scale < 0.9*min {
		t.Fatalf("rate %q, want at least %s/s (%d bytes in %s)", last[i:], humanBytes(int64(min)), len(content), elapsed)
	}
}
