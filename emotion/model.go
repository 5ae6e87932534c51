package emotion

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"
)

// Model is the embedded classifier: a multinomial logistic regression over
// hashed character n-gram features of the normalised text, with a
// temperature for calibrated probabilities. A Model is immutable after
// loading and safe for concurrent use.
type Model struct {
	cfg  FeatureConfig
	w    []float32 // bucket-major: w[b*NumLabels+c]
	bias [NumLabels]float32
	temp float32
}

var _ Classifier = (*Model)(nil)

// Weights file layout (little endian):
//
//	magic "MGEW", version uint16,
//	Bits, MinN, MaxN, flags uint8 (1 Compact, 2 Jamo, 4 Words, 8 Length),
//	temperature float32, bias [4]float32, step float32,
//	weights int16 × (1<<Bits) × 4 (weight = int16 × step),
//	CRC-32 (IEEE) of everything before it.
const (
	weightsMagic   = "MGEW"
	weightsVersion = 1
	headerSize     = 4 + 2 + 4 + 4 + 4*NumLabels + 4
)

// ErrBadWeights is returned when a weights file is not one this version
// wrote: wrong magic, version, size or checksum.
var ErrBadWeights = errors.New("emotion: bad weights file")

// Features returns the feature configuration the model was trained with.
func (m *Model) Features() FeatureConfig { return m.cfg }

// Temperature returns the calibration temperature applied to the logits.
func (m *Model) Temperature() float64 { return float64(m.temp) }

// Classify labels text. It runs the crisis screen too, so a Model used on
// its own still flags crisis messages. ctx is not consulted: scoring takes
// microseconds and never blocks.
func (m *Model) Classify(_ context.Context, text string) (Result, error) {
	s := m.Predict(text)
	crisis, rule := ScreenCrisis(text)
	return Result{Label: s.Argmax(), Scores: s, Source: SourceEmbedded, Crisis: crisis, CrisisRule: rule}, nil
}

// scratch holds the per-call buffers of Predict.
type scratch struct {
	runes []rune
	feats []uint32
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{runes: make([]rune, 0, 256), feats: make([]uint32, 0, 2048)}
}}

// Predict returns the calibrated class probabilities of text.
func (m *Model) Predict(text string) Scores {
	z := m.Logits(text)
	return softmax(z, float64(m.temp))
}

// Logits returns the uncalibrated class scores of text (before temperature).
func (m *Model) Logits(text string) [NumLabels]float64 {
	sc := scratchPool.Get().(*scratch)
	sc.runes = normalize(sc.runes[:0], text)
	sc.feats = m.cfg.appendFeatures(sc.feats[:0], sc.runes)
	var acc [NumLabels]float32
	for _, f := range sc.feats {
		w := m.w[int(f)*NumLabels : int(f)*NumLabels+NumLabels : int(f)*NumLabels+NumLabels]
		acc[0] += w[0]
		acc[1] += w[1]
		acc[2] += w[2]
		acc[3] += w[3]
	}
	var z [NumLabels]float64
	norm := 0.0
	if n := len(sc.feats); n > 0 {
		norm = 1 / math.Sqrt(float64(n))
	}
	for c := range z {
		z[c] = float64(acc[c])*norm + float64(m.bias[c])
	}
	if cap(sc.runes) <= 1<<14 && cap(sc.feats) <= 1<<16 {
		scratchPool.Put(sc)
	}
	return z
}

func softmax(z [NumLabels]float64, temp float64) Scores {
	if temp <= 0 {
		temp = 1
	}
	max := z[0]
	for _, v := range z[1:] {
		max = math.Max(max, v)
	}
	var s Scores
	sum := 0.0
	for c, v := range z {
		s[c] = math.Exp((v - max) / temp)
		sum += s[c]
	}
	for c := range s {
		s[c] /= sum
	}
	return s
}

// MarshalBinary encodes the model in the weights file format, quantising
// each weight to 16 bits. The encoding is deterministic.
func (m *Model) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(headerSize + len(m.w)*2 + 4)
	buf.WriteString(weightsMagic)
	le := binary.LittleEndian
	buf.Write(le.AppendUint16(nil, weightsVersion))
	var flags uint8
	if m.cfg.Compact {
		flags |= 1
	}
	if m.cfg.Jamo {
		flags |= 2
	}
	if m.cfg.Words {
		flags |= 4
	}
	if m.cfg.Length {
		flags |= 8
	}
	buf.Write([]byte{m.cfg.Bits, m.cfg.MinN, m.cfg.MaxN, flags})
	put := func(f float32) { buf.Write(le.AppendUint32(nil, math.Float32bits(f))) }
	put(m.temp)
	for _, b := range m.bias {
		put(b)
	}
	var max float32
	for _, w := range m.w {
		max = float32(math.Max(float64(max), math.Abs(float64(w))))
	}
	step := max / math.MaxInt16
	if step == 0 {
		step = 1
	}
	put(step)
	q := make([]byte, 2*len(m.w))
	for i, w := range m.w {
		le.PutUint16(q[2*i:], uint16(int16(math.Round(float64(w/step)))))
	}
	buf.Write(q)
	buf.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(buf.Bytes())))
	return buf.Bytes(), nil
}

// LoadModel decodes a weights file written by MarshalBinary.
func LoadModel(b []byte) (*Model, error) {
	le := binary.LittleEndian
	if len(b) < headerSize+4 || string(b[:4]) != weightsMagic {
		return nil, fmt.Errorf("%w: no %s header", ErrBadWeights, weightsMagic)
	}
	if v := le.Uint16(b[4:]); v != weightsVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadWeights, v, weightsVersion)
	}
	body, sum := b[:len(b)-4], le.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadWeights)
	}
	m := &Model{cfg: FeatureConfig{
		Bits: b[6], MinN: b[7], MaxN: b[8],
		Compact: b[9]&1 != 0, Jamo: b[9]&2 != 0, Words: b[9]&4 != 0, Length: b[9]&8 != 0,
	}}
	if err := m.cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadWeights, err)
	}
	get := func(off int) float32 { return math.Float32frombits(le.Uint32(b[off:])) }
	m.temp = get(10)
	for c := range m.bias {
		m.bias[c] = get(14 + 4*c)
	}
	step := get(14 + 4*NumLabels)
	n := (1 << m.cfg.Bits) * NumLabels
	if len(body) != headerSize+2*n {
		return nil, fmt.Errorf("%w: %d bytes of weights, want %d", ErrBadWeights, len(body)-headerSize, 2*n)
	}
	if !(m.temp > 0) || math.IsInf(float64(m.temp), 0) || !(step > 0) {
		return nil, fmt.Errorf("%w: temperature %v, step %v", ErrBadWeights, m.temp, step)
	}
	m.w = make([]float32, n)
	for i := range m.w {
		m.w[i] = float32(int16(le.Uint16(body[headerSize+2*i:]))) * step
	}
	return m, nil
}

// ReadModel reads a weights file from r.
func ReadModel(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return LoadModel(b)
}

func (c FeatureConfig) validate() error {
	switch {
	case c.Bits < 10 || c.Bits > 24:
		return fmt.Errorf("hash bits %d outside 10-24", c.Bits)
	case c.MinN < 1 || c.MaxN < c.MinN || c.MaxN > 6:
		return fmt.Errorf("n-gram range %d-%d outside 1-6", c.MinN, c.MaxN)
	}
	return nil
}
