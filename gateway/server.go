package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/session"
	"github.com/moodgate/moodgate/web"
)

// Deps are the parts a Server is built from. Nil fields get the embedded
// defaults.
type Deps struct {
	// Redis is required: a real server or miniredis, through go-redis.
	Redis redis.UniversalClient
	// Classifier labels messages and must apply the crisis screen, as
	// emotion.Chain does. Nil: a chain over the embedded classifier.
	Classifier emotion.Classifier
	// Responder writes bot replies. Nil: session.Builtin.
	Responder session.Responder
	// Policy routes messages. Nil: loaded from Config.PolicyFile (or the
	// embedded defaults).
	Policy *session.Policy
	// Registry receives metrics and is served at /metrics. Nil: a new one
	// with the Go and process collectors.
	Registry *prometheus.Registry
	// Checks are extra readiness checks (name → check), e.g. Ollama.
	Checks map[string]func(context.Context) error
	// Logger; nil uses slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// ReplyGrace is how long past the chat timeout a streamed reply that
	// was never stored counts as abandoned by its node, so that the user's
	// next connection answers it (recover.go). Zero: 5 s.
	ReplyGrace time.Duration
}

// Server is one gateway node. Several nodes on one Redis behave as one.
type Server struct {
	cfg        Config
	log        *slog.Logger
	store      *session.RedisStore
	mgr        *session.Manager
	hub        *hub
	classifier emotion.Classifier
	responder  session.Responder
	inline     session.Responder // non-nil when replies are produced in the label round trip
	replyGrace time.Duration
	metrics    *metrics
	reg        *prometheus.Registry
	checks     map[string]func(context.Context) error
	echo       *echo.Echo
	upgrader   websocket.Upgrader
	ipLimits   *ipLimits
	operators  *operatorAuth

	ctx      context.Context // the server's life; handling outlives a user's disconnect
	cancel   context.CancelFunc
	draining atomic.Bool
	connsMu  sync.Mutex
	users    map[*userConn]struct{}
	ops      map[*operatorConn]struct{}
	connWG   sync.WaitGroup
}

