package exporter

import (
	"fmt"
	"io"
	"time"

	"github.com/buildpacks/lifecycle/log"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cnb-artifacts/lifecycle/artifacts"
)

// defaultProgressInterval is how often a long artifact upload says where it
// is. An upload that ends sooner logs nothing, so short exports print what
// the stock exporter prints.
const defaultProgressInterval = 5 * time.Second

// withProgress makes l, the upload of an artifact file, log at info level
// every interval while it is read: bytes sent of the file's size, and the
// rate. Blobs that are not files are returned as they are.
func withProgress(l v1.Layer, b artifacts.Blob, what string, logger log.Logger, every time.Duration) v1.Layer {
	f, ok := b.(artifacts.FileBlob)
	if !ok || every <= 0 {
		return l
	}
	return &progressLayer{Layer: l, file: f, what: what, logger: logger, every: every}
}

type progressLayer struct {
	v1.Layer
	file   artifacts.FileBlob
	what   string
	logger log.Logger
	every  time.Duration
}

func (p *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := p.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	total, _ := p.file.FileSize()
	now := time.Now()
	return &progressReader{ReadCloser: rc, p: p, total: total, start: now, last: now}, nil
}

func (p *progressLayer) Uncompressed() (io.ReadCloser, error) { return p.Compressed() }

type progressReader struct {
	io.ReadCloser
	p           *progressLayer
	total, sent int64
	start, last time.Time
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	r.sent += int64(n)
	if now := time.Now(); now.Sub(r.last) >= r.p.every {
		r.last = now
		rate := float64(r.sent) / now.Sub(r.start).Seconds()
		r.p.logger.Infof("Uploading %s: %s of %s (%s/s)", r.p.what, humanBytes(r.sent), humanBytes(r.total), humanBytes(int64(rate)))
	}
	return n, err
}

// humanBytes writes n in binary units, as "512.0 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
