package ollama

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/moodgate/moodgate/ollama/ollamatest"
)

// waitFor polls cond until it returns nil or timeout passes (then fails
// the test with cond's last error).
func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFake(t *testing.T, models ...string) *ollamatest.Server {
	t.Helper()
	s := ollamatest.New(models...)
	t.Cleanup(s.Close)
	return s
}

// newClassifier is a client with one fake host and a fine-tuned classifier.
func newClassifier(t *testing.T, hosts ...string) (*Client, *Classifier) {
	t.Helper()
	c := newClient(t, Options{Hosts: hosts})
	k, err := c.NewClassifier(ClassifierConfig{Model: "moodgate-emotion"})
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
