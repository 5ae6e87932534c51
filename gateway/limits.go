package gateway

import (
	"sync"

	"golang.org/x/time/rate"
)

// ipLimits counts connections per client address and shares one message
// limiter among each address's connections (golang.org/x/time/rate).
type ipLimits struct {
	mu      sync.Mutex
	entries map[string]*ipEntry
	maxConn int
	rate    rate.Limit
	burst   int
}

type ipEntry struct {
	conns   int
	limiter *rate.Limiter
}

func newIPLimits(maxConn int, perSession float64, burst int) *ipLimits {
	// An address may carry several users (a clinic's NAT): it gets ten
	// sessions' worth of messages.
	return &ipLimits{entries: map[string]*ipEntry{}, maxConn: maxConn, rate: rate.Limit(perSession * 10), burst: burst * 10}
}

// acquire counts a new connection from ip; false when ip has too many.
func (l *ipLimits) acquire(ip string) (*rate.Limiter, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[ip]
	if e == nil {
		e = &ipEntry{limiter: rate.NewLimiter(l.rate, l.burst)}
		l.entries[ip] = e
	}
	if l.maxConn > 0 && e.conns >= l.maxConn {
		return nil, false
	}
	e.conns++
	return e.limiter, true
}

func (l *ipLimits) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[ip]; e != nil {
		if e.conns--; e.conns <= 0 {
			delete(l.entries, ip)
		}
	}
}
