package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/gateway"
)

func init() { register("eval", "score the emotion classifier on a labelled TSV", runEval) }

func runEval(ctx context.Context, args []string) error { return evalMain(ctx, args, os.Stdout) }

func evalMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: moodgate eval [--json] [--source embedded|ollama|auto] [--weights FILE] FILE

Classifies every text of FILE (header text<TAB>label) and prints accuracy,
weighted precision/recall/F1, macro-F1, per-class figures, the confusion
matrix and the expected calibration error (10 bins of the predicted class's
probability).

flags:
`)
		fs.PrintDefaults()
	}
	var cf classifierFlags
	cf.bind(fs)
	asJSON := fs.Bool("json", false, "print one JSON object")
	workers := fs.Int("parallel", 4, "texts classified at once")
	cfg, err := gateway.LoadConfig(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	examples, err := emotion.ReadLabelledTSV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if len(examples) == 0 {
		return fmt.Errorf("%s: no labelled rows", fs.Arg(0))
	}
	c, err := buildClassifier(ctx, cfg, cf)
	if err != nil {
		return err
	}
	results, err := classifyAll(ctx, c, examples, max(1, *workers))
	if err != nil {
		return err
	}
	var tally emotion.Tally
	sources := map[string]int{}
	for i, r := range results {
		tally.Add(examples[i].Label, r.Label, r.Scores[r.Label])
		sources[string(r.Source)]++
	}
	m := tally.Metrics()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(evalJSON{Metrics: m, Sources: sources})
	}
	fmt.Fprintf(stdout, "%s: ", fs.Arg(0))
	if err := m.WriteReport(stdout); err != nil {
		return err
	}
	names := make([]string, 0, len(sources))
	for s := range sources {
		names = append(names, s)
	}
	sort.Strings(names)
	fmt.Fprint(stdout, "answered by:")
	for _, s := range names {
		fmt.Fprintf(stdout, " %s=%d", s, sources[s])
	}
	fmt.Fprintln(stdout)
	return nil
}

// evalJSON is the --json output: the metrics' keys plus "sources", how many
// texts each source answered.
type evalJSON struct {
	emotion.Metrics
	Sources map[string]int
}

func (e evalJSON) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(e.Metrics)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	if obj["sources"], err = json.Marshal(e.Sources); err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// classifyAll labels every example with up to workers calls at once and
// returns the results in order; the first error stops it.
func classifyAll(ctx context.Context, c emotion.Classifier, examples []emotion.Example, workers int) ([]emotion.Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]emotion.Result, len(examples))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := c.Classify(ctx, examples[i].Text)
				if err != nil {
					cancel(fmt.Errorf("row %d: %w", i+1, err))
					return
				}
				results[i] = r
			}
		}()
	}
feed:
	for i := range examples {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return results, nil
}
