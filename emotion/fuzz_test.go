package emotion

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzReadLabelledTSV(f *testing.F) {
	f.Add("text\tlabel\n좋아\tjoy\n")
	f.Add("text\tlabel\n슬퍼\t슬픔\r\n\n화나\t3\n")
	f.Add("text\tlabel\na\tb\tc\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		ex, err := ReadLabelledTSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range ex {
			if !e.Label.Valid() || strings.TrimSpace(e.Text) == "" {
				t.Fatalf("accepted %+v", e)
			}
		}
		// What was read writes back and reads the same.
		var buf bytes.Buffer
		if err := WriteLabelledTSV(&buf, ex); err != nil {
			t.Fatal(err)
		}
		again, err := ReadLabelledTSV(&buf)
		if err != nil || len(again) != len(ex) {
			t.Fatalf("round trip: %v, %d != %d", err, len(again), len(ex))
		}
	})
}

func FuzzReadKOTE(f *testing.F) {
	f.Add("1\t좋다\t42,40\n2\t음\t24\n")
	f.Add("x\t\t\n")
	f.Fuzz(func(t *testing.T, in string) {
		ex, err := ReadKOTE(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range ex {
			for _, l := range e.Labels {
				if l < 0 || l >= KOTELabels {
					t.Fatalf("label %d accepted", l)
				}
			}
			KOTEClass(e.Labels)
		}
	})
}

func FuzzLoadModel(f *testing.F) {
	m, err := Train([]Example{{"a", Neutral}, {"b", Sadness}, {"c", Joy}, {"d", Anger}},
		TrainOptions{Features: FeatureConfig{Bits: 10, MinN: 1, MaxN: 2}, Epochs: 1})
	if err != nil {
		f.Fatal(err)
	}
	small, _ := m.MarshalBinary()
	f.Add(small)
	f.Add(small[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := LoadModel(b)
		if err != nil {
			return
		}
		s := m.Predict("테스트 문장 ㅋㅋ")
		sum := s[0] + s[1] + s[2] + s[3]
		if sum < 0.999 || sum > 1.001 {
			t.Fatalf("scores %v", s)
		}
	})
}

func FuzzPredict(f *testing.F) {
	for _, m := range benchMessages {
		f.Add(m)
	}
	f.Add("ㅋ ㅎ ㅠ\x00\xff")
	m := Embedded()
	f.Fuzz(func(t *testing.T, s string) {
		p := m.Predict(s)
		sum := p[0] + p[1] + p[2] + p[3]
		if sum < 0.999 || sum > 1.001 {
			t.Fatalf("%q: scores %v", s, p)
		}
	})
}
