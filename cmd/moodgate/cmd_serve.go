package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
)

func init() { register("serve", "run the gateway (the default command)", runServe) }

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, err := gateway.LoadConfig(fs, args)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	slog.SetDefault(log)
	if cfg.SecretGenerated {
		log.Warn("MOODGATE_SECRET is not set: generated a random one; session tokens stop working when this process exits, and nodes cannot share sessions")
	}

	rdb, closeRedis, err := openRedis(cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = rdb.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		log.Warn("redis not reachable yet; readiness stays red until it is", "err", err)
	}

	reg := prometheus.DefaultRegisterer.(*prometheus.Registry)
	deps := gateway.Deps{Redis: rdb, Registry: reg, Logger: log, Checks: map[string]func(context.Context) error{}}
	embedded, err := emotion.LoadEmbedded()
	if err != nil {
		return fmt.Errorf("embedded classifier: %w", err)
	}
	var primary emotion.Classifier
	if len(cfg.OllamaHosts) > 0 && newOllamaClassifier != nil {
		if primary, err = newOllamaClassifier(ctx, cfg); err != nil {
			return fmt.Errorf("ollama classifier: %w", err)
		}
		if r, ok := primary.(interface{ Ready(context.Context) error }); ok {
			deps.Checks["ollama_emotion_model"] = r.Ready
		}
		resp, err := newOllamaResponder(ctx, cfg)
		if err != nil {
			return fmt.Errorf("ollama responder: %w", err)
		}
		if r, ok := resp.(interface{ Ready(context.Context) error }); ok {
			deps.Checks["ollama_chat_model"] = r.Ready
		}
		deps.Responder = resp
		log.Info("classifier: ollama with embedded fallback", "hosts", cfg.OllamaHosts, "model", cfg.EmotionModel,
			"mode", cfg.EmotionMode, "timeout", cfg.EmotionTimeout)
		log.Info("responder: ollama chat model, built-in fallback", "model", cfg.ChatModel, "concurrency", cfg.ChatConcurrency)
	} else {
		log.Info("classifier: embedded (no OLLAMA_HOST)")
		log.Info("responder: built-in Korean responder (no OLLAMA_HOST)")
	}
	deps.Classifier = emotion.NewChain(primary, embedded, emotion.ChainOptions{
		Timeout: cfg.EmotionTimeout, Registerer: reg, Logger: log})

	srv, err := gateway.New(ctx, cfg, deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Info("moodgate listening", "addr", ln.Addr().String(), "chat", "http://"+displayAddr(ln.Addr()), "operator", "http://"+displayAddr(ln.Addr())+"/operator",
		"operators", len(cfg.OperatorTokens), "show_labels", cfg.ShowLabels)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: no new connections; finishing in-flight messages", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("gateway shutdown incomplete", "err", err)
	}
	log.Info("stopped")
	return nil
}

// openRedis connects to REDIS_URL, or starts an in-process miniredis that
// the same go-redis code talks to.
func openRedis(cfg gateway.Config, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		rdb := redis.NewClient(opt)
		log.Info("store: redis", "addr", opt.Addr, "db", opt.DB)
		return rdb, func() { rdb.Close() }, nil
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	log.Warn("store: embedded in-process Redis (miniredis) — EPHEMERAL: every session is forgotten when this process exits; set REDIS_URL for a real Redis",
		"addr", m.Addr())
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	return rdb, func() { rdb.Close(); m.Close() }, nil
}

func displayAddr(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