// New builds a server and starts its feed reader. cfg must be resolved.
func New(ctx context.Context, cfg Config, deps Deps) (*Server, error) {
	if deps.Redis == nil {
		return nil, errors.New("gateway: Deps.Redis is required")
	}
	if cfg.Addr == "" {
		if err := cfg.Resolve(); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, log: deps.Logger, classifier: deps.Classifier, responder: deps.Responder,
		reg: deps.Registry, checks: deps.Checks, users: map[*userConn]struct{}{}, ops: map[*operatorConn]struct{}{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.reg == nil {
		s.reg = NewRegistry()
	}
	s.metrics = newMetrics(s.reg)
	policy := deps.Policy
	if policy == nil {
		var err error
		if policy, err = session.LoadPolicy(cfg.PolicyFile); err != nil {
			return nil, err
		}
	}
	if s.classifier == nil {
		embedded, err := emotion.LoadEmbedded()
		if err != nil {
			return nil, fmt.Errorf("gateway: embedded classifier: %w", err)
		}
		s.classifier = emotion.NewChain(nil, embedded, emotion.ChainOptions{Registerer: s.reg, Logger: s.log})
	}
	if s.responder == nil {
		s.responder = session.Builtin{}
	}
	s.replyGrace = cmp.Or(deps.ReplyGrace, defaultReplyGrace)
	if b, ok := s.responder.(session.Builtin); ok {
		s.inline = b
	}
	s.store = session.NewRedisStore(deps.Redis, session.RedisOptions{
		Prefix: cfg.RedisPrefix, TTL: cfg.SessionTTL, FeedMaxLen: int64(cfg.FeedMaxLen), TimelineCap: policy.MoodModel.TimelineCap})
	s.mgr = &session.Manager{Store: s.store, Policy: policy, Now: deps.Now,
		CrisisReply: emotion.CrisisReply(), CrisisResources: CrisisResources}
	s.hub = newHub(s.store, s.log)
	s.ipLimits = newIPLimits(cfg.MaxConnsPerIP, cfg.MessageRate, cfg.MessageBurst)
	s.operators = newOperatorAuth(cfg.OperatorTokens)
	s.upgrader = websocket.Upgrader{
		ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
		HandshakeTimeout: 10 * time.Second, CheckOrigin: s.checkOrigin,
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	go s.hub.run(s.ctx, ready)
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		s.log.Warn("gateway: feed not reachable yet; starting anyway, readiness is red until it is")
	}
	s.echo = s.routes()
	return s, nil
}

// CrisisResources are the crisis lines named in every crisis escalation.
var CrisisResources = []session.Resource{
	{Name: "자살예방상담전화 (Suicide prevention line, 24h)", Contact: "109"},
	{Name: "마들랜 문자·카카오톡 상담 (text or KakaoTalk)", Contact: "문자 109 / 카카오톡 '마들랜'"},
	{Name: "정신건강 위기상담 (Mental health crisis line)", Contact: "1577-0199"},
	{Name: "긴급 상황 (Immediate danger: police / ambulance)", Contact: "112 / 119"},
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Manager exposes the session lifecycle (for tools and tests).
func (s *Server) Manager() *session.Manager { return s.mgr }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// c.RealIP() keys the per-address limits. Echo's default believes
	// X-Forwarded-For and X-Real-IP from anyone.
	e.IPExtractor = echo.ExtractIPDirect()
	if s.cfg.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		code, msg := http.StatusInternalServerError, "internal error"
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code, msg = he.Code, fmt.Sprint(he.Message)
		}
		if !c.Response().Committed {
			c.JSON(code, map[string]string{"error": msg})
		}
	}
	static := web.Static()
	e.GET("/", fileHandler(static, "index.html"))
	e.GET("/operator", fileHandler(static, "operator.html"))
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static))))
	e.GET("/ws", s.handleUserWS)
	e.GET("/ws/operator", s.handleOperatorWS)
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]bool{"ok": true}) })
	e.GET("/readyz", s.handleReady)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})))
	e.GET("/api/config", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"show_labels": s.cfg.ShowLabels, "protocol": 1})
	})
	// Classification costs an Ollama call and needs no sign-in: each address
	// gets as many as ten chat sessions' worth of messages.
	classifyLimit := newAddrLimiter(s.cfg.MessageRate*10, s.cfg.MessageBurst*10)
	e.POST("/api/classify", s.handleClassify, classifyLimit.middleware, bodyLimit(16<<10))
	op := e.Group("/api/operator", s.operators.middleware)
	s.operatorRoutes(op)
	dbg := e.Group("/debug/pprof", s.operators.middleware)
	dbg.GET("/", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
	dbg.GET("/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	dbg.GET("/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
	dbg.GET("/:name", func(c echo.Context) error {
		pprof.Handler(c.Param("name")).ServeHTTP(c.Response(), c.Request())
		return nil
	})
	return e
}

func fileHandler(fsys fs.FS, name string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return echo.NewHTTPError(http.StatusNotFound, "not found")
		}
		c.Response().Header().Set("Cache-Control", "no-cache")
		c.Response().Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return c.HTMLBlob(http.StatusOK, b)
	}
}

func bodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, n)
			return next(c)
		}
	}
}

// checkOrigin allows the configured origins, the server's own host (the
// chat page and dashboard it serves itself, whether or not a list is
// configured: docs/protocol.md), and clients that send no Origin (not
// browsers).
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func (s *Server) handleReady(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	set := func(name string, err error) {
		if err != nil {
			ok = false
			checks[name] = err.Error()
		} else {
			checks[name] = "ok"
		}
	}
	set("redis", s.store.Ping(ctx))
	var feedErr error
	if !s.hub.healthy.Load() {
		feedErr = errors.New("feed reader cannot read from Redis")
	}
	set("feed", feedErr)
	if r, ok := s.classifier.(interface{ Ready(context.Context) error }); ok {
		set("classifier", r.Ready(ctx))
	} else {
		_, err := s.classifier.Classify(ctx, "안녕하세요")
		set("classifier", err)
	}
	for name, check := range s.checks {
		// Extra checks (Ollama) are reported, not required: the embedded
		// classifier and responder stand in for them.
		if err := check(ctx); err != nil {
			checks[name] = "degraded: " + err.Error()
		} else {
			checks[name] = "ok"
		}
	}
	code := http.StatusOK
	if !ok || s.draining.Load() {
		code = http.StatusServiceUnavailable
	}
	return c.JSON(code, map[string]any{"ready": code == http.StatusOK, "checks": checks})
}

