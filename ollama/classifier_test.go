package ollama

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/ollama/ollamatest"
)

func TestClassifyFromLogprobs(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "moodgate-emotion")
	fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply { return ollamatest.Digits([4]float64{.1, .7, .15, .05}) })
	_, k := newClassifier(t, fake.URL)

	res, err := k.Classify(testContext(t), "요즘 자꾸 눈물이 나요")
	if err != nil {
		t.Fatal(err)
	}
	want := emotion.Scores{.1, .7, .15, .05}
	for i := range want {
		if math.Abs(res.Scores[i]-want[i]) > 1e-9 {
			t.Fatalf("scores = %v, want %v", res.Scores, want)
		}
	}
	if res.Label != emotion.Sadness || res.Source != emotion.SourceOllama {
		t.Errorf("result = %+v, want sadness from ollama", res)
	}

	reqs := fake.GenerateRequests()
	if len(reqs) != 1 {
		t.Fatalf("%d generate requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Model != "moodgate-emotion" || r.System != FinetunedSystem || r.Prompt != UserPrompt("요즘 자꾸 눈물이 나요") {
		t.Errorf("request model/system/prompt = %q %q %q", r.Model, r.System, r.Prompt)
	}
	if !r.Logprobs || r.TopLogprobs != 20 || r.Stream == nil || *r.Stream || r.Raw {
		t.Errorf("request logprobs=%v top=%d stream=%v raw=%v", r.Logprobs, r.TopLogprobs, r.Stream, r.Raw)
	}
	if r.Think == nil || r.Think.Bool() || !r.Think.IsBool() {
		t.Errorf("request think = %v, want false", r.Think)
	}
	if r.Options["temperature"] != float64(0) || r.Options["num_predict"] != float64(1) {
		t.Errorf("request options = %v", r.Options)
	}
}

func TestClassifyZeroShot(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "gemma2:2b")
	fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply { return ollamatest.Digits([4]float64{.1, .1, .5, .1}) })
	c := newClient(t, Options{Hosts: []string{fake.URL}})
	k, err := c.NewClassifier(ClassifierConfig{Model: "gemma2:2b", Mode: ModeZeroShot})
	if err != nil {
		t.Fatal(err)
	}
	res, err := k.Classify(testContext(t), "합격했어요!")
	if err != nil {
		t.Fatal(err)
	}
	if res.Label != emotion.Joy {
		t.Errorf("label = %v, want joy", res.Label)
	}
	if got := fake.GenerateRequests()[0].System; got != ZeroShotSystem {
		t.Errorf("zero-shot system prompt not sent: %q", got)
	}
	if _, err := c.NewClassifier(ClassifierConfig{Mode: "fewshot"}); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestClassifyReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply ollamatest.Reply
		want  emotion.Label
		err   error
	}{
		{name: "missing logprobs, digit text", reply: ollamatest.Reply{Response: "2"}, want: emotion.Joy},
		{name: "missing logprobs, spaced digit", reply: ollamatest.Reply{Response: " 3"}, want: emotion.Anger},
		{name: "end of generation: no text, no logprobs", reply: ollamatest.Reply{}, err: ErrNoAnswer},
		{name: "missing logprobs, a word", reply: ollamatest.Reply{Response: "기쁨"}, err: ErrNoAnswer},
		{name: "missing logprobs, out of range digit", reply: ollamatest.Reply{Response: "7"}, err: ErrNoAnswer},
		{name: "logprobs without a class", reply: ollamatest.Reply{Response: "joy",
			Logprobs: ollamatest.Position(ollamatest.Token{Text: "joy", P: .6}, ollamatest.Token{Text: "4", P: .4})}, err: ErrNoAnswer},
		{name: "model not found", reply: ollamatest.Reply{Status: http.StatusNotFound, Error: "model 'moodgate-emotion' not found"}, err: ErrModelMissing},
		{name: "server error", reply: ollamatest.Reply{Status: http.StatusInternalServerError, Error: "llama runner process has terminated: exit status 2"}},
		{name: "bad request", reply: ollamatest.Reply{Status: http.StatusBadRequest, Error: "invalid options"}},
		{name: "malformed body", reply: ollamatest.Reply{Response: "1", Malformed: true}},
		{name: "empty body", reply: ollamatest.Reply{Truncate: true}, err: ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, "moodgate-emotion")
			fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply { return tt.reply })
			_, k := newClassifier(t, fake.URL)
			res, err := k.Classify(testContext(t), "아무 문장")
			if tt.reply.Status != 0 || tt.reply.Malformed || tt.err != nil {
				if err == nil {
					t.Fatalf("got %+v, want an error", res)
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Label != tt.want || res.Scores[tt.want] != 1 || res.Source != emotion.SourceOllama {
				t.Errorf("result = %+v, want one-hot %v", res, tt.want)
			}
		})
	}
}

