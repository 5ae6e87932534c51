package emotion

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// StratifiedFolds assigns each example to one of k folds so that every fold
// holds about the same share of each class. The assignment depends only on
// the labels' order and seed.
func StratifiedFolds(examples []Example, k int, seed uint64) []int {
	fold := make([]int, len(examples))
	rng := rand.New(rand.NewPCG(seed, 0x666f6c6473))
	for c := range NumLabels {
		var idx []int
		for i, e := range examples {
			if e.Label == Label(c) {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for j, i := range idx {
			fold[i] = j % k
		}
	}
	return fold
}

// SplitFold returns the examples outside fold f (train) and inside it (test).
func SplitFold(examples []Example, folds []int, f int) (train, test []Example) {
	for i, e := range examples {
		if folds[i] == f {
			test = append(test, e)
		} else {
			train = append(train, e)
		}
	}
	return train, test
}

// CVResult is the outcome of a cross-validation: the figures of the
// out-of-fold predictions (every example scored by a model that never saw
// it), calibrated with the temperature fitted on those same predictions.
type CVResult struct {
	Folds       int
	Temperature float64
	// Metrics are over all out-of-fold predictions after calibration;
	// Uncalibrated are the same predictions at temperature 1.
	Metrics      Metrics
	Uncalibrated Metrics
	// FoldMetrics are per fold, at the fitted temperature.
	FoldMetrics []Metrics
	// NLL is the mean negative log-likelihood at the fitted temperature.
	NLL float64
	// Offsets are the decision offsets fitted on all out-of-fold
	// predictions (zero unless TuneOffsets). Metrics then score each fold
	// with offsets fitted on the other folds' predictions only, and
	// NoOffsets are the figures without any.
	Offsets   [NumLabels]float64
	NoOffsets Metrics
}

// CrossValidate trains k models, each on k-1 folds (plus opts.Extra, which
// must not contain any of examples' texts), scores the held-out fold and
// fits the temperature that minimises the log loss of the out-of-fold
// predictions. progress, if not nil, is called after each fold.
func CrossValidate(examples []Example, k int, opts TrainOptions, progress func(fold int, m Metrics)) (CVResult, error) {
	if k < 2 {
		return CVResult{}, fmt.Errorf("%w: %d folds, want at least 2", ErrNoData, k)
	}
	o := opts.resolved()
	o.Temperature = 1
	folds := StratifiedFolds(examples, k, o.Seed)
	logits := make([][NumLabels]float64, len(examples))
	for f := range k {
		train, _ := SplitFold(examples, folds, f)
		m, err := Train(train, o)
		if err != nil {
			return CVResult{}, fmt.Errorf("fold %d: %w", f, err)
		}
		if m, err = roundTrip(m); err != nil {
			return CVResult{}, err
		}
		var t Tally
		for i, e := range examples {
			if folds[i] == f {
				logits[i] = m.Logits(e.Text)
				t.AddScores(e.Label, softmax(logits[i], 1))
			}
		}
		if progress != nil {
			progress(f, t.Metrics())
		}
	}
	gold := make([]Label, len(examples))
	for i, e := range examples {
		gold[i] = e.Label
	}
	temp := FitTemperature(logits, gold)
	res := CVResult{Folds: k, Temperature: temp, NLL: nll(logits, gold, temp)}
	foldOffsets := make([][NumLabels]float64, k)
	if o.TuneOffsets {
		res.Offsets = FitOffsets(logits, gold, temp, o.SadnessRecallFloor)
		for f := range k {
			var l [][NumLabels]float64
			var g []Label
			for i := range logits {
				if folds[i] != f {
					l, g = append(l, logits[i]), append(g, gold[i])
				}
			}
			foldOffsets[f] = FitOffsets(l, g, temp, o.SadnessRecallFloor)
		}
	}
	var all, raw, plain Tally
	per := make([]Tally, k)
	for i := range examples {
		s := shifted(logits[i], temp, foldOffsets[folds[i]])
		all.AddScores(gold[i], s)
		per[folds[i]].AddScores(gold[i], s)
		raw.AddScores(gold[i], softmax(logits[i], 1))
		plain.AddScores(gold[i], softmax(logits[i], temp))
	}
	res.Metrics, res.Uncalibrated, res.NoOffsets = all.Metrics(), raw.Metrics(), plain.Metrics()
	for f := range per {
		res.FoldMetrics = append(res.FoldMetrics, per[f].Metrics())
	}
	return res, nil
}

// roundTrip encodes and decodes m, so that held-out figures are those of
// the quantised weights the binary ships.
func roundTrip(m *Model) (*Model, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return LoadModel(b)
}

// shifted is softmax(z/temp + off).
func shifted(z [NumLabels]float64, temp float64, off [NumLabels]float64) Scores {
	for c := range z {
		z[c] += temp * off[c]
	}
	return softmax(z, temp)
}

// FitOffsets returns the decision offsets (joy's fixed at 0) that maximise
// the macro-F1 of argmax(z/temp + offsets), by coordinate ascent over a
// grid of step 0.05 in [-2, 2]; among equal scores the smaller shift wins.
func FitOffsets(logits [][NumLabels]float64, gold []Label, temp, sadFloor float64) [NumLabels]float64 {
	var off [NumLabels]float64
	score := func(off [NumLabels]float64) float64 {
		var t Tally
		for i, z := range logits {
			t.AddScores(gold[i], shifted(z, temp, off))
		}
		m := t.Metrics()
		return m.MacroF1 - 2*max(0, sadFloor-m.PerClass[Sadness].Recall)
	}
	best := score(off)
	for range 4 {
		improved := false
		for _, c := range []Label{Neutral, Sadness, Anger} {
			cur := off[c]
			for step := -40; step <= 40; step++ {
				v := float64(step) * 0.05
				if v == cur {
					continue
				}
				try := off
				try[c] = v
				s := score(try)
				if s > best+1e-12 || (s > best-1e-12 && math.Abs(v) < math.Abs(off[c])) {
					best, off = s, try
					improved = true
				}
			}
		}
		if !improved {
			break
		}
	}
	return off
}

// FitTemperature returns the temperature T in [0.05, 20] minimising the
// mean negative log-likelihood of softmax(logits/T) (golden-section search
// over log T; the loss is convex in 1/T).
func FitTemperature(logits [][NumLabels]float64, gold []Label) float64 {
	lo, hi := math.Log(0.05), math.Log(20)
	f := func(x float64) float64 { return nll(logits, gold, math.Exp(x)) }
	g := (math.Sqrt(5) - 1) / 2
	a, b := hi-g*(hi-lo), lo+g*(hi-lo)
	fa, fb := f(a), f(b)
	for range 60 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - g*(hi-lo)
			fa = f(a)
		} else {
			lo, a, fa = a, b, fb
			b = lo + g*(hi-lo)
			fb = f(b)
		}
	}
	return math.Exp((lo + hi) / 2)
}

func nll(logits [][NumLabels]float64, gold []Label, temp float64) float64 {
	if len(logits) == 0 {
		return 0
	}
	s := 0.0
	for i, z := range logits {
		p := softmax(z, temp)[gold[i]]
		s -= math.Log(math.Max(p, 1e-12))
	}
	return s / float64(len(logits))
}

// TrainCalibrated cross-validates on examples with k folds to fit the
// temperature, then trains the final model on all of them with it.
func TrainCalibrated(examples []Example, k int, opts TrainOptions, progress func(int, Metrics)) (*Model, CVResult, error) {
	cv, err := CrossValidate(examples, k, opts, progress)
	if err != nil {
		return nil, cv, err
	}
	opts.Temperature = cv.Temperature
	opts.Offsets = cv.Offsets
	m, err := Train(examples, opts)
	if err != nil {
		return nil, cv, err
	}
	m, err = roundTrip(m)
	return m, cv, err
}
