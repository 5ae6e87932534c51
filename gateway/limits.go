package gateway

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

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

// addrLimiter gives each client address its own token bucket, for HTTP
// endpoints that cost work and need no sign-in (POST /api/classify). Idle
// addresses are dropped once many are held.
type addrLimiter struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	rate  rate.Limit
	burst int
}

const addrLimiterSweep = 4096

func newAddrLimiter(r float64, burst int) *addrLimiter {
	return &addrLimiter{m: map[string]*rate.Limiter{}, rate: rate.Limit(r), burst: burst}
}

func (a *addrLimiter) allow(ip string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.m[ip]
	if l == nil {
		if len(a.m) >= addrLimiterSweep {
			for k, old := range a.m {
				if old.Tokens() >= float64(a.burst) {
					delete(a.m, k)
				}
			}
		}
		l = rate.NewLimiter(a.rate, a.burst)
		a.m[ip] = l
	}
	return l.Allow()
}

func (a *addrLimiter) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !a.allow(c.RealIP()) {
			c.Response().Header().Set("Retry-After", "1")
			return echo.NewHTTPError(http.StatusTooManyRequests, "too many requests from this address")
		}
		return next(c)
	}
}
