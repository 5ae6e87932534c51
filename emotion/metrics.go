package emotion

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// ECEBins is the number of equal-width confidence bins of the expected
// calibration error.
const ECEBins = 10

// ClassMetrics are the one-vs-rest figures of one class. A precision or
// recall whose denominator is zero is reported as 0.
type ClassMetrics struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Metrics summarises predictions against gold labels.
type Metrics struct {
	N                 int
	Accuracy          float64
	MacroF1           float64
	WeightedF1        float64
	WeightedPrecision float64
	WeightedRecall    float64
	// ECE is the expected calibration error over ECEBins bins of the
	// predicted class's probability: Σ_b (n_b/N)·|accuracy_b − confidence_b|.
	ECE      float64
	PerClass [NumLabels]ClassMetrics
	// Confusion[gold][predicted] counts examples.
	Confusion [NumLabels][NumLabels]int
}

// Tally accumulates predictions; its zero value is ready to use. It is not
// safe for concurrent use.
type Tally struct {
	confusion [NumLabels][NumLabels]int
	binN      [ECEBins]int
	binConf   [ECEBins]float64
	binRight  [ECEBins]int
}

// Add records one prediction: the gold label, the predicted label and the
// probability the classifier gave its prediction.
func (t *Tally) Add(gold, pred Label, confidence float64) {
	if !gold.Valid() || !pred.Valid() {
		return
	}
	t.confusion[gold][pred]++
	b := int(confidence * ECEBins)
	b = max(0, min(b, ECEBins-1))
	t.binN[b]++
	t.binConf[b] += confidence
	if gold == pred {
		t.binRight[b]++
	}
}

// AddScores records a prediction given as class probabilities; the
// predicted label is their argmax.
func (t *Tally) AddScores(gold Label, s Scores) {
	p := s.Argmax()
	t.Add(gold, p, s[p])
}

// Metrics computes the figures of everything added so far.
func (t *Tally) Metrics() Metrics {
	m := Metrics{Confusion: t.confusion}
	var predicted [NumLabels]int
	right := 0
	for g := range NumLabels {
		for p := range NumLabels {
			n := t.confusion[g][p]
			m.N += n
			m.PerClass[g].Support += n
			predicted[p] += n
			if g == p {
				right += n
			}
		}
	}
	if m.N == 0 {
		return m
	}
	m.Accuracy = float64(right) / float64(m.N)
	for c := range NumLabels {
		tp := t.confusion[c][c]
		cm := &m.PerClass[c]
		cm.Precision = ratio(tp, predicted[c])
		cm.Recall = ratio(tp, cm.Support)
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		w := float64(cm.Support) / float64(m.N)
		m.MacroF1 += cm.F1 / NumLabels
		m.WeightedF1 += w * cm.F1
		m.WeightedPrecision += w * cm.Precision
		m.WeightedRecall += w * cm.Recall
	}
	for b := range ECEBins {
		if t.binN[b] == 0 {
			continue
		}
		n := float64(t.binN[b])
		m.ECE += n / float64(m.N) * math.Abs(float64(t.binRight[b])/n-t.binConf[b]/n)
	}
	return m
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// MarshalJSON encodes the metrics with per-class figures and the confusion
// matrix keyed by English label name (confusion[gold][predicted]).
func (m Metrics) MarshalJSON() ([]byte, error) {
	per := make(map[string]ClassMetrics, NumLabels)
	conf := make(map[string]map[string]int, NumLabels)
	for g := range NumLabels {
		per[Label(g).String()] = m.PerClass[g]
		row := make(map[string]int, NumLabels)
		for p := range NumLabels {
			row[Label(p).String()] = m.Confusion[g][p]
		}
		conf[Label(g).String()] = row
	}
	return json.Marshal(struct {
		N                 int                       `json:"n"`
		Accuracy          float64                   `json:"accuracy"`
		WeightedPrecision float64                   `json:"weighted_precision"`
		WeightedRecall    float64                   `json:"weighted_recall"`
		WeightedF1        float64                   `json:"weighted_f1"`
		MacroF1           float64                   `json:"macro_f1"`
		ECE               float64                   `json:"ece"`
		PerClass          map[string]ClassMetrics   `json:"per_class"`
		Confusion         map[string]map[string]int `json:"confusion"`
	}{m.N, m.Accuracy, m.WeightedPrecision, m.WeightedRecall, m.WeightedF1, m.MacroF1, m.ECE, per, conf})
}

// WriteReport prints the metrics as a human-readable table.
func (m Metrics) WriteReport(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d  accuracy=%.4f  macro-F1=%.4f  weighted P/R/F1=%.4f/%.4f/%.4f  ECE=%.4f\n",
		m.N, m.Accuracy, m.MacroF1, m.WeightedPrecision, m.WeightedRecall, m.WeightedF1, m.ECE)
	fmt.Fprintf(&b, "%-16s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support")
	for c := range NumLabels {
		pc := m.PerClass[c]
		fmt.Fprintf(&b, "%-16s %9.4f %9.4f %9.4f %8d\n", Label(c).String()+" "+Label(c).Korean(), pc.Precision, pc.Recall, pc.F1, pc.Support)
	}
	fmt.Fprintf(&b, "confusion (rows gold, columns predicted):\n%-10s", "")
	for c := range NumLabels {
		fmt.Fprintf(&b, "%9s", Label(c).String())
	}
	b.WriteByte('\n')
	for g := range NumLabels {
		fmt.Fprintf(&b, "%-10s", Label(g).String())
		for p := range NumLabels {
			fmt.Fprintf(&b, "%9d", m.Confusion[g][p])
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