func (s *Server) handleClassify(c echo.Context) error {
	var req struct {
		Text string `json:"text"`
	}
	if err := c.Bind(&req); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "body must be JSON {\"text\": …}")
	}
	if pe := checkText(req.Text); pe != nil {
		return echo.NewHTTPError(http.StatusBadRequest, pe.Message)
	}
	start := time.Now()
	r, err := s.classifier.Classify(c.Request().Context(), req.Text)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "classifier unavailable")
	}
	return c.JSON(http.StatusOK, map[string]any{
		"label": r.Label, "label_ko": r.Label.Korean(), "scores": r.Scores.Map(), "source": r.Source,
		"crisis": r.Crisis, "crisis_rule": r.CrisisRule,
		"latency_ms": float64(time.Since(start).Microseconds()) / 1000,
	})
}

func (s *Server) handleUserWS(c echo.Context) error {
	r := c.Request()
	if s.draining.Load() {
		s.metrics.upgrades.WithLabelValues("user", "draining").Inc()
		return echo.NewHTTPError(http.StatusServiceUnavailable, "shutting down")
	}
	sid, after, err := parseResume(s.cfg.Secret, r.URL.Query())
	switch {
	case errors.Is(err, errForbidden):
		s.metrics.upgrades.WithLabelValues("user", "forbidden").Inc()
		return echo.NewHTTPError(http.StatusForbidden, "invalid session token")
	case err != nil:
		return echo.NewHTTPError(http.StatusBadRequest, "last_seq must be a non-negative integer")
	}
	resuming := sid != ""
	if !resuming {
		sid = NewSessionID()
	}
	if !s.checkOrigin(r) {
		s.metrics.upgrades.WithLabelValues("user", "origin").Inc()
		return echo.NewHTTPError(http.StatusForbidden, "origin not allowed")
	}
	ip := c.RealIP()
	ipLimiter, ok := s.ipLimits.acquire(ip)
	if !ok {
		s.metrics.upgrades.WithLabelValues("user", "too_many").Inc()
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many connections from this address")
	}
	handedOver := false
	defer func() {
		if !handedOver {
			s.ipLimits.release(ip)
		}
	}()
	var st session.State
	if resuming {
		var err error
		if st, err = s.store.State(r.Context(), sid); err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "store unavailable, retry")
		}
		if st.Erased {
			s.metrics.upgrades.WithLabelValues("user", "erased").Inc()
			return echo.NewHTTPError(http.StatusForbidden, "session erased")
		}
	}
	ws, err := s.upgrader.Upgrade(hijackWriter{c.Response()}, r, nil)
	if err != nil {
		s.metrics.upgrades.WithLabelValues("user", "failed").Inc()
		return nil // the upgrader has answered
	}
	s.metrics.upgrades.WithLabelValues("user", "ok").Inc()
	// The connection lives on in a goroutine of its own, so that the HTTP
	// server's goroutine (its stack grown through the middleware, the
	// request, Echo's context) is let go: an idle session costs less.
	handedOver = true
	go func() {
		defer s.ipLimits.release(ip)
		s.serveUser(ws, sid, after, st, ip, ipLimiter)
	}()
	return nil
}

// Why parseResume refuses a query.
var (
	errForbidden  = errors.New("invalid session token")
	errBadLastSeq = errors.New("last_seq must be a non-negative integer")
)

