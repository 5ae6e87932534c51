package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
)

func init() { register("classify", "label texts with the emotion classifier", runClassify) }

func runClassify(ctx context.Context, args []string) error {
	return classifyMain(ctx, args, os.Stdin, os.Stdout)
}

// Classifier sources selectable with --source.
const (
	sourceAuto     = "auto"
	sourceEmbedded = "embedded"
	sourceOllama   = "ollama"
)

// classifierFlags are the flags classify and eval share.
type classifierFlags struct {
	source  string
	weights string
}

func (f *classifierFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.source, "source", sourceAuto, "embedded, ollama, or auto (Ollama when OLLAMA_HOST is set, falling back to embedded)")
	fs.StringVar(&f.weights, "weights", "", "embedded model weights file (default: the weights compiled into the binary)")
}

// errNoOllama is returned for --source ollama when there is no Ollama to ask.
var errNoOllama = errors.New("--source ollama: no Ollama classifier")

// buildClassifier returns the classifier --source asks for, wrapped in the
// fallback chain so that the crisis screen and honest Source apply:
// embedded is the model alone, ollama is Ollama alone (its failures are
// errors), auto is Ollama with the embedded fallback when OLLAMA_HOST is set.
func buildClassifier(ctx context.Context, cfg gateway.Config, f classifierFlags) (*emotion.Chain, error) {
	opts := emotion.ChainOptions{Timeout: cfg.EmotionTimeout}
	var model *emotion.Model
	var err error
	if f.weights != "" {
		var b []byte
		if b, err = os.ReadFile(f.weights); err == nil {
			model, err = emotion.LoadModel(b)
		}
	} else {
		model, err = emotion.LoadEmbedded()
	}
	if err != nil {
		return nil, fmt.Errorf("embedded model: %w", err)
	}
	ollama := func() (emotion.Classifier, error) {
		switch {
		case newOllamaClassifier == nil:
			return nil, fmt.Errorf("%w: this binary was built without Ollama support", errNoOllama)
		case len(cfg.OllamaHosts) == 0:
			return nil, fmt.Errorf("%w: set OLLAMA_HOST or --ollama", errNoOllama)
		}
		return newOllamaClassifier(ctx, cfg)
	}
	switch f.source {
	case sourceEmbedded:
		return emotion.NewChain(nil, model, opts), nil
	case sourceOllama:
		o, err := ollama()
		if err != nil {
			return nil, err
		}
		return emotion.NewChain(o, nil, opts), nil
	case sourceAuto:
		if len(cfg.OllamaHosts) == 0 {
			return emotion.NewChain(nil, model, opts), nil
		}
		o, err := ollama()
		if err != nil {
			slog.Warn("Ollama classifier unavailable, using the embedded one", "err", err)
			return emotion.NewChain(nil, model, opts), nil
		}
		return emotion.NewChain(o, model, opts), nil
	}
	return nil, fmt.Errorf("--source %q: want embedded, ollama or auto", f.source)
}

// classifyLine is the --json form of one classified text.
type classifyLine struct {
	Text       string             `json:"text"`
	Label      string             `json:"label"`
	LabelKo    string             `json:"label_ko"`
	Scores     map[string]float64 `json:"scores"`
	Source     emotion.Source     `json:"source"`
	Crisis     bool               `json:"crisis"`
	CrisisRule string             `json:"crisis_rule"`
	LatencyMS  float64            `json:"latency_ms"`
}

func classifyMain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: moodgate classify [--json] [--source embedded|ollama|auto] TEXT…

Labels each TEXT (or each line of standard input when there is none) with
its emotion, the class probabilities, the source that answered and the
crisis screen's verdict. Flags come before the texts.

flags:
`)
		fs.PrintDefaults()
	}
	var cf classifierFlags
	cf.bind(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per text")
	cfg, err := gateway.LoadConfig(fs, args)
	if err != nil {
		return err
	}
	c, err := buildClassifier(ctx, cfg, cf)
	if err != nil {
		return err
	}
	texts := fs.Args()
	if len(texts) == 0 {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if t := strings.TrimSpace(sc.Text()); t != "" {
				texts = append(texts, t)
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
		if len(texts) == 0 {
			fs.Usage()
			return errors.New("no text to classify")
		}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, text := range texts {
		start := time.Now()
		res, err := c.Classify(ctx, text)
		if err != nil {
			return fmt.Errorf("%q: %w", text, err)
		}
		ms := float64(time.Since(start).Microseconds()) / 1000
		if *asJSON {
			if err := enc.Encode(classifyLine{
				Text: text, Label: res.Label.String(), LabelKo: res.Label.Korean(), Scores: res.Scores.Map(),
				Source: res.Source, Crisis: res.Crisis, CrisisRule: res.CrisisRule, LatencyMS: ms,
			}); err != nil {
				return err
			}
			continue
		}
		crisis := "crisis=no"
		if res.Crisis {
			crisis = "CRISIS rule=" + res.CrisisRule
		}
		fmt.Fprintf(w, "%-7s %-4s  neutral=%.3f sadness=%.3f joy=%.3f anger=%.3f  source=%s %s  %.2fms  %s\n",
			res.Label, res.Label.Korean(), res.Scores[emotion.Neutral], res.Scores[emotion.Sadness],
			res.Scores[emotion.Joy], res.Scores[emotion.Anger], res.Source, crisis, ms, text)
	}
	return w.Flush()
}