// TestClassifySteering plays a model that was steered by the user text: its
// reply and top tokens follow the injected instruction. Whatever it says,
// the result is one of the four classes or an error.
func TestClassifySteering(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "moodgate-emotion")
	replies := []ollamatest.Reply{
		{Response: "joy", Logprobs: ollamatest.Position(
			ollamatest.Token{Text: "joy", P: .5}, ollamatest.Token{Text: "Joy", P: .2}, ollamatest.Token{Text: "4", P: .1},
			ollamatest.Token{Text: "9", P: .1}, ollamatest.Token{Text: "0", P: .06}, ollamatest.Token{Text: "3", P: .04})},
		{Response: "답", Logprobs: ollamatest.Position(ollamatest.Token{Text: "답", P: .9}, ollamatest.Token{Text: " 2", P: .08},
			ollamatest.Token{Text: "\n", P: .01}, ollamatest.Token{Text: "**", P: .01})},
		{Response: "<start_of_turn>"},
		{Response: "2\n3"},
	}
	i := 0
	fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply { r := replies[i%len(replies)]; i++; return r })
	_, k := newClassifier(t, fake.URL)
	for n, s := range steering[:len(replies)] {
		res, err := k.Classify(testContext(t), s)
		if err != nil {
			if !errors.Is(err, ErrNoAnswer) {
				t.Errorf("%q: err = %v, want ErrNoAnswer", s, err)
			}
			continue
		}
		if !res.Label.Valid() {
			t.Errorf("%q: label %v", s, res.Label)
		}
		var sum float64
		for _, p := range res.Scores {
			sum += p
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("%q: scores %v", s, res.Scores)
		}
		if n == 0 && res.Label != emotion.Neutral {
			t.Errorf("%q: label %v, want the only listed digit with most mass (neutral)", s, res.Label)
		}
		if n == 1 && res.Label != emotion.Joy {
			t.Errorf("%q: label %v, want joy", s, res.Label)
		}
	}
	for _, r := range fake.GenerateRequests() {
		if got := ollamatest.QuotedText(r.Prompt); got == "" {
			t.Errorf("prompt %q does not hold the text as one quoted string", r.Prompt)
		}
	}
}

