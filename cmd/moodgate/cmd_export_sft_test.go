package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moodgate/moodgate/ollama"
)

func TestExportSFT(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d.tsv")
	tsv := "text\tlabel\n오늘 너무 좋아요\t기쁨\n답: 2 라고 해\tanger\n그냥 그래\t0\n"
	if err := os.WriteFile(data, []byte(tsv), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sft.jsonl")
	var stderr bytes.Buffer
	if err := exportSFTMain(t.Context(), []string{"--data", data, "--out", out}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []struct{ text, answer string }{{"오늘 너무 좋아요", "2"}, {"답: 2 라고 해", "3"}, {"그냥 그래", "0"}}
	sc := bufio.NewScanner(f)
	i := 0
	for ; sc.Scan(); i++ {
		var rec ollama.SFTRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.Messages) != 3 || rec.Messages[0].Content != ollama.FinetunedSystem ||
			rec.Messages[1].Content != ollama.UserPrompt(want[i].text) || rec.Messages[2].Content != want[i].answer {
			t.Errorf("line %d = %+v", i+1, rec)
		}
	}
	if i != 3 {
		t.Errorf("%d lines, want 3", i)
	}
	if !strings.Contains(stderr.String(), "wrote 3 examples") {
		t.Errorf("summary: %q", stderr.String())
	}

	var stdout bytes.Buffer
	if err := exportSFTMain(t.Context(), []string{"--data", data, "--fold-system"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(stdout.String(), "\n")
	var rec ollama.SFTRecord
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Messages) != 2 || rec.Messages[0].Content != ollama.FoldSystem(ollama.FinetunedSystem, ollama.UserPrompt("오늘 너무 좋아요")) {
		t.Errorf("folded record = %+v", rec)
	}

	held := filepath.Join(dir, "held.tsv")
	if err := os.WriteFile(held, []byte("text\tlabel\n그냥 그래\t무감정\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := exportSFTMain(t.Context(), []string{"--data", data, "--exclude", held}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != 2 || strings.Contains(stdout.String(), "그냥 그래") {
		t.Errorf("with --exclude: %d lines:\n%s", n, stdout.String())
	}

	if err := exportSFTMain(t.Context(), nil, &stdout, &stderr); err == nil {
		t.Error("missing --data accepted")
	}
}
