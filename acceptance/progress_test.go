//go:build acceptance

package acceptance_test

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/cnb-artifacts/lifecycle/acceptance/fixture"
	"github.com/cnb-artifacts/lifecycle/acceptance/harness"
)

// progressLine is R11-3's line for the artifact of TestExportLogsUploadProgress.
var progressLine = regexp.MustCompile(`^Uploading artifact 'test/progress:out' \(tag 'big'\) file "big\.bin": [0-9.]+ MiB of 40\.0 MiB \([0-9.]+ [KM]iB/s\)$`)

// An artifact upload that lasts longer than 5 seconds logs where it is, at
// info level, every 5 seconds (docs/spec.md R11-3); the same export over a
// fast link logs nothing extra. The slow link is the counting proxy passing
// uploads at 5 MiB/s in front of distribution 2.8: 40 MiB take about 8 s.
func TestExportLogsUploadProgress(t *testing.T) {
	reg := harness.StartDistribution(t)
	proxy := harness.NewCountingProxy(t, reg.Host)
	run := fixture.PushRunImage(t, reg.Host+"/run")
	data := make([]byte, 40<<20)
	r := rand.New(rand.NewChaCha8([32]byte{'p', 'r', 'o', 'g', 'r', 'e', 's', 's'}))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	w := fixture.New(t, run, fixture.Plain(), fixture.Buildpack{ID: "test/progress", Version: "1.0.0", Layers: []fixture.Layer{{Name: "out", Files: map[string][]byte{
		"artifacts.toml": []byte("[[artifact]]\ntag = \"big\"\ntype = \"application/vnd.cnb.test.v1\"\nfile = \"big.bin\"\n"),
		"big.bin":        data,
	}}}})

	for _, tc := range []struct {
		name  string
		rate  int64
		lines int // at least, and 0 means none
	}{
		{"slow link", 5 << 20, 1},
		{"fast link", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.SetUploadRate(tc.rate)
			repo := proxy.Host + "/progress-" + strings.ReplaceAll(tc.name, " ", "-")
			out, code := export(t, w, false, "0.13", nil, repo+":latest")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			var lines []string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "Uploading") {
					lines = append(lines, l)
					if !progressLine.MatchString(l) {
						t.Errorf("progress line %q does not match %s", l, progressLine)
					}
				}
			}
			switch {
			case tc.lines == 0 && len(lines) > 0:
				t.Errorf("a short upload logged progress:\n%s", strings.Join(lines, "\n"))
			case len(lines) < tc.lines:
				t.Errorf("got %d progress lines, want at least %d; output:\n%s", len(lines), tc.lines, out)
			}
			t.Logf("%d progress lines: %q", len(lines), lines)
		})
	}
}
