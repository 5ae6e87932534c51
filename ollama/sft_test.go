package ollama

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moodgate/moodgate/emotion"
)

// TestSFTRoundTrip proves that a fine-tuning record holds exactly what the
// classifier sends for the same text: the request the fake received is
// compared with the exported line.
func TestSFTRoundTrip(t *testing.T) {
	t.Parallel()
	examples := []emotion.Example{
		{Text: "오늘 정말 행복한 하루였어", Label: emotion.Joy},
		{Text: "왜 나만 이런 일을 당해야 하지? 진짜 화난다", Label: emotion.Anger},
		{Text: "그냥 그래요\n별일 없어요", Label: emotion.Neutral},
		{Text: steering[4], Label: emotion.Sadness},
	}
	var buf bytes.Buffer
	n, err := WriteSFT(&buf, examples, SFTOptions{})
	if err != nil || n != len(examples) {
		t.Fatalf("WriteSFT = %d, %v", n, err)
	}
	fake := newFake(t, "moodgate-emotion")
	_, k := newClassifier(t, fake.URL)
	sc := bufio.NewScanner(&buf)
	for i := 0; sc.Scan(); i++ {
		line := sc.Bytes()
		if bytes.Contains(line, []byte(`\u003c`)) == false && strings.Contains(examples[i].Text, "<") {
			t.Errorf("line %d: < not kept escaped inside the prompt", i+1)
		}
		var rec SFTRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if _, err := k.Classify(testContext(t), examples[i].Text); err != nil {
			t.Fatal(err)
		}
		sent := fake.GenerateRequests()[i]
		if len(rec.Messages) != 3 {
			t.Fatalf("line %d: %d messages", i+1, len(rec.Messages))
		}
		if m := rec.Messages[0]; m.Role != "system" || m.Content != sent.System {
			t.Errorf("line %d: system %q, client sent %q", i+1, m.Content, sent.System)
		}
		if m := rec.Messages[1]; m.Role != "user" || m.Content != sent.Prompt {
			t.Errorf("line %d: user %q, client sent %q", i+1, m.Content, sent.Prompt)
		}
		if m := rec.Messages[2]; m.Role != "assistant" || m.Content != strconv.Itoa(int(examples[i].Label)) {
			t.Errorf("line %d: answer %+v, want %d", i+1, m, examples[i].Label)
		}
		if _, err := ParseAnswer(rec.Messages[2].Content); err != nil {
			t.Errorf("line %d: answer not parseable by the client: %v", i+1, err)
		}
	}
	if _, err := NewSFTRecord("x", emotion.Label(4), SFTOptions{}); err == nil {
		t.Error("label 4 accepted")
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	fake := newFake(t, "moodgate-emotion")
	reg := prometheus.NewRegistry()
	c := newClient(t, Options{Hosts: []string{fake.URL}, Registerer: reg})
	k, err := c.NewClassifier(ClassifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Classify(testContext(t), "기뻐요"); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, reg, "moodgate_ollama_requests_total", map[string]string{"op": "classify", "outcome": "ok"}); got != 1 {
		t.Errorf("classify ok = %v, want 1", got)
	}
	// A second client on the same registry shares the collectors.
	c2 := newClient(t, Options{Hosts: []string{fake.URL}, Registerer: reg})
	if c2.metrics.requests != c.metrics.requests {
		t.Error("second client did not reuse the registered collectors")
	}
}

// counter reads one counter from reg by name and labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
