package main

import (
	"context"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/ollama/ollamatest"
	"github.com/moodgate/moodgate/session"
)

func TestOllamaWire(t *testing.T) {
	fake := ollamatest.New("zs-model", "chat-model")
	defer fake.Close()
	fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply { return ollamatest.Digits([4]float64{.1, .1, .1, .7}) })
	fake.OnChat(func(*api.ChatRequest) ollamatest.Reply {
		return ollamatest.Reply{Chunks: []string{"네, ", "듣고 있어요."}}
	})
	cfg := gateway.Config{
		OllamaHosts:     []string{fake.URL},
		EmotionModel:    "zs-model",
		EmotionMode:     "zeroshot",
		EmotionTimeout:  5 * time.Second,
		ChatModel:       "chat-model",
		ChatTimeout:     5 * time.Second,
		ChatConcurrency: 2,
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cl, err := newOllamaClassifier(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := newOllamaResponder(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.Classify(ctx, "짜증나")
	if err != nil || res.Label != emotion.Anger || res.Source != emotion.SourceOllama {
		t.Fatalf("Classify = %+v, %v", res, err)
	}
	if got := fake.GenerateRequests()[0].System; got != ollama.ZeroShotSystem {
		t.Errorf("EmotionMode zeroshot not applied: system %q", got)
	}
	text, err := rs.Reply(ctx, session.ReplyRequest{Text: "안녕"}, nil)
	if err != nil || text != "네, 듣고 있어요." || rs.Name() != "ollama" {
		t.Fatalf("Reply = %q, %v", text, err)
	}
	// One client for both: its model checks cover both models.
	k, ok := cl.(*ollama.Classifier)
	if !ok {
		t.Fatalf("classifier is %T", cl)
	}
	c, _ := ollamaClient(ctx, cfg)
	if err := c.Ready(ctx); err != nil {
		t.Errorf("Ready = %v", err)
	}
	if n := len(c.Status().Models); n != 2 {
		t.Errorf("%d models tracked, want emotion and chat", n)
	}
	if err := k.Ready(ctx); err != nil {
		t.Errorf("classifier Ready = %v", err)
	}

	if _, err := newOllamaClassifier(ctx, gateway.Config{}); err == nil {
		t.Error("no hosts accepted")
	}
}
