package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSynthetic writes a small KOTE-like directory (our own sentences, not
// KOTE's) with a val-4class.tsv of n rows per class.
func writeSynthetic(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	phrases := map[string][]string{
		"무감정": {"회의는 세 시에 시작", "버스 시간표 확인", "내일 날씨 흐림", "점심 메뉴 공지"},
		"슬픔":  {"너무 슬퍼서 눈물이 나", "우울해 ㅠㅠ", "외롭고 힘들어", "보고 싶어서 울었어"},
		"기쁨":  {"너무 좋아 행복해", "신난다 ㅋㅋ", "최고야 고마워", "합격해서 기뻐"},
		"분노":  {"짜증나 진짜", "화가 나서 못 참겠어", "열받네 어이없어", "왜 맨날 이래 짜증"},
	}
	var b strings.Builder
	b.WriteString("text\tlabel\n")
	for label, ps := range phrases {
		for i := range n {
			fmt.Fprintf(&b, "%s %d번\t%s\n", ps[i%len(ps)], i, label)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "val-4class.tsv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTrainHoldoutThenEval is the held-out workflow end to end: train on all
// folds but one, write that fold, then eval the written weights on it.
func TestTrainHoldoutThenEval(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	data := writeSynthetic(t, 20)
	tmp := t.TempDir()
	weights, fold := filepath.Join(tmp, "w.bin"), filepath.Join(tmp, "fold0.tsv")
	var out bytes.Buffer
	err := trainMain(context.Background(), []string{
		"--data", data, "--bits", "12", "--epochs", "5", "--cv", "2",
		"--holdout", "0", "--folds", "4", "--out", weights, "--write-holdout", fold,
	}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"2-fold cross-validation", "macro-F1=", "held out (fold 0 of 4)", "wrote " + weights} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("train output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := evalMain(context.Background(), []string{"--json", "--source", "embedded", "--weights", weights, fold}, &out); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, k := range []string{"accuracy", "weighted_f1", "weighted_precision", "weighted_recall", "macro_f1", "per_class", "confusion", "ece", "n"} {
		if _, ok := m[k]; !ok {
			t.Errorf("eval JSON lacks %q", k)
		}
	}
	if m["n"] != 20.0 {
		t.Errorf("n = %v, want 20 (a quarter of 80)", m["n"])
	}
	if acc := m["accuracy"].(float64); acc < 0.5 {
		t.Errorf("accuracy %.2f on an easy synthetic fold", acc)
	}
	out.Reset()
	if err := evalMain(context.Background(), []string{"--source", "embedded", "--weights", weights, fold}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"accuracy=", "macro-F1=", "ECE=", "confusion", "answered by: embedded=20"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("eval report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTrainFlagsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no data", nil, "--data DIR is required"},
		{"holdout without out", []string{"--data", "x", "--holdout", "0"}, "--holdout 0 needs"},
		{"missing dir", []string{"--data", "/nonexistent", "--cv", "2"}, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := trainMain(context.Background(), tc.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	data := writeSynthetic(t, 4)
	err := trainMain(context.Background(), []string{"--data", data, "--holdout", "5", "--folds", "5"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--holdout 5 needs") {
		t.Errorf("bad holdout: err = %v", err)
	}
}

func TestEvalErrors(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tsv")
	os.WriteFile(bad, []byte("text\tlabel\n좋아\tjoy\n싫어\tfear\n"), 0o644)
	err := evalMain(context.Background(), []string{bad}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad label: err = %v", err)
	}
	if err := evalMain(context.Background(), nil, &bytes.Buffer{}); err == nil {
		t.Error("no file: want an error")
	}
}
