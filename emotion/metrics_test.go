package emotion

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestTallyHandComputed checks every figure against a small case worked out
// by hand.
//
// gold:  N N S S S J J A A A
// pred:  N S S S J J J A A N
// conf: .9 .6 .8 .7 .55 .95 .65 .85 .75 .3
//
// Confusion (rows gold): N: 1 1 0 0 | S: 0 2 1 0 | J: 0 0 2 0 | A: 1 0 0 2.
// Per class P/R: N 1/2, 1/2; S 2/3, 2/3; J 2/3, 1; A 1, 2/3.
// F1: N .5, S 2/3, J .8, A .8. Support 2 3 2 3.
// Accuracy 7/10. Macro-F1 (0.5+0.6667+0.8+0.8)/4 = 0.691667.
// Weighted F1 = (2·.5 + 3·2/3 + 2·.8 + 3·.8)/10 = 0.7.
// Weighted precision = (2·.5 + 3·2/3 + 2·2/3 + 3·1)/10 = 0.733333.
// Weighted recall = accuracy = 0.7.
// ECE bins: [0.3,0.4) {.3 wrong}: |0-.3|·1; [0.5,0.6) {.55 wrong}: .55;
// [0.6,0.7) {.6 wrong, .65 right}: |.5-.625|·2 = .25; [0.7,0.8) {.7, .75
// right}: |1-.725|·2 = .55; [0.8,0.9) {.8, .85 right}: |1-.825|·2 = .35;
// [0.9,1] {.9, .95 right}: |1-.925|·2 = .15. Sum 2.15/10 = 0.215.
func TestTallyHandComputed(t *testing.T) {
	gold := []Label{Neutral, Neutral, Sadness, Sadness, Sadness, Joy, Joy, Anger, Anger, Anger}
	pred := []Label{Neutral, Sadness, Sadness, Sadness, Joy, Joy, Joy, Anger, Anger, Neutral}
	conf := []float64{.9, .6, .8, .7, .55, .95, .65, .85, .75, .3}
	var tl Tally
	for i := range gold {
		tl.Add(gold[i], pred[i], conf[i])
	}
	m := tl.Metrics()
	checks := []struct {
		name      string
		got, want float64
	}{
		{"accuracy", m.Accuracy, 0.7},
		{"macro_f1", m.MacroF1, (0.5 + 2.0/3 + 0.8 + 0.8) / 4},
		{"weighted_f1", m.WeightedF1, 0.7},
		{"weighted_precision", m.WeightedPrecision, (1 + 2 + 2*2.0/3 + 3) / 10},
		{"weighted_recall", m.WeightedRecall, 0.7},
		{"ece", m.ECE, 0.215},
		{"neutral precision", m.PerClass[Neutral].Precision, 0.5},
		{"sadness recall", m.PerClass[Sadness].Recall, 2.0 / 3},
		{"joy precision", m.PerClass[Joy].Precision, 2.0 / 3},
		{"joy recall", m.PerClass[Joy].Recall, 1},
		{"anger f1", m.PerClass[Anger].F1, 0.8},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !near(c.got, c.want) {
				t.Errorf("%s = %.6f, want %.6f", c.name, c.got, c.want)
			}
		})
	}
	if m.N != 10 || m.Confusion[Anger][Neutral] != 1 || m.Confusion[Sadness][Joy] != 1 || m.PerClass[Sadness].Support != 3 {
		t.Errorf("counts wrong: n=%d confusion=%v", m.N, m.Confusion)
	}
}

func TestTallyEdgeCases(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		var tl Tally
		if m := tl.Metrics(); m.N != 0 || m.Accuracy != 0 || m.ECE != 0 {
			t.Errorf("empty tally: %+v", m)
		}
	})
	t.Run("never predicted class has zero precision", func(t *testing.T) {
		var tl Tally
		tl.Add(Joy, Anger, 1.0) // confidence 1.0 falls in the last bin
		tl.Add(Anger, Anger, 1.0)
		m := tl.Metrics()
		if m.PerClass[Joy].Precision != 0 || m.PerClass[Joy].F1 != 0 || !near(m.PerClass[Anger].Precision, 0.5) {
			t.Errorf("per class = %+v", m.PerClass)
		}
		if !near(m.ECE, 0.5) {
			t.Errorf("ECE = %v, want 0.5", m.ECE)
		}
	})
	t.Run("AddScores uses argmax", func(t *testing.T) {
		var tl Tally
		tl.AddScores(Sadness, Scores{0.1, 0.6, 0.2, 0.1})
		if m := tl.Metrics(); m.Accuracy != 1 || !near(m.ECE, 0.4) {
			t.Errorf("got %+v", m)
		}
	})
}

func TestMetricsJSON(t *testing.T) {
	var tl Tally
	tl.Add(Sadness, Sadness, 0.9)
	tl.Add(Joy, Sadness, 0.6)
	b, err := json.Marshal(tl.Metrics())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"accuracy", "weighted_f1", "weighted_precision", "weighted_recall", "macro_f1", "per_class", "confusion", "ece", "n"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	pc := got["per_class"].(map[string]any)["sadness"].(map[string]any)
	if pc["precision"] != 0.5 || pc["recall"] != 1.0 || pc["support"] != 1.0 {
		t.Errorf("per_class.sadness = %v", pc)
	}
	if c := got["confusion"].(map[string]any)["joy"].(map[string]any)["sadness"]; c != 1.0 {
		t.Errorf("confusion.joy.sadness = %v, want 1", c)
	}
	var sb strings.Builder
	if err := tl.Metrics().WriteReport(&sb); err != nil || !strings.Contains(sb.String(), "macro-F1=") {
		t.Errorf("report: %v\n%s", err, sb.String())
	}
}

func TestFitTemperature(t *testing.T) {
	// Logits that are three times too confident: the fitted temperature
	// should be about 3. Gold follows softmax(z/3) exactly in expectation
	// by repeating each row in proportion to its probabilities.
	var logits [][NumLabels]float64
	var gold []Label
	for _, z := range [][NumLabels]float64{{6, 0, 0, 0}, {0, 3, 0, 0}, {0, 0, 4.5, 1.5}} {
		p := softmax(z, 3)
		for c := range NumLabels {
			for range int(math.Round(p[c] * 1000)) {
				logits = append(logits, z)
				gold = append(gold, Label(c))
			}
		}
	}
	if got := FitTemperature(logits, gold); math.Abs(got-3) > 0.05 {
		t.Errorf("FitTemperature = %.4f, want about 3", got)
	}
}

func TestStratifiedFolds(t *testing.T) {
	var ex []Example
	for c, n := range []int{10, 21, 30, 42} {
		for range n {
			ex = append(ex, Example{Label: Label(c)})
		}
	}
	folds := StratifiedFolds(ex, 5, 1)
	var count [5][NumLabels]int
	for i, f := range folds {
		count[f][ex[i].Label]++
	}
	for f := range 5 {
		for c, n := range []int{10, 21, 30, 42} {
			if got := count[f][c]; got < n/5 || got > n/5+1 {
				t.Errorf("fold %d has %d of class %d (of %d)", f, got, c, n)
			}
		}
	}
	if again := StratifiedFolds(ex, 5, 1); !equalInts(again, folds) {
		t.Error("same seed gave different folds")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
