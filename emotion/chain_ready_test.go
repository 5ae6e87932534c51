package emotion

import (
	"context"
	"errors"
	"testing"
)

type failing struct{ calls int }

func (f *failing) Classify(context.Context, string) (Result, error) {
	f.calls++
	return Result{}, errors.New("down")
}

func TestChainReady(t *testing.T) {
	primary := &failing{}
	if err := NewChain(primary, Embedded(), ChainOptions{}).Ready(context.Background()); err != nil || primary.calls != 0 {
		t.Fatalf("with a fallback: %v, %d primary calls", err, primary.calls)
	}
	if err := NewChain(primary, nil, ChainOptions{}).Ready(context.Background()); err == nil || primary.calls != 1 {
		t.Fatalf("without a fallback: %v, %d primary calls", err, primary.calls)
	}
}
