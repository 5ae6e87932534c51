package ollama_test

import (
	"context"
	"errors"
	"testing"

	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/ollama/ollamatest"
)

// TestReadyFollowsHosts: readiness reports a dead Ollama, not only a missing
// model, and recovers when the host answers again.
func TestReadyFollowsHosts(t *testing.T) {
	fake := ollamatest.New("moodgate-emotion")
	c, err := ollama.New(ollama.Options{Hosts: []string{fake.URL}})
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.NewClassifier(ollama.ClassifierConfig{Model: "moodgate-emotion"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k.Ready(ctx); err != nil {
		t.Fatalf("ready with the host up: %v", err)
	}
	fake.Close()
	if _, err := k.Classify(ctx, "안녕하세요"); err == nil {
		t.Fatal("classify against a dead host succeeded")
	}
	if err := k.Ready(ctx); !errors.Is(err, ollama.ErrNoHost) {
		t.Fatalf("ready with the host down: %v", err)
	}
}
