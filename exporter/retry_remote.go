package exporter

import (
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// remoteOptions give go-containerregistry's pusher this policy, so that its
// uploads and mounts retry as the transaction's own requests do: the same
// exponential backoff (attempts, first wait, doubling, longest wait), the
// same statuses (408, 429, 5xx) at its transport, and the same errors
// (uploadRetryable: go-containerregistry's temporary errors, plus
// timeouts). One policy for every request of a transaction.
func (p retryPolicy) remoteOptions() []remote.Option {
	return []remote.Option{
		remote.WithRetryBackoff(remote.Backoff{Duration: p.first, Factor: 2, Steps: p.attempts, Cap: p.max}),
		remote.WithRetryPredicate(uploadRetryable),
		remote.WithRetryStatusCodes(retryStatusCodes()...),
	}
}

// retryStatusCodes are the statuses transient judges retryable: 408, 429
// and every 5xx.
func retryStatusCodes() []int {
	codes := []int{http.StatusRequestTimeout, http.StatusTooManyRequests}
	for c := 500; c < 600; c++ {
		codes = append(codes, c)
	}
	return codes
}
