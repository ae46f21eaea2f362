package exporter

import (
	"bytes"
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
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB", 1 << 40: "1.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
