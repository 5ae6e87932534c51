package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/moodgate/moodgate/emotion"
	"github.com/moodgate/moodgate/ollama"
)

func init() {
	register("export-sft", "write the fine-tuning set for the Ollama emotion model", runExportSFT)
}

func runExportSFT(ctx context.Context, args []string) error {
	return exportSFTMain(ctx, args, os.Stdout, os.Stderr)
}

func exportSFTMain(_ context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("export-sft", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: moodgate export-sft --data FILE [--exclude FILE] [--out FILE] [--fold-system]

Writes the instruction-tuning set for the Ollama emotion model as JSON lines,
one chat per labelled text of FILE (text<TAB>label):

  {"messages":[{"role":"system","content":…},{"role":"user","content":"문장: \"…\""},{"role":"assistant","content":"1"}]}

The system and user contents are exactly what moodgate sends to the model,
and the answer is the class digit (0 무감정, 1 슬픔, 2 기쁨, 3 분노). See
docs/ollama.md, "Bring your own fine-tune". Texts also found in the
--exclude file (a held-out fold, e.g. from moodgate train --write-holdout)
are left out so that the fine-tune can be evaluated on them.

flags:
`)
		fs.PrintDefaults()
	}
	var (
		data = fs.String("data", "", "labelled TSV with a text<TAB>label header (required)")
		out  = fs.String("out", "", "JSONL file to write (default: standard output)")
		excl = fs.String("exclude", "", "labelled TSV whose texts are left out (the evaluation fold)")
		fold = fs.Bool("fold-system", false, "put the system prompt into the user turn, for chat templates without a system role (Gemma)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("--data FILE is required and no arguments are taken")
	}
	f, err := os.Open(*data)
	if err != nil {
		return err
	}
	examples, err := emotion.ReadLabelledTSV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *data, err)
	}
	excluded := 0
	if *excl != "" {
		examples, excluded, err = excludeTexts(examples, *excl)
		if err != nil {
			return err
		}
	}
	if len(examples) == 0 {
		return fmt.Errorf("%s: no examples", *data)
	}

	w := stdout
	if *out != "" {
		of, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := of.Close(); err == nil {
				err = cerr
			}
		}()
		w = of
	}
	bw := bufio.NewWriter(w)
	n, err := ollama.WriteSFT(bw, examples, ollama.SFTOptions{FoldSystem: *fold})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	var per [emotion.NumLabels]int
	for _, ex := range examples {
		per[ex.Label]++
	}
	dest := *out
	if dest == "" {
		dest = "standard output"
	}
	fmt.Fprintf(stderr, "wrote %d examples to %s (%d excluded):", n, dest, excluded)
	for _, l := range emotion.Labels {
		fmt.Fprintf(stderr, " %s=%d", l, per[l])
	}
	fmt.Fprintln(stderr)
	return nil
}

// excludeTexts drops the examples whose text is in the labelled TSV at path.
func excludeTexts(examples []emotion.Example, path string) ([]emotion.Example, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	held, err := emotion.ReadLabelledTSV(f)
	f.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	skip := make(map[string]bool, len(held))
	for _, ex := range held {
		skip[ex.Text] = true
	}
	kept := examples[:0:0]
	for _, ex := range examples {
		if !skip[ex.Text] {
			kept = append(kept, ex)
		}
	}
	return kept, len(examples) - len(kept), nil
}
