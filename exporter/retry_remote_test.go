package exporter

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// The pusher's statuses are those the transaction's own requests retry.
func TestRetryStatusCodesMatchTransient(t *testing.T) {
	t.Parallel()
	codes := retryStatusCodes()
	for c := 100; c < 600; c++ {
		want := transient(context.Background(), &transport.Error{StatusCode: c})
		if got := slices.Contains(codes, c); got != want {
			t.Errorf("status %d: pusher retries %v, transaction retries %v", c, got, want)
		}
	}
	if len(defaultRetry.remoteOptions()) != 3 {
		t.Fatal("the pusher gets backoff, predicate and statuses")
	}
	if uploadRetryable(errors.New("permanent")) || !uploadRetryable(context.DeadlineExceeded) {
		t.Fatal("predicate")
	}
}
