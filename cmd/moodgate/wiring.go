package main

import (
	"context"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/session"
)

// Ollama wiring. The ollama package's constructors are bound here (in
// ollama_wire.go) so that serve, classify and eval build the same Ollama
// classifier and responder from one Config. A nil factory means the binary
// was built without Ollama support.
var (
	// newOllamaClassifier builds the Ollama emotion classifier from
	// cfg.OllamaHosts, cfg.EmotionModel and cfg.EmotionMode. It does not
	// apply the fallback chain: the caller does.
	newOllamaClassifier func(ctx context.Context, cfg gateway.Config) (emotion.Classifier, error)
	// newOllamaResponder builds the streaming chat responder from
	// cfg.OllamaHosts, cfg.ChatModel, cfg.ChatTimeout and cfg.ChatConcurrency.
	newOllamaResponder func(ctx context.Context, cfg gateway.Config) (session.Responder, error)
)
