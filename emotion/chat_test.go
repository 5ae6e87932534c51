package emotion

import (
	"os"
	"strings"
	"testing"
)

func readChat(t *testing.T, path string) []Example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := ReadLabelledTSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestChatDataSets checks the two chat-domain files (ours, see
// data/README.md): the compiled-in training set is the file, the classes
// are balanced, and no evaluation text is also a training text (after
// whitespace normalisation, spaces removed).
func TestChatDataSets(t *testing.T) {
	train, eval := readChat(t, "data/chat-train.tsv"), readChat(t, "data/chat-eval.tsv")
	embedded, err := ChatTrainExamples()
	if err != nil {
		t.Fatal(err)
	}
	if len(embedded) != len(train) {
		t.Errorf("compiled-in chat set has %d rows, the file %d", len(embedded), len(train))
	}
	key := func(s string) string { return strings.Join(strings.Fields(s), "") }
	seen := map[string]bool{}
	for _, e := range train {
		if seen[key(e.Text)] {
			t.Errorf("chat-train: duplicate %q", e.Text)
		}
		seen[key(e.Text)] = true
	}
	for _, e := range eval {
		if seen[key(e.Text)] {
			t.Errorf("chat-eval text %q is also in chat-train", e.Text)
		}
	}
	for name, set := range map[string][]Example{"chat-train": train, "chat-eval": eval} {
		var n [NumLabels]int
		for _, e := range set {
			n[e.Label]++
		}
		for c := range n {
			if n[c] < len(set)/NumLabels-5 || n[c] > len(set)/NumLabels+5 {
				t.Errorf("%s: %d %s rows of %d, want about a quarter", name, n[c], Label(c), len(set))
			}
		}
	}
}

// Floors of TestEmbeddedChatEval: the committed model's measured figures on
// chat-eval (macro-F1 0.921, sadness recall 0.940, see docs/emotion.md)
// minus a margin of about 0.07 (retraining with seeds 2 and 3 measured
// macro-F1 0.849 and 0.898; 200 lines give about ±0.03 of sampling noise).
// They guard against a regression on chat messages that KOTE's
// cross-validation cannot see; the model before the chat set measured 0.570
// and 0.680.
const (
	chatEvalMacroF1Floor       = 0.85
	chatEvalSadnessRecallFloor = 0.85
)

// TestEmbeddedChatEval scores the embedded model on data/chat-eval.tsv, our
// chat-domain check that no training run ever sees, and logs the report.
func TestEmbeddedChatEval(t *testing.T) {
	m := Embedded()
	var tl Tally
	for _, e := range readChat(t, "data/chat-eval.tsv") {
		tl.AddScores(e.Label, m.Predict(e.Text))
	}
	r := tl.Metrics()
	var b strings.Builder
	if err := r.WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("embedded model on data/chat-eval.tsv:\n%s", b.String())
	if r.MacroF1 < chatEvalMacroF1Floor {
		t.Errorf("chat-eval macro-F1 %.4f below the floor %.2f", r.MacroF1, chatEvalMacroF1Floor)
	}
	if s := r.PerClass[Sadness].Recall; s < chatEvalSadnessRecallFloor {
		t.Errorf("chat-eval sadness recall %.4f below the floor %.2f", s, chatEvalSadnessRecallFloor)
	}
}
