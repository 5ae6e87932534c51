package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/session"
)

func init() {
	newOllamaClassifier = func(ctx context.Context, cfg gateway.Config) (emotion.Classifier, error) {
		c, err := ollamaClient(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return c.NewClassifier(ollama.ClassifierConfig{
			Model:   cfg.EmotionModel,
			Mode:    ollama.Mode(cfg.EmotionMode),
			Timeout: cfg.EmotionTimeout,
		})
	}
	newOllamaResponder = func(ctx context.Context, cfg gateway.Config) (session.Responder, error) {
		c, err := ollamaClient(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return c.NewResponder(ollama.ResponderConfig{
			Model:       cfg.ChatModel,
			Timeout:     cfg.ChatTimeout,
			Concurrency: cfg.ChatConcurrency,
		})
	}
}

var (
	ollamaMu      sync.Mutex
	ollamaClients = map[string]*ollama.Client{}
)

// ollamaClient returns the process's one Client for cfg.OllamaHosts, so the
// classifier and the responder share the host pool, the model checks and the
// metrics. The first call starts the model watcher, which runs until ctx ends
// and logs when a model is missing or appears. The classifier and responder
// it builds have a Ready(ctx) error method for readiness probes, and the
// client's Status() has the details.
func ollamaClient(ctx context.Context, cfg gateway.Config) (*ollama.Client, error) {
	if len(cfg.OllamaHosts) == 0 {
		return nil, errors.New("ollama: OLLAMA_HOST is not set")
	}
	key := strings.Join(cfg.OllamaHosts, ",")
	ollamaMu.Lock()
	defer ollamaMu.Unlock()
	if c, ok := ollamaClients[key]; ok {
		return c, nil
	}
	c, err := ollama.New(ollama.Options{
		Hosts:      cfg.OllamaHosts,
		Logger:     slog.Default(),
		Registerer: prometheus.DefaultRegisterer,
	})
	if err != nil {
		return nil, err
	}
	ollamaClients[key] = c
	go c.Watch(ctx)
	return c, nil
}
