package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func events(t *testing.T, evs ...event) string {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestParseEvents(t *testing.T) {
	out := func(test, s string) event { return event{Action: "output", Test: test, Output: s + "\n"} }
	for _, tc := range []struct {
		name, status, reason string
		evs                  []event
	}{
		{"fail names the subtest and the test's message, not the harness's", "fail", "a sub: exit 0, want 63: / more", []event{
			out("TestX", "    x_test.go:1: distribution registry on 127.0.0.1:1 (pid 2)"),
			out("TestX/a_sub", "    x_test.go:5: $ /dir/exporter -layers"),
			out("TestX/a_sub", "    x_test.go:5: exit 0 after 10ms"),
			out("TestX/a_sub", "    x_test.go:6: exit 0, want 63:"),
			out("TestX/a_sub", "        \x1b[33;1mmore\x1b[0m"),
			{Action: "fail", Test: "TestX/a_sub"},
			out("TestX", "    registry.go:9: distribution registry log (tail):"),
			{Action: "fail", Test: "TestX"},
		}},
		{"pass", "pass", "", []event{{Action: "pass", Test: "TestX"}}},
		{"skip", "n/a", "no creator in /d", []event{out("TestX", "    harness.go:3: not applicable: no creator in /d"), {Action: "skip", Test: "TestX"}}},
		{"all subtests skipped", "n/a", "no lifecycle-artifacts in /d", []event{
			out("TestX/one", "    x_test.go:3: not applicable: no lifecycle-artifacts in /d"),
			{Action: "skip", Test: "TestX/one"}, {Action: "skip", Test: "TestX/two"}, {Action: "pass", Test: "TestX"},
		}},
		{"timeout", "fail", "timed out after 15m0s", []event{out("TestX", "panic: test timed out after 15m0s")}},
		{"panic", "fail", "panic: runtime error: index out of range [0] with length 0", []event{
			out("TestX", "panic: runtime error: index out of range [0] with length 0"), {Action: "fail", Test: "TestX"},
		}},
		{"another test's events are ignored", "", "", []event{{Action: "pass", Test: "TestXY"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &Result{Name: "TestX"}
			parseEvents(strings.NewReader(events(t, tc.evs...)), res)
			if res.Status != tc.status || res.Reason != tc.reason {
				t.Fatalf("got %q %q, want %q %q", res.Status, res.Reason, tc.status, tc.reason)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	row := &Row{Tests: []*Result{{Name: "A", Status: "pass"}, {Name: "B", Status: "n/a", Reason: "unit"}}}
	if judge(row); row.Status != "pass" {
		t.Fatalf("pass and n/a: %s", row.Status)
	}
	row = &Row{Tests: []*Result{{Name: "A", Status: "pass"}, {Name: "B", Status: "fail", Reason: "boom"}}}
	if judge(row); row.Status != "fail" || row.Reason != "B: boom" {
		t.Fatalf("pass and fail: %s %s", row.Status, row.Reason)
	}
	row = &Row{Tests: []*Result{{Name: "B", Status: "n/a", Reason: "no rebaser in /d"}}}
	if judge(row); row.Status != "n/a" || row.Reason != "B: no rebaser in /d" {
		t.Fatalf("n/a: %s %s", row.Status, row.Reason)
	}
}
