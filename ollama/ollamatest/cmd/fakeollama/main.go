// Command fakeollama runs the ollamatest fake Ollama server, for trying
// moodgate without a model:
//
//	go run ./ollama/ollamatest/cmd/fakeollama -addr 127.0.0.1:11999
//	OLLAMA_HOST=http://127.0.0.1:11999 go run ./cmd/moodgate classify --source ollama "…"
//
// Its classifications come from a keyword count, not a model; its chat
// replies echo the user (-chunk-delay makes them stream slowly).
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/ollama/ollamatest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:11999", "listen address")
	models := flag.String("models", "moodgate-emotion,gemma2:2b", "installed models, comma-separated")
	chunkDelay := flag.Duration("chunk-delay", 0, "wait this long before each streamed chat piece (a slow model)")
	flag.Parse()
	var names []string
	for _, m := range strings.Split(*models, ",") {
		if m = strings.TrimSpace(m); m != "" {
			names = append(names, m)
		}
	}
	s, err := ollamatest.Listen(*addr, names...)
	if err != nil {
		slog.Error("listen", "addr", *addr, "err", err)
		os.Exit(1)
	}
	if *chunkDelay > 0 {
		s.OnChat(func(req *api.ChatRequest) ollamatest.Reply {
			r := ollamatest.EchoChat(req)
			r.ChunkDelay = *chunkDelay
			return r
		})
	}
	slog.Info("fake ollama listening", "url", s.URL, "models", names, "chunk_delay", *chunkDelay)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	s.Close()
}
