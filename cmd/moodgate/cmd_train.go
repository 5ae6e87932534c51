package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moodgate/moodgate/emotion"
)

func init() { register("train", "train the embedded emotion classifier", runTrain) }

// defaultWeightsPath is where the committed weights live, relative to the
// repository root.
const defaultWeightsPath = "emotion/model/weights.bin"

func runTrain(ctx context.Context, args []string) error {
	return trainMain(ctx, args, os.Stdout)
}

func trainMain(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: moodgate train --data DIR [flags]

Trains the embedded classifier on DIR/val-4class.tsv, with the 44 labels
of DIR/val.tsv as an auxiliary task and our chat-domain set
`+chatTrainPath+` (compiled in; --chat) added to every training
fold; fits the calibration temperature and the decision offsets by K-fold
cross-validation over the KOTE comments, prints the cross-validated report,
writes the weights and scores them on `+chatEvalPath+` (see
docs/emotion.md).

  moodgate train --data ../shared/data/kote                 # writes `+defaultWeightsPath+`
  moodgate train --data ../shared/data/kote --cv 5          # report only
  moodgate train --data ../shared/data/kote --holdout 0 --folds 5 \
      --out /tmp/w.bin --write-holdout /tmp/fold0.tsv       # then: moodgate eval --weights /tmp/w.bin /tmp/fold0.tsv

flags:
`)
		fs.PrintDefaults()
	}
	o := emotion.DefaultTrainOptions
	var (
		data      = fs.String("data", "", "KOTE directory with val-4class.tsv (required)")
		out       = fs.String("out", "", "weights file to write (default "+defaultWeightsPath+", none with --cv alone)")
		cv        = fs.Int("cv", 0, "folds of the cross-validation that fits the temperature and is reported (default 5)")
		folds     = fs.Int("folds", 5, "with --holdout: how many folds the data is split into")
		holdout   = fs.Int("holdout", -1, "train on every fold but this one (0-based); needs --out and --write-holdout")
		writeHold = fs.String("write-holdout", "", "with --holdout: write the held-out fold here as text<TAB>label (keep it outside the repository)")
		noExtra   = fs.Bool("no-extra", false, "do not use val.tsv (its ambiguous comments as soft targets, its 44 labels as the auxiliary task)")
		bits      = fs.Uint("bits", uint(o.Features.Bits), "log2 of the hash buckets")
		minN      = fs.Uint("min-n", uint(o.Features.MinN), "shortest character n-gram")
		maxN      = fs.Uint("max-n", uint(o.Features.MaxN), "longest character n-gram")
		compact   = fs.Bool("compact", o.Features.Compact, "n-grams across removed spaces")
		jamo      = fs.Bool("jamo", o.Features.Jamo, "syllables without final consonant")
		words     = fs.Bool("words", o.Features.Words, "word and word-prefix features")
		length    = fs.Bool("length", o.Features.Length, "text length and word count features")
		chat      = fs.String("chat", "", "chat-domain training set added to every training fold (text<TAB>label); empty: the committed "+chatTrainPath+" (compiled in), \"none\": no chat set")
		chatEval  = fs.String("chat-eval", chatEvalPath, "with weights written: score them on this chat-domain file (never trained on) when it exists; \"none\": skip")
	)
	fs.IntVar(&o.Epochs, "epochs", o.Epochs, "passes over the data")
	fs.Float64Var(&o.LearningRate, "lr", o.LearningRate, "AdaGrad step size")
	fs.Float64Var(&o.L2, "l2", o.L2, "L2 penalty")
	fs.Float64Var(&o.ClassWeightPower, "class-weight", o.ClassWeightPower, "class weight power: 0 none (use -1), 1 balanced")
	fs.Float64Var(&o.ExtraWeight, "extra-weight", o.ExtraWeight, "sample weight of the soft examples (-1 for none)")
	fs.Float64Var(&o.SadnessRecallFloor, "sadness-recall-floor", o.SadnessRecallFloor, "with --tune-decision: sadness recall the offsets must reach (penalised below)")
	fs.IntVar(&o.Dim, "dim", o.Dim, "dimension of the shared embeddings trained with KOTE's 44 labels as an auxiliary task (0: plain model)")
	fs.Float64Var(&o.ChatWeight, "chat-weight", o.ChatWeight, "sample weight of the chat-domain set (times its class weight; -1 for none)")
	fs.Float64Var(&o.AuxWeight, "aux-weight", o.AuxWeight, "weight of the auxiliary 44-label loss (with --dim)")
	fs.BoolVar(&o.TuneOffsets, "tune-decision", o.TuneOffsets, "fit per-class decision offsets for macro-F1 inside the cross-validation")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed (folds and example order)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("--data DIR is required and no other arguments are taken")
	}
	o.Features = emotion.FeatureConfig{Bits: uint8(*bits), MinN: uint8(*minN), MaxN: uint8(*maxN), Compact: *compact, Jamo: *jamo, Words: *words, Length: *length}
	k := *cv
	if k == 0 {
		k = 5
	}
	if *out == "" && *cv == 0 && *holdout < 0 {
		*out = defaultWeightsPath
	}
	if *holdout >= 0 && (*holdout >= *folds || *out == "" || *writeHold == "") {
		return fmt.Errorf("--holdout %d needs 0 <= holdout < --folds (%d), --out and --write-holdout", *holdout, *folds)
	}
	d, err := emotion.LoadKOTE(*data)
	if err != nil {
		return err
	}
	if !*noExtra {
		o.Extra = d.Extra
		o.Labels44 = d.Labels44
		o.AuxOnly = d.Ambiguous
	}
	chatName := chatTrainPath + ", compiled in"
	switch *chat {
	case "":
		o.Chat, err = emotion.ChatTrainExamples()
	case "none":
		o.Chat = nil
	default:
		chatName = *chat
		o.Chat, err = readLabelled(*chat)
	}
	if err != nil {
		return fmt.Errorf("--chat: %w", err)
	}
	if o.ChatWeight <= 0 {
		o.Chat = nil
	}
	if err := checkDisjoint(o.Chat, d.Examples, "KOTE's val-4class.tsv"); err != nil {
		return err
	}
	var evalSet []emotion.Example
	if *chatEval != "none" && *chatEval != "" {
		evalSet, err = readLabelled(*chatEval)
		if errors.Is(err, os.ErrNotExist) && *chatEval == chatEvalPath {
			evalSet, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("--chat-eval: %w", err)
		}
		if err := checkDisjoint(o.Chat, evalSet, *chatEval); err != nil {
			return err
		}
	}
	examples := d.Examples
	var held []emotion.Example
	if *holdout >= 0 {
		examples, held = emotion.SplitFold(d.Examples, emotion.StratifiedFolds(d.Examples, *folds, o.Seed), *holdout)
	}
	fmt.Fprintf(stdout, "data: %d labelled comments", len(examples))
	if o.ExtraWeight > 0 && len(o.Extra) > 0 {
		fmt.Fprintf(stdout, ", %d soft (ambiguous, from val.tsv)", len(o.Extra))
	}
	if o.Dim > 0 && len(o.Labels44) > 0 {
		fmt.Fprintf(stdout, ", 44-label auxiliary task on the training comments and %d ambiguous ones", len(o.AuxOnly))
	}
	if len(o.Chat) > 0 {
		fmt.Fprintf(stdout, ", %d chat-domain examples (%s) in every training set at weight %g", len(o.Chat), chatName, o.ChatWeight)
	}
	if held != nil {
		fmt.Fprintf(stdout, ", %d held out (fold %d of %d)", len(held), *holdout, *folds)
	}
	fmt.Fprintf(stdout, "\nfeatures: %+v\noptions: epochs=%d lr=%g l2=%g class-weight=%g extra-weight=%g dim=%d aux-weight=%g seed=%d\n",
		o.Features, o.Epochs, o.LearningRate, o.L2, o.ClassWeightPower, o.ExtraWeight, o.Dim, o.AuxWeight, o.Seed)
	start := time.Now()
	progress := func(f int, m emotion.Metrics) {
		fmt.Fprintf(stdout, "fold %d: n=%d accuracy=%.4f macro-F1=%.4f weighted-F1=%.4f sadness recall=%.4f (temperature 1, no offsets)\n",
			f, m.N, m.Accuracy, m.MacroF1, m.WeightedF1, m.PerClass[emotion.Sadness].Recall)
	}
	var res emotion.CVResult
	var model *emotion.Model
	if *out == "" {
		res, err = emotion.CrossValidate(examples, k, o, progress)
	} else {
		model, res, err = emotion.TrainCalibrated(examples, k, o, progress)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d-fold cross-validation, out-of-fold predictions, temperature %.4f (NLL %.4f):\n", res.Folds, res.Temperature, res.NLL)
	if err := res.Metrics.WriteReport(stdout); err != nil {
		return err
	}
	if o.TuneOffsets {
		fmt.Fprintf(stdout, "decision offsets (neutral, sadness, joy, anger) %.2f; without them: macro-F1=%.4f weighted-F1=%.4f sadness recall=%.4f ECE=%.4f\n",
			res.Offsets, res.NoOffsets.MacroF1, res.NoOffsets.WeightedF1, res.NoOffsets.PerClass[emotion.Sadness].Recall, res.NoOffsets.ECE)
	}
	fmt.Fprintf(stdout, "uncalibrated ECE %.4f; per-fold macro-F1:", res.Uncalibrated.ECE)
	for _, m := range res.FoldMetrics {
		fmt.Fprintf(stdout, " %.4f", m.MacroF1)
	}
	fmt.Fprintf(stdout, "\n(%s)\n", time.Since(start).Round(time.Millisecond))
	if model == nil {
		return nil
	}
	b, err := model.MarshalBinary()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, b); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, len(b))
	if len(evalSet) > 0 {
		var t emotion.Tally
		for _, e := range evalSet {
			t.AddScores(e.Label, model.Predict(e.Text))
		}
		fmt.Fprintf(stdout, "\nthe written model on %s (chat domain, never trained on):\n", *chatEval)
		if err := t.Metrics().WriteReport(stdout); err != nil {
			return err
		}
	}
	if held != nil {
		f, err := os.Create(*writeHold)
		if err != nil {
			return err
		}
		if err := emotion.WriteLabelledTSV(f, held); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%d held-out comments)\n", *writeHold, len(held))
	}
	return nil
}

// The committed chat-domain sets, relative to the repository root.
const (
	chatTrainPath = "emotion/data/chat-train.tsv"
	chatEvalPath  = "emotion/data/chat-eval.tsv"
)

func readLabelled(path string) ([]emotion.Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ex, err := emotion.ReadLabelledTSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ex, nil
}

// checkDisjoint fails when a chat training text (whitespace-normalised)
// is also in other: what is scored must never be trained on.
func checkDisjoint(chat, other []emotion.Example, name string) error {
	key := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	seen := make(map[string]bool, len(chat))
	for _, e := range chat {
		seen[key(e.Text)] = true
	}
	for _, e := range other {
		if seen[key(e.Text)] {
			return fmt.Errorf("chat training text %q is also in %s", e.Text, name)
		}
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".weights-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
