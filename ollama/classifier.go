package ollama

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/emotion"
)

// ClassifierConfig configures a Classifier.
type ClassifierConfig struct {
	// Model is the Ollama model; default "moodgate-emotion".
	Model string
	// Mode is ModeFinetuned (default) or ModeZeroShot.
	Mode Mode
	// Timeout bounds one classification on top of the caller's context;
	// zero leaves it to the caller (the fallback chain sets its own).
	Timeout time.Duration
	// KeepAlive is sent as keep_alive so the model stays loaded between
	// messages; zero leaves Ollama's default (5m).
	KeepAlive time.Duration
}

// Classifier labels texts with an Ollama model in one forward pass: the
// model generates a single token, a digit 0-3, and the class distribution is
// read from that token's top log-probabilities (see Distribution). It
// implements emotion.Classifier and is safe for concurrent use.
type Classifier struct {
	c   *Client
	cfg ClassifierConfig
}

var _ emotion.Classifier = (*Classifier)(nil)

// NewClassifier builds a classifier on c and adds its model to c's checks.
func (c *Client) NewClassifier(cfg ClassifierConfig) (*Classifier, error) {
	if cfg.Model == "" {
		cfg.Model = "moodgate-emotion"
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeFinetuned
	case ModeFinetuned, ModeZeroShot:
	default:
		return nil, fmt.Errorf("ollama: classifier mode %q is neither %q nor %q", cfg.Mode, ModeFinetuned, ModeZeroShot)
	}
	hint := "ollama create " + cfg.Model + " -q q4_K_M -f Modelfile (see docs/ollama.md)"
	var verify func(*api.ShowResponse) string
	if cfg.Mode == ModeZeroShot {
		hint = "ollama pull " + cfg.Model
	} else {
		verify = verifyFinetuned
	}
	c.track(cfg.Model, "emotion", hint, verify)
	return &Classifier{c: c, cfg: cfg}, nil
}

// verifyFinetuned warns when a fine-tuned model was not built from our
// Modelfile: its template must render the Gemma turns and its SYSTEM should
// be ours (the client sends its own, so a different one is only a warning).
func verifyFinetuned(r *api.ShowResponse) string {
	var w []string
	if !strings.Contains(r.Template, "<start_of_turn>") || !strings.Contains(r.Template, ".Prompt") {
		w = append(w, "template does not render Gemma turns with .Prompt; was it created from moodgate's Modelfile?")
	}
	if r.System != "" && strings.TrimSpace(r.System) != FinetunedSystem {
		w = append(w, "SYSTEM differs from the client's prompt (the client's is sent with each request)")
	}
	return strings.Join(w, "; ")
}

// Model returns the model name.
func (k *Classifier) Model() string { return k.cfg.Model }

// Ready reports whether the classifier's model is installed (see
// Client.Ready, which covers every model of the client).
func (k *Classifier) Ready(ctx context.Context) error {
	if k.c.missing(k.cfg.Model) {
		return fmt.Errorf("%w: %q", ErrModelMissing, k.cfg.Model)
	}
	return k.c.hostsReady()
}

// Request is the exact generate request sent for text; the fine-tuning set
// is written from the same System and Prompt.
func (k *Classifier) Request(text string) *api.GenerateRequest {
	return classifyRequest(k.cfg.Model, k.cfg.Mode, text, k.cfg.KeepAlive)
}

func classifyRequest(model string, mode Mode, text string, keepAlive time.Duration) *api.GenerateRequest {
	stream := false
	req := &api.GenerateRequest{
		Model:  model,
		System: mode.System(),
		Prompt: UserPrompt(text),
		Stream: &stream,
		Options: map[string]any{
			"temperature": 0,
			"num_predict": 1,
		},
		Think:       &api.ThinkValue{Value: false},
		Logprobs:    true,
		TopLogprobs: TopLogprobs,
	}
	if keepAlive > 0 {
		req.KeepAlive = &api.Duration{Duration: keepAlive}
	}
	return req
}

// Classify labels text. It returns ErrModelMissing at once while the model is
// known to be missing, ErrNoAnswer when the reply holds no class, ErrNoHost
// when every host is cooling down, and the context's error when ctx ends
// first; the caller falls back on any error. The result's Source is
// emotion.SourceOllama; Crisis is left to the crisis screen.
func (k *Classifier) Classify(ctx context.Context, text string) (emotion.Result, error) {
	if k.c.missing(k.cfg.Model) {
		return emotion.Result{}, fmt.Errorf("%w: %q", ErrModelMissing, k.cfg.Model)
	}
	if k.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, k.cfg.Timeout)
		defer cancel()
	}
	start := time.Now()
	res, err := k.classify(ctx, text)
	k.c.metrics.observe("classify", outcome(err), time.Since(start))
	return res, err
}

func (k *Classifier) classify(ctx context.Context, text string) (emotion.Result, error) {
	req := k.Request(text)
	var final api.GenerateResponse
	err := k.c.pool.Do(ctx, "classify", func(ctx context.Context, cl *api.Client) error {
		done := false
		var lps []api.Logprob
		var sb strings.Builder
		err := cl.Generate(ctx, req, func(r api.GenerateResponse) error {
			// Streamed or not, each chunk carries its own tokens' logprobs;
			// gather them so either form works.
			lps = append(lps, r.Logprobs...)
			sb.WriteString(r.Response)
			if r.Done {
				done = true
				final = r
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !done {
			// api.Client ignores read errors of the stream: tell a cut
			// connection and our own deadline apart from a full answer.
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ErrIncomplete
		}
		final.Logprobs, final.Response = lps, sb.String()
		return nil
	})
	if err != nil {
		if isNotFound(err) {
			k.c.markMissing(k.cfg.Model, err)
			return emotion.Result{}, fmt.Errorf("%w: %q: %v", ErrModelMissing, k.cfg.Model, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return emotion.Result{}, fmt.Errorf("ollama: classify with %q: %w", k.cfg.Model, err)
	}
	scores, _, err := Distribution(final.Logprobs)
	if errors.Is(err, errNoLogprobs) {
		var l emotion.Label
		l, err = ParseAnswer(final.Response)
		scores = oneHot(l)
	}
	if err != nil {
		return emotion.Result{}, fmt.Errorf("ollama: classify with %q: %w", k.cfg.Model, err)
	}
	return emotion.Result{Label: scores.Argmax(), Scores: scores, Source: emotion.SourceOllama}, nil
}
