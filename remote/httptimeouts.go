package remote

import (
	"net"
	"net/http"
	"time"
)

// Defaults of HTTPTimeouts.
const (
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 20 * time.Second
)

// HTTPTimeouts bound the phases of an HTTP request that never depend on
// an object's size, in the clients the HTTP back ends (httpread, s3, gcs)
// build. The deadline of a whole request, and the minimum rate of a body,
// are the retrying decorator's (NewRetrying). A zero field means its
// default.
//
// With them a server that accepts connections and never answers fails a
// try within ResponseHeader, and one that does not accept them within
// Dial; both count as the remote being unreachable for NewRetrying.
type HTTPTimeouts struct {
	// Dial bounds connecting, name lookup included.
	Dial time.Duration
	// TLSHandshake bounds the TLS handshake.
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for a response's header once the
	// request, body included, has been sent.
	ResponseHeader time.Duration
}

// WithDefaults returns t with its zero fields set to the defaults.
func (t HTTPTimeouts) WithDefaults() HTTPTimeouts {
	if t.Dial <= 0 {
		t.Dial = DefaultDialTimeout
	}
	if t.TLSHandshake <= 0 {
		t.TLSHandshake = DefaultTLSHandshakeTimeout
	}
	if t.ResponseHeader <= 0 {
		t.ResponseHeader = DefaultResponseHeaderTimeout
	}
	return t
}

// Transport returns a copy of http.DefaultTransport's settings with the
// timeouts of t (zero fields: the defaults).
func (t HTTPTimeouts) Transport() *http.Transport {
	t = t.WithDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: t.Dial, KeepAlive: 30 * time.Second}
	tr.DialContext = d.DialContext
	tr.TLSHandshakeTimeout = t.TLSHandshake
	tr.ResponseHeaderTimeout = t.ResponseHeader
	return tr
}
