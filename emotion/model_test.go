package emotion

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// benchMessages are typical chat messages (ours, not from the data set).
var benchMessages = []string{
	"오늘 하루 너무 힘들었어 ㅠㅠ",
	"헐 대박 합격했어!!! ㅋㅋㅋㅋ",
	"아 진짜 짜증나네 왜 맨날 나한테만 그래",
	"점심 뭐 먹지",
	"요즘 잠을 잘 못 자서 계속 피곤하고 우울해",
	"고마워 덕분에 기분이 많이 나아졌어",
	"그 사람 말투 때문에 너무 화가 나서 참을 수가 없었어",
	"내일 비 온대",
	"I feel so lonely these days",
	"친구랑 오랜만에 만나서 수다 떨고 왔더니 행복하다 ㅎㅎ",
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ㅋㅋㅋㅋㅋㅋ 웃겨", "ㅋㅋ 웃겨"},
		{"ㅋ", "ㅋㅋ"},
		{"ㅠ ㅜㅜㅜ ㅠㅜ", "ㅠㅠ ㅠㅠ ㅠㅠ"},
		{"ㅎㅎㅎ좋아", "ㅎㅎ좋아"},
		{"  너무   좋아!!!!!  ", "너무 좋아!!"},
		{"아아아아아 HELLO", "아아 hello"},
		{"2024년 12월", "0년 0월"},
		{"탭\t줄\n바꿈", "탭 줄 바꿈"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := string(normalize(nil, tc.in)); got != tc.want {
				t.Errorf("normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFeaturesSpacingVariants(t *testing.T) {
	cfg := DefaultFeatures
	shared := func(a, b string) int {
		fa := cfg.appendFeatures(nil, normalize(nil, a))
		fb := cfg.appendFeatures(nil, normalize(nil, b))
		set := map[uint32]bool{}
		for _, f := range fa {
			set[f] = true
		}
		n := 0
		for _, f := range fb {
			if set[f] {
				n++
			}
		}
		return n
	}
	with := shared("너무 슬퍼", "너무슬퍼")
	cfg.Compact = false
	without := shared("너무 슬퍼", "너무슬퍼")
	if with <= without {
		t.Errorf("compact n-grams add no shared features across spacing: %d vs %d", with, without)
	}
	cfg = DefaultFeatures
	jamo := shared("슬펐다", "슬퍼")
	cfg.Jamo = false
	if noJamo := shared("슬펐다", "슬퍼"); jamo <= noJamo {
		t.Errorf("jamo features add no shared features for 슬펐다/슬퍼: %d vs %d", jamo, noJamo)
	}
}

func TestEmbeddedModel(t *testing.T) {
	m, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	if m != Embedded() {
		t.Error("Embedded returns a different model than LoadEmbedded")
	}
	for _, text := range append(benchMessages, "", "   ", strings.Repeat("ㅋ", 10000)) {
		res, err := m.Classify(context.Background(), text)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, p := range res.Scores {
			if p < 0 || p > 1 || math.IsNaN(p) {
				t.Fatalf("%q: score %v", text, p)
			}
			sum += p
		}
		if math.Abs(sum-1) > 1e-9 || res.Label != res.Scores.Argmax() || res.Source != SourceEmbedded {
			t.Errorf("%q: %+v (sum %v)", text, res, sum)
		}
	}
	res, _ := m.Classify(context.Background(), "죽고 싶어")
	if !res.Crisis {
		t.Error("embedded classifier did not run the crisis screen")
	}
}

func TestWeightsRoundTrip(t *testing.T) {
	m := Embedded()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, weightsBin) {
		t.Error("re-encoding the embedded weights changes their bytes")
	}
	m2, err := LoadModel(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range benchMessages {
		if a, b := m.Predict(text), m2.Predict(text); a != b {
			t.Errorf("%q: %v != %v after round trip", text, a, b)
		}
	}
	corrupt := bytes.Clone(b)
	corrupt[len(corrupt)/2] ^= 1
	for name, data := range map[string][]byte{
		"checksum":  corrupt,
		"truncated": b[:len(b)-10],
		"magic":     append([]byte("XXXX"), b[4:]...),
		"empty":     nil,
	} {
		if _, err := LoadModel(data); !errors.Is(err, ErrBadWeights) {
			t.Errorf("%s: err = %v, want ErrBadWeights", name, err)
		}
	}
}

// TestTrainDeterministic trains twice on a small synthetic set and checks
// the bytes match, and that the model learns the set.
func TestTrainDeterministic(t *testing.T) {
	var ex []Example
	words := [NumLabels][]string{
		{"회의는 3시", "버스 시간표", "내일 날씨", "점심 메뉴"},
		{"너무 슬퍼", "눈물이 나", "우울해 ㅠㅠ", "외로워"},
		{"너무 좋아", "행복해 ㅎㅎ", "신난다", "최고야"},
		{"짜증나", "화가 나", "열받네", "어이없어"},
	}
	for c, ws := range words {
		for i, w := range ws {
			for j := range 5 {
				ex = append(ex, Example{Text: strings.Repeat("음 ", i+j) + w, Label: Label(c)})
			}
		}
	}
	opts := TrainOptions{Features: FeatureConfig{Bits: 12, MinN: 1, MaxN: 3, Compact: true, Jamo: true, Words: true}, Epochs: 5, Seed: 7}
	a, err := Train(ex, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(ex, opts)
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ba, bb) {
		t.Error("two trainings with the same seed differ")
	}
	for c, ws := range words {
		if got := a.Predict(ws[0]).Argmax(); got != Label(c) {
			t.Errorf("%q: predicted %s, want %s", ws[0], got, Label(c))
		}
	}
	if _, err := Train(ex[:20], opts); !errors.Is(err, ErrNoData) {
		t.Errorf("training without three classes: err = %v, want ErrNoData", err)
	}
}

func TestPredictNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	m := Embedded()
	m.Predict("warm up")
	if n := testing.AllocsPerRun(100, func() { m.Predict(benchMessages[4]) }); n != 0 {
		t.Errorf("Predict allocates %v times per message", n)
	}
}

// BenchmarkClassify measures the embedded classifier, crisis screen
// included, on typical chat messages.
func BenchmarkClassify(b *testing.B) {
	m := Embedded()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Classify(ctx, benchMessages[i%len(benchMessages)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyParallel is BenchmarkClassify from GOMAXPROCS goroutines.
func BenchmarkClassifyParallel(b *testing.B) {
	m := Embedded()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			m.Classify(ctx, benchMessages[i%len(benchMessages)])
		}
	})
}

// TestTrainShared trains the multi-task model on a small synthetic set with
// fine labels: it must be deterministic, learn the set, and leave buckets
// that no row touched at zero.
func TestTrainShared(t *testing.T) {
	words := [NumLabels][]string{
		{"회의는 3시", "버스 시간표", "내일 날씨", "점심 메뉴"},
		{"너무 슬퍼", "눈물이 나", "우울해 ㅠㅠ", "외로워"},
		{"너무 좋아", "행복해 ㅎㅎ", "신난다", "최고야"},
		{"짜증나", "화가 나", "열받네", "어이없어"},
	}
	fine := [NumLabels][]int{{24}, {5, 36}, {42, 40}, {6, 22}}
	var ex []Example
	labels := map[string][]int{}
	for c, ws := range words {
		for i, w := range ws {
			for j := range 4 {
				text := strings.Repeat("음 ", i+j) + w
				ex = append(ex, Example{Text: text, Label: Label(c)})
				labels[normKey(text)] = fine[c]
			}
		}
	}
	aux := []string{"서럽고 슬퍼", "행복하고 좋아"}
	labels[normKey(aux[0])] = []int{5, 36, 19}
	labels[normKey(aux[1])] = []int{42, 40}
	opts := TrainOptions{
		Features: FeatureConfig{Bits: 12, MinN: 1, MaxN: 3, Compact: true, Jamo: true, Words: true},
		Epochs:   8, LearningRate: 0.1, Dim: 8, Labels44: labels, AuxOnly: aux, Seed: 3,
	}
	a, err := Train(ex, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Train(ex, opts)
	ba, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ba, bb) {
		t.Error("two trainings with the same seed differ")
	}
	for c, ws := range words {
		if got := a.Predict(ws[1]).Argmax(); got != Label(c) {
			t.Errorf("%q: predicted %s, want %s", ws[1], got, Label(c))
		}
	}
	touched := map[uint32]bool{}
	for _, e := range ex {
		for _, f := range opts.Features.appendFeatures(nil, normalize(nil, e.Text)) {
			touched[f] = true
		}
	}
	for _, text := range aux {
		for _, f := range opts.Features.appendFeatures(nil, normalize(nil, text)) {
			touched[f] = true
		}
	}
	for bkt := range 1 << opts.Features.Bits {
		if touched[uint32(bkt)] {
			continue
		}
		for c := range NumLabels {
			if v := a.w[bkt*NumLabels+c]; v != 0 {
				t.Fatalf("untouched bucket %d has weight %v", bkt, v)
			}
		}
	}
}
