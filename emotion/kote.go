package emotion

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KOTEData is what the trainer reads from a KOTE directory.
type KOTEData struct {
	// Examples are the rows of val-4class.tsv.
	Examples []Example
	// Extra are the comments of val.tsv that the 4-class rule leaves
	// ambiguous, with soft targets; nil when val.tsv is absent. None of
	// their texts is among Examples' (checked after normalisation), so
	// cross-validation over Examples never scores a comment it trained on.
	Extra []SoftExample
	// Labels44 maps every val.tsv comment (whitespace-normalised) to its
	// label indices, and Ambiguous lists the val.tsv comments that are not
	// in Examples: the auxiliary task of TrainOptions.Dim.
	Labels44  map[string][]int
	Ambiguous []string
}

// LoadKOTE reads val-4class.tsv and, when present, val.tsv from dir.
func LoadKOTE(dir string) (KOTEData, error) {
	var d KOTEData
	f, err := os.Open(filepath.Join(dir, "val-4class.tsv"))
	if err != nil {
		return d, err
	}
	defer f.Close()
	if d.Examples, err = ReadLabelledTSV(f); err != nil {
		return d, fmt.Errorf("val-4class.tsv: %w", err)
	}
	g, err := os.Open(filepath.Join(dir, "val.tsv"))
	if os.IsNotExist(err) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	defer g.Close()
	all, err := ReadKOTE(g)
	if err != nil {
		return d, fmt.Errorf("val.tsv: %w", err)
	}
	d.Extra = SoftKOTE(all, d.Examples)
	labelled := make(map[string]bool, len(d.Examples))
	for _, e := range d.Examples {
		labelled[normKey(e.Text)] = true
	}
	d.Labels44 = make(map[string][]int, len(all))
	for _, e := range all {
		k := normKey(e.Text)
		d.Labels44[k] = e.Labels
		if !labelled[k] {
			d.Ambiguous = append(d.Ambiguous, e.Text)
		}
	}

	return d, nil
}

// SoftKOTE turns the 44-label comments that the 4-class rule leaves
// ambiguous into soft examples, skipping any whose normalised text is among
// exclude's. The target is the rule's summed class weights (없음 counts 2
// for neutral), normalised; comments with a total weight below 3 carry too
// little of the four classes and are left out.
func SoftKOTE(all []KOTEExample, exclude []Example) []SoftExample {
	seen := make(map[string]bool, len(exclude))
	for _, e := range exclude {
		seen[normKey(e.Text)] = true
	}
	var out []SoftExample
	for _, e := range all {
		if _, ok := KOTEClass(e.Labels); ok || seen[normKey(e.Text)] {
			continue
		}
		if s, ok := SoftTarget(e.Labels); ok {
			out = append(out, SoftExample{Text: e.Text, Target: s})
		}
	}
	return out
}

func normKey(s string) string { return strings.Join(strings.Fields(s), " ") }

// SoftTarget is the rule's class weights of a 44-label set (없음 counts 2
// for neutral), normalised to sum to 1. ok is false when the total weight is
// below 3: too little of the four classes to learn from.
func SoftTarget(labels []int) (s Scores, ok bool) {
	s = KOTEWeights(labels)
	for _, l := range labels {
		if l == koteNone {
			s[Neutral] += 2
		}
	}
	sum := s[0] + s[1] + s[2] + s[3]
	if sum < 3 {
		return Scores{}, false
	}
	for c := range s {
		s[c] /= sum
	}
	return s, true
}