func TestClassifyTimeout(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "moodgate-emotion")
	fake.OnGenerate(func(*api.GenerateRequest) ollamatest.Reply { return ollamatest.Reply{Hang: true} })
	c := newClient(t, Options{Hosts: []string{fake.URL}})
	k, err := c.NewClassifier(ClassifierConfig{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Classify(testContext(t), "응답이 오지 않는 서버")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	waitFor(t, 5*time.Second, func() error {
		if fake.Aborted() != 1 {
			return errors.New("the fake did not see the request aborted")
		}
		return nil
	})
	// A timeout is not a host failure: the host stays in the pool.
	if st := c.Pool().Status(); !st[0].Up {
		t.Errorf("host marked down after a timeout: %+v", st)
	}

	// The caller's cancellation ends it too.
	ctx, cancel := context.WithCancel(testContext(t))
	errc := make(chan error, 1)
	go func() { _, err := k.Classify(ctx, "x"); errc <- err }()
	waitFor(t, 5*time.Second, func() error {
		if fake.Active() != 1 {
			return errors.New("request not in flight")
		}
		return nil
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
}

func TestClassifyModelMissing(t *testing.T) {
	t.Parallel()
	fake := newFake(t)
	c := newClient(t, Options{Hosts: []string{fake.URL}})
	clk := &clock{t: time.Unix(1_000_000, 0)}
	c.pool.now = clk.now
	k, err := c.NewClassifier(ClassifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if _, err := k.Classify(ctx, "첫 문장"); !errors.Is(err, ErrModelMissing) {
		t.Fatalf("err = %v, want ErrModelMissing", err)
	}
	// Known missing: no more generate requests until a check finds it.
	if _, err := k.Classify(ctx, "둘째 문장"); !errors.Is(err, ErrModelMissing) {
		t.Fatalf("err = %v, want ErrModelMissing", err)
	}
	if n := fake.Hits("/api/generate"); n != 1 {
		t.Errorf("%d generate requests while the model is known missing, want 1", n)
	}
	if err := c.Ready(ctx); !errors.Is(err, ErrModelMissing) {
		t.Errorf("Ready = %v, want ErrModelMissing", err)
	}
	if err := k.Ready(ctx); !errors.Is(err, ErrModelMissing) {
		t.Errorf("classifier Ready = %v, want ErrModelMissing", err)
	}
	st := c.Status().Models
	if len(st) != 1 || st[0].State != StateMissing || st[0].Hint == "" {
		t.Errorf("status = %+v", st)
	}

	// Without any check, a request goes through again after the interval.
	fake.SetModel("moodgate-emotion", true)
	clk.add(DefaultRecheckInterval)
	if _, err := k.Classify(ctx, "이제 됩니다"); err != nil {
		t.Fatalf("after the model appeared: %v", err)
	}
	if n := fake.Hits("/api/generate"); n != 2 {
		t.Errorf("%d generate requests, want 2", n)
	}
}

func TestWatchFindsModel(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "gemma2:2b")
	c := newClient(t, Options{Hosts: []string{fake.URL}, RecheckInterval: 10 * time.Millisecond})
	if _, err := c.NewClassifier(ClassifierConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NewResponder(ResponderConfig{}); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Watch(watchCtx); close(done) }()
	defer func() { stop(); <-done }()
	waitFor(t, 5*time.Second, func() error {
		st := c.Status().Models
		if len(st) != 2 || st[0].State != StatePresent || st[1].State != StateMissing {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	err := c.Ready(ctx)
	if !errors.Is(err, ErrModelMissing) || !strings.Contains(err.Error(), "moodgate-emotion") || strings.Contains(err.Error(), "gemma2") {
		t.Errorf("Ready = %v, want moodgate-emotion missing", err)
	}
	fake.SetModel("moodgate-emotion", true)
	waitFor(t, 5*time.Second, func() error { return c.Ready(ctx) })
	for _, m := range c.Status().Models {
		if m.Warning != "" {
			t.Errorf("%s: warning for a model built from our Modelfile: %s", m.Model, m.Warning)
		}
	}
}

// TestFakeIsFaithful keeps the fake honest about the limits the client
// relies on.
func TestFakeIsFaithful(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "moodgate-emotion")
	cl := api.NewClient(mustParseHost(t, fake.URL), http.DefaultClient)
	ctx := testContext(t)
	var se api.StatusError
	err := cl.Generate(ctx, &api.GenerateRequest{Model: "moodgate-emotion", Prompt: "x", Logprobs: true, TopLogprobs: 21}, func(api.GenerateResponse) error { return nil })
	if !errors.As(err, &se) || se.StatusCode != 400 {
		t.Errorf("top_logprobs 21: %v, want a 400", err)
	}
	_, err = cl.Show(ctx, &api.ShowRequest{Model: "nope"})
	if !errors.As(err, &se) || se.StatusCode != 404 || se.ErrorMessage != "model 'nope' not found" {
		t.Errorf("show missing: %v", err)
	}
	// Streaming: the first chunk carries the token's logprobs, the done
	// chunk none.
	var chunks []api.GenerateResponse
	err = cl.Generate(ctx, &api.GenerateRequest{Model: "moodgate-emotion", Prompt: UserPrompt("행복해"), Logprobs: true, TopLogprobs: 20},
		func(r api.GenerateResponse) error { chunks = append(chunks, r); return nil })
	if err != nil || len(chunks) != 2 || len(chunks[0].Logprobs) != 1 || !chunks[1].Done || len(chunks[1].Logprobs) != 0 {
		t.Errorf("stream = %+v, %v", chunks, err)
	}
}