// parseResume reads the session, token and last_seq parameters of a user's
// /ws query. No session means a new session ("" and 0). Otherwise the id
// must be well formed and the token its HMAC under secret (errForbidden),
// and last_seq, when present, a non-negative decimal integer (errBadLastSeq).
func parseResume(secret string, q url.Values) (sid string, after int64, err error) {
	sid = q.Get("session")
	if sid == "" {
		return "", 0, nil
	}
	if !session.ValidID(sid) || !VerifySession(secret, sid, q.Get("token")) {
		return "", 0, errForbidden
	}
	if v := q.Get("last_seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return "", 0, errBadLastSeq
		}
		after = n
	}
	return sid, after, nil
}

func (s *Server) serveUser(ws *websocket.Conn, sid string, after int64, st session.State, ip string, ipLimiter *rate.Limiter) {
	c := &userConn{wsConn: newWSConn(s, ws, "user"), sid: sid, ip: ip,
		ipLimiter: ipLimiter,
		limiter:   rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst)}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	defer c.cancel()
	if !s.track(c, nil) {
		ws.Close()
		return
	}
	defer s.untrack(c, nil)
	s.metrics.connections.WithLabelValues("user").Inc()
	defer s.metrics.connections.WithLabelValues("user").Dec()
	go c.writeLoop()
	c.send(mustJSON(welcomeFrame{Type: "welcome", SessionID: sid, Token: SignSession(s.cfg.Secret, sid),
		Seq: st.Seq, Resumed: st.Exists(), ShowLabels: s.cfg.ShowLabels, Protocol: 1}))
	defer s.hub.unsubscribe(sid, c)
	if err := c.replay(s.ctx, after); err != nil {
		pe := protoErr(CodeStoreUnavailable, "대화 기록을 불러오지 못했어요. 다시 연결해 주세요. (could not load the conversation; reconnect)")
		pe.Retryable = true
		c.sendError(pe)
		close(c.readDone) // nothing was read, nothing will be
		c.close(websocket.CloseTryAgainLater, ReasonReplayFailed)
		<-c.done
		return
	}
	recovered := make(chan struct{})
	go func() {
		defer close(recovered)
		s.recoverReply(c, st)
	}()
	c.readLoop()
	if s.draining.Load() {
		c.finish(websocket.CloseGoingAway, ReasonShutdown, s.cfg.ShutdownTimeout)
	} else {
		c.cancel()
		c.finish(websocket.CloseNormalClosure, ReasonClient, 0)
	}
	<-c.done
	c.cancel()
	<-recovered
}

// track registers a connection unless the server is draining.
func (s *Server) track(u *userConn, o *operatorConn) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.draining.Load() {
		return false
	}
	if u != nil {
		s.users[u] = struct{}{}
	}
	if o != nil {
		s.ops[o] = struct{}{}
	}
	s.connWG.Add(1)
	return true
}

func (s *Server) untrack(u *userConn, o *operatorConn) {
	s.connsMu.Lock()
	delete(s.users, u)
	delete(s.ops, o)
	s.connsMu.Unlock()
	s.connWG.Done()
}

// Shutdown stops taking connections and messages, lets in-flight messages
// finish, closes every socket with 1001, and stops the feed reader. Call it
// after http.Server.Shutdown has stopped the listener.
func (s *Server) Shutdown(ctx context.Context) error {
	s.connsMu.Lock()
	s.draining.Store(true)
	users := make([]*userConn, 0, len(s.users))
	for u := range s.users {
		users = append(users, u)
	}
	ops := make([]*operatorConn, 0, len(s.ops))
	for o := range s.ops {
		ops = append(ops, o)
	}
	s.connsMu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, u := range users {
		// Unblock the read loop; it sees draining and stops reading.
		u.ws.SetReadDeadline(past)
	}
	for _, o := range ops {
		o.close(websocket.CloseGoingAway, ReasonShutdown)
	}
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// The feed reader stops at its next read (within its 2 s block); it
	// holds nothing that needs waiting for.
	s.cancel()
	return err
}
