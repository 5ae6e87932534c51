package ollama_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/ollama"
	"github.com/moodgate/moodgate/ollama/ollamatest"
	"github.com/moodgate/moodgate/session"
)

// A streamed reply from the fake server: each piece reaches the callback as
// it arrives, and Reply returns the whole text.
func ExampleResponder_Reply() {
	fake := ollamatest.New("gemma2:2b")
	defer fake.Close()
	fake.OnChat(func(*api.ChatRequest) ollamatest.Reply {
		return ollamatest.Reply{Chunks: ollamatest.Words("많이 속상하셨겠어요. 어떤 일이 있었는지 들려주실래요?")}
	})
	c, _ := ollama.New(ollama.Options{Hosts: []string{fake.URL}, Logger: slog.New(slog.DiscardHandler)})
	r, _ := c.NewResponder(ollama.ResponderConfig{Model: "gemma2:2b"})
	text, err := r.Reply(context.Background(), session.ReplyRequest{
		Text:   "오늘 친구랑 크게 싸웠어요",
		Result: emotion.Result{Label: emotion.Sadness, Scores: emotion.Scores{.1, .6, .1, .2}},
	}, func(piece string) { fmt.Printf("delta %q\n", piece) })
	fmt.Println(text, err)
	// Output:
	// delta "많이 "
	// delta "속상하셨겠어요. "
	// delta "어떤 "
	// delta "일이 "
	// delta "있었는지 "
	// delta "들려주실래요?"
	// 많이 속상하셨겠어요. 어떤 일이 있었는지 들려주실래요? <nil>
}

// Classification against the fake: the class distribution comes from the
// top logprobs of the single generated digit.
func ExampleClassifier_Classify() {
	fake := ollamatest.New("moodgate-emotion")
	defer fake.Close()
	fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply {
		return ollamatest.Digits([4]float64{.05, .1, .8, .05})
	})
	c, _ := ollama.New(ollama.Options{Hosts: []string{fake.URL}, Logger: slog.New(slog.DiscardHandler)})
	k, _ := c.NewClassifier(ollama.ClassifierConfig{})
	res, err := k.Classify(context.Background(), "드디어 합격했어요!")
	fmt.Printf("%s %.2f %s %v\n", res.Label, res.Scores, res.Source, err)
	// Output:
	// joy [0.05 0.10 0.80 0.05] ollama <nil>
}
