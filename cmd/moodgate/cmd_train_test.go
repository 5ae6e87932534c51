package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainChatFlags covers --chat, --chat-weight and --chat-eval: the chat
// set is added to training and reported, the written model is scored on the
// chat-eval file, and a chat text that is also in the scored file is refused.
func TestTrainChatFlags(t *testing.T) {
	data := writeSynthetic(t, 20)
	tmp := t.TempDir()
	chat, eval := filepath.Join(tmp, "chat.tsv"), filepath.Join(tmp, "eval.tsv")
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte("text\tlabel\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(chat, "안녕하세요\t무감정\n오늘 너무 우울해요\t슬픔\n신난다 ㅎㅎ\t기쁨\n아 짜증나\t분노\n")
	write(eval, "반가워요\t무감정\n눈물 나요\t슬픔\n")
	base := []string{"--data", data, "--bits", "12", "--epochs", "3", "--cv", "2", "--out", filepath.Join(tmp, "w.bin")}
	var out bytes.Buffer
	if err := trainMain(context.Background(), append(base, "--chat", chat, "--chat-weight", "2", "--chat-eval", eval), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"4 chat-domain examples (" + chat + ") in every training set at weight 2", "the written model on " + eval, "n=2 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("train output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := trainMain(context.Background(), append(base, "--chat", "none", "--chat-eval", "none"), &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "chat-domain") || strings.Contains(s, "the written model on") {
		t.Errorf("--chat none --chat-eval none still uses chat data:\n%s", s)
	}
	write(eval, "오늘  너무 우울해요\t슬픔\n")
	if err := trainMain(context.Background(), append(base, "--chat", chat, "--chat-eval", eval), &out); err == nil || !strings.Contains(err.Error(), "also in") {
		t.Errorf("overlapping chat and chat-eval: err = %v", err)
	}
	if err := trainMain(context.Background(), append(base, "--chat", filepath.Join(tmp, "missing.tsv")), &out); err == nil {
		t.Error("missing --chat file: no error")
	}
}
