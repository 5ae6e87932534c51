package emotion

import (
	_ "embed"
	"sync"
)

// weightsBin is the committed model, written by
//
//	moodgate train --data ../shared/data/kote
//
// run from the repository root (see docs/emotion.md).
//
//go:embed model/weights.bin
var weightsBin []byte

var embedded = sync.OnceValues(func() (*Model, error) { return LoadModel(weightsBin) })

// LoadEmbedded returns the classifier built from the weights compiled into
// the binary. It decodes them once; every call returns the same *Model.
func LoadEmbedded() (*Model, error) { return embedded() }

// Embedded is LoadEmbedded for callers that cannot continue without it: it
// panics if the compiled-in weights are corrupt, which a test catches.
func Embedded() *Model {
	m, err := embedded()
	if err != nil {
		panic(err)
	}
	return m
}
