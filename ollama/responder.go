package ollama

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/moodgate/moodgate/session"
)

// ResponderConfig configures a Responder. Zero values mean the defaults.
type ResponderConfig struct {
	// Model is the chat model; default "gemma2:2b".
	Model string
	// Timeout bounds one reply, queueing included; default 30s.
	Timeout time.Duration
	// Concurrency is how many generations run at once; default 4.
	Concurrency int
	// MaxWaiting is how many more may wait for a slot; default Concurrency.
	// Negative means none wait.
	MaxWaiting int
	// HistoryTurns is how many of the latest turns of req.History are sent;
	// default 8.
	HistoryTurns int
	// Temperature of the chat model; default 0.7.
	Temperature float64
	// MaxTokens caps a reply (num_predict); default 256.
	MaxTokens int
}

// Responder writes bot replies with an Ollama chat model, streamed through
// /api/chat. It implements session.Responder and is safe for concurrent use.
type Responder struct {
	c    *Client
	cfg  ResponderConfig
	gate *gate
}

var _ session.Responder = (*Responder)(nil)

// NewResponder builds a responder on c and adds its model to c's checks.
func (c *Client) NewResponder(cfg ResponderConfig) (*Responder, error) {
	if cfg.Model == "" {
		cfg.Model = "gemma2:2b"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	switch {
	case cfg.MaxWaiting == 0:
		cfg.MaxWaiting = cfg.Concurrency
	case cfg.MaxWaiting < 0:
		cfg.MaxWaiting = 0
	}
	if cfg.HistoryTurns <= 0 {
		cfg.HistoryTurns = 8
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = 0.7
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 256
	}
	c.track(cfg.Model, "chat", "ollama pull "+cfg.Model, nil)
	return &Responder{c: c, cfg: cfg, gate: newGate(cfg.Concurrency, cfg.MaxWaiting, c.metrics)}, nil
}

// Name is "ollama".
func (r *Responder) Name() string { return "ollama" }

// Ready reports whether the chat model is installed.
func (r *Responder) Ready(ctx context.Context) error {
	if r.c.missing(r.cfg.Model) {
		return fmt.Errorf("%w: %q", ErrModelMissing, r.cfg.Model)
	}
	return r.c.hostsReady()
}

// Messages builds the chat messages for req: the system prompt for the
// session's mood, the latest HistoryTurns turns and the user's text. Bot and
// operator turns are the assistant's.
func (r *Responder) Messages(req session.ReplyRequest) []api.Message {
	msgs := []api.Message{{Role: "system", Content: SystemPrompt(req.Mood, req.Result)}}
	hist := req.History
	if len(hist) > r.cfg.HistoryTurns {
		hist = hist[len(hist)-r.cfg.HistoryTurns:]
	}
	for _, t := range hist {
		text := strings.TrimSpace(t.Text)
		if text == "" {
			continue
		}
		role := "assistant"
		if t.Role == "user" {
			role = "user"
		}
		msgs = append(msgs, api.Message{Role: role, Content: ScrubMarkers(text)})
	}
	return append(msgs, api.Message{Role: "user", Content: ScrubMarkers(req.Text)})
}

// markers matches chat-template control tokens that Ollama would otherwise
// parse as special tokens inside message text: Gemma's turn markers, <bos>,
// <eos>, </s>, and <|…|> tokens of ChatML and Llama 3.
var markers = regexp.MustCompile(`<(?:start_of_turn|end_of_turn|bos|eos|pad|unk|/s|s|\|[^<>|\s]{1,40}\|)>`)

// ScrubMarkers defuses chat-template control tokens in text by writing
// their angle brackets as ‹ and ›, so a user cannot open a fake turn (say,
// a model turn that "agrees" to drop the persona) in the chat prompt.
func ScrubMarkers(text string) string {
	return markers.ReplaceAllStringFunc(text, func(m string) string {
		return "‹" + m[1:len(m)-1] + "›"
	})
}

// Reply streams a reply to req.Text: delta gets each piece as it arrives and
// the whole trimmed text is returned. It refuses crisis messages with
// ErrCrisis, returns session.ErrBusy at once when the queue is full,
// ErrModelMissing while the model is missing, and the context's error when
// the caller goes away or the Timeout passes; cancelling ctx aborts the
// HTTP request, which stops Ollama's generation. A reply that already
// streamed text is not retried on another host.
func (r *Responder) Reply(ctx context.Context, req session.ReplyRequest, delta func(string)) (string, error) {
	if req.Result.Crisis {
		return "", ErrCrisis
	}
	if r.c.missing(r.cfg.Model) {
		return "", fmt.Errorf("%w: %q", ErrModelMissing, r.cfg.Model)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	release, err := r.gate.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()

	start := time.Now()
	text, err := r.generate(ctx, req, delta)
	r.c.metrics.observe("reply", outcome(err), time.Since(start))
	return text, err
}

func (r *Responder) generate(ctx context.Context, req session.ReplyRequest, delta func(string)) (string, error) {
	stream := true
	creq := &api.ChatRequest{
		Model:    r.cfg.Model,
		Messages: r.Messages(req),
		Stream:   &stream,
		Think:    &api.ThinkValue{Value: false},
		Options: map[string]any{
			"temperature": r.cfg.Temperature,
			"num_predict": r.cfg.MaxTokens,
		},
	}
	var sb strings.Builder
	err := r.c.pool.Do(ctx, "reply", func(ctx context.Context, cl *api.Client) error {
		done := false
		err := cl.Chat(ctx, creq, func(resp api.ChatResponse) error {
			if s := resp.Message.Content; s != "" {
				sb.WriteString(s)
				if delta != nil {
					delta(s)
				}
			}
			done = done || resp.Done
			return nil
		})
		if err == nil && !done {
			err = ErrIncomplete
			if ctx.Err() != nil {
				err = ctx.Err()
			}
		}
		if err != nil && sb.Len() > 0 {
			return committed{err}
		}
		return err
	})
	if err != nil {
		if isNotFound(err) {
			r.c.markMissing(r.cfg.Model, err)
			return "", fmt.Errorf("%w: %q: %v", ErrModelMissing, r.cfg.Model, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return "", fmt.Errorf("ollama: reply with %q: %w", r.cfg.Model, err)
	}
	text := strings.TrimSpace(sb.String())
	if text == "" {
		return "", ErrEmptyReply
	}
	return text, nil
}

// gate bounds the generations: admit holds a ticket for every running or
// waiting generation, run one for every running one.
type gate struct {
	admit   chan struct{}
	run     chan struct{}
	metrics *metrics
}

func newGate(running, waiting int, m *metrics) *gate {
	return &gate{admit: make(chan struct{}, running+waiting), run: make(chan struct{}, running), metrics: m}
}

// acquire takes a slot, waiting while ctx lives; it returns session.ErrBusy
// without waiting when every running and waiting place is taken.
func (g *gate) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.admit <- struct{}{}:
	default:
		return nil, session.ErrBusy
	}
	g.metrics.addWaiting(1)
	select {
	case g.run <- struct{}{}:
		g.metrics.addWaiting(-1)
		g.metrics.addRunning(1)
		return func() {
			g.metrics.addRunning(-1)
			<-g.run
			<-g.admit
		}, nil
	case <-ctx.Done():
		g.metrics.addWaiting(-1)
		<-g.admit
		return nil, fmt.Errorf("ollama: waiting for a generation slot: %w", ctx.Err())
	}
}
