package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
)

// stubOllama answers every text with anger from "ollama", or fails.
type stubOllama struct{ fail bool }

func (s stubOllama) Classify(context.Context, string) (emotion.Result, error) {
	if s.fail {
		return emotion.Result{}, errors.New("ollama: connection refused")
	}
	return emotion.Result{Label: emotion.Anger, Scores: emotion.Scores{0, 0, 0, 1}, Source: emotion.SourceOllama}, nil
}

// withOllama swaps the Ollama factory for the test (not parallel-safe:
// tests using it do not call t.Parallel).
func withOllama(t *testing.T, c emotion.Classifier) {
	t.Helper()
	old := newOllamaClassifier
	t.Cleanup(func() { newOllamaClassifier = old })
	if c == nil {
		newOllamaClassifier = nil
		return
	}
	newOllamaClassifier = func(context.Context, gateway.Config) (emotion.Classifier, error) { return c, nil }
}

func classifyJSON(t *testing.T, args ...string) []classifyLine {
	t.Helper()
	var out bytes.Buffer
	if err := classifyMain(context.Background(), args, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	var lines []classifyLine
	dec := json.NewDecoder(&out)
	for dec.More() {
		var l classifyLine
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestClassifyJSON(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	lines := classifyJSON(t, "--json", "--source", "embedded", "오늘 너무 행복해 ㅋㅋ", "요즘 죽고 싶다는 생각만 들어")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	for _, l := range lines {
		if l.Source != emotion.SourceEmbedded || len(l.Scores) != 4 || l.LabelKo == "" || l.LatencyMS < 0 {
			t.Errorf("line %+v", l)
		}
		if lab, err := emotion.ParseLabel(l.Label); err != nil || lab.Korean() != l.LabelKo {
			t.Errorf("label %q / %q", l.Label, l.LabelKo)
		}
	}
	if lines[0].Crisis || !lines[1].Crisis || lines[1].CrisisRule != "want_to_die" {
		t.Errorf("crisis flags: %+v / %+v", lines[0], lines[1])
	}
}

func TestClassifyText(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	var out bytes.Buffer
	if err := classifyMain(context.Background(), nil, strings.NewReader("첫 줄\n\n자해하고 싶어\n"), &out); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(got) != 2 || !strings.Contains(got[1], "CRISIS rule=self_harm") || !strings.Contains(got[0], "source=embedded") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestClassifySources(t *testing.T) {
	tests := []struct {
		name       string
		host       string
		ollama     emotion.Classifier
		source     string
		wantSource emotion.Source
		wantErr    error
	}{
		{"auto without host is embedded", "", stubOllama{}, "auto", emotion.SourceEmbedded, nil},
		{"auto with host asks ollama", "http://127.0.0.1:1", stubOllama{}, "auto", emotion.SourceOllama, nil},
		{"auto falls back", "http://127.0.0.1:1", stubOllama{fail: true}, "auto", emotion.SourceEmbedded, nil},
		{"auto without factory is embedded", "http://127.0.0.1:1", nil, "auto", emotion.SourceEmbedded, nil},
		{"ollama without factory", "http://127.0.0.1:1", nil, "ollama", "", errNoOllama},
		{"ollama without host", "", stubOllama{}, "ollama", "", errNoOllama},
		{"ollama only", "http://127.0.0.1:1", stubOllama{}, "ollama", emotion.SourceOllama, nil},
		{"ollama failing is an error", "http://127.0.0.1:1", stubOllama{fail: true}, "ollama", "", emotion.ErrNoClassifier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OLLAMA_HOST", tc.host)
			withOllama(t, tc.ollama)
			var out bytes.Buffer
			err := classifyMain(context.Background(), []string{"--json", "--source", tc.source, "화가 난다"}, nil, &out)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var l classifyLine
			if err := json.Unmarshal(out.Bytes(), &l); err != nil {
				t.Fatal(err)
			}
			if l.Source != tc.wantSource {
				t.Errorf("source %q, want %q", l.Source, tc.wantSource)
			}
		})
	}
}

func TestClassifyBadSource(t *testing.T) {
	err := classifyMain(context.Background(), []string{"--source", "gpt", "x"}, nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "embedded, ollama or auto") {
		t.Errorf("err = %v", err)
	}
}
