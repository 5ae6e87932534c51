package emotion

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Example is one labelled text of the four-class task.
type Example struct {
	Text  string
	Label Label
}

// ErrBadTSV is returned (wrapped, with a line number) by the TSV readers for
// a file that does not have the expected header or columns.
var ErrBadTSV = errors.New("emotion: malformed TSV")

// maxLineBytes bounds one TSV line; longer lines are an error, not a truncation.
const maxLineBytes = 1 << 20

// ReadLabelledTSV reads a tab-separated file whose header is "text<TAB>label"
// and whose label column holds an English name, a Korean name or an id digit
// (anything ParseLabel accepts). Blank lines are skipped. Errors name the
// 1-based line number.
func ReadLabelledTSV(r io.Reader) ([]Example, error) {
	var out []Example
	header := false
	err := scanLines(r, func(n int, line string) error {
		if n == 1 {
			header = true
			h := strings.Split(strings.TrimPrefix(line, "\ufeff"), "\t")
			if len(h) != 2 || strings.TrimSpace(h[0]) != "text" || strings.TrimSpace(h[1]) != "label" {
				return fmt.Errorf("%w: line 1: header is %q, want \"text<TAB>label\"", ErrBadTSV, line)
			}
			return nil
		}
		if strings.TrimSpace(line) == "" {
			return nil
		}
		i := strings.LastIndexByte(line, '\t')
		if i < 0 {
			return fmt.Errorf("%w: line %d: no tab between text and label", ErrBadTSV, n)
		}
		text, lab := line[:i], line[i+1:]
		if strings.ContainsRune(text, '\t') {
			return fmt.Errorf("%w: line %d: %d columns, want 2", ErrBadTSV, n, strings.Count(line, "\t")+1)
		}
		if strings.TrimSpace(text) == "" {
			return fmt.Errorf("%w: line %d: empty text", ErrBadTSV, n)
		}
		l, err := ParseLabel(lab)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, Example{Text: text, Label: l})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !header {
		return nil, fmt.Errorf("%w: empty file, want a \"text<TAB>label\" header", ErrBadTSV)
	}
	return out, nil
}

// WriteLabelledTSV writes examples in the format ReadLabelledTSV reads, with
// the Korean label names (as in KOTE's val-4class.tsv). Tabs and newlines in
// a text are replaced by spaces so the file stays parseable.
func WriteLabelledTSV(w io.Writer, examples []Example) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("text\tlabel\n")
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	for _, e := range examples {
		if !e.Label.Valid() {
			return fmt.Errorf("%w: %d", ErrUnknownLabel, int(e.Label))
		}
		bw.WriteString(clean.Replace(e.Text))
		bw.WriteByte('\t')
		bw.WriteString(e.Label.Korean())
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// KOTELabels is the number of fine-grained labels in KOTE (labels.txt).
const KOTELabels = 44

// KOTEExample is one row of KOTE's 44-label file (val.tsv): an id, the text
// and the union of its raters' label indices.
type KOTEExample struct {
	ID     string
	Text   string
	Labels []int
}

// ReadKOTE reads KOTE's headerless "id<TAB>text<TAB>i,j,k" file. Label
// indices must lie in [0, KOTELabels).
func ReadKOTE(r io.Reader) ([]KOTEExample, error) {
	var out []KOTEExample
	err := scanLines(r, func(n int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			return fmt.Errorf("%w: line %d: %d columns, want id, text, labels", ErrBadTSV, n, len(cols))
		}
		ex := KOTEExample{ID: cols[0], Text: cols[1]}
		for _, f := range strings.Split(cols[2], ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			v, err := strconv.Atoi(f)
			if err != nil || v < 0 || v >= KOTELabels {
				return fmt.Errorf("%w: line %d: label %q is not an index 0-%d", ErrBadTSV, n, f, KOTELabels-1)
			}
			ex.Labels = append(ex.Labels, v)
		}
		out = append(out, ex)
		return nil
	})
	return out, err
}

// KOTE's four-class rule (see the data's README): label index → class and
// weight (2 for a core label of the class, 1 for a related one).
var koteWeights = map[int]struct {
	class  Label
	weight float64
}{
	42: {Joy, 2}, 40: {Joy, 2}, 28: {Joy, 1}, 32: {Joy, 1}, 2: {Joy, 1},
	13: {Joy, 1}, 4: {Joy, 1}, 1: {Joy, 1}, 43: {Joy, 1}, 14: {Joy, 1},
	5: {Sadness, 2}, 19: {Sadness, 2}, 36: {Sadness, 2}, 27: {Sadness, 1}, 25: {Sadness, 1},
	10: {Sadness, 1}, 38: {Sadness, 1}, 41: {Sadness, 1}, 30: {Sadness, 1},
	6: {Anger, 2}, 22: {Anger, 2}, 31: {Anger, 2}, 0: {Anger, 1},
	21: {Anger, 1}, 3: {Anger, 1}, 20: {Anger, 1},
}

// koteNone is the index of 없음 ("no emotion").
const koteNone = 24

// KOTEWeights sums the rule's weights of labels per class (Neutral stays 0).
func KOTEWeights(labels []int) Scores {
	var s Scores
	for _, l := range labels {
		if w, ok := koteWeights[l]; ok {
			s[w.class] += w.weight
		}
	}
	return s
}

// KOTEClass applies the data README's four-class rule. ok is false for an
// ambiguous comment.
func KOTEClass(labels []int) (l Label, ok bool) {
	s := KOTEWeights(labels)
	none := false
	for _, v := range labels {
		if v == koteNone {
			none = true
		}
	}
	if none && s[Sadness]+s[Joy]+s[Anger] <= 1 {
		return Neutral, true
	}
	best, second := Label(-1), 0.0
	for _, c := range []Label{Sadness, Joy, Anger} {
		switch {
		case best < 0 || s[c] > s[best]:
			if best >= 0 {
				second = s[best]
			}
			best = c
		case s[c] > second:
			second = s[c]
		}
	}
	if s[best] >= 3 && s[best]-second >= 3 {
		return best, true
	}
	return 0, false
}

func scanLines(r io.Reader, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(n, strings.TrimRight(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: after line %d: %v", ErrBadTSV, n, err)
	}
	return nil
}
