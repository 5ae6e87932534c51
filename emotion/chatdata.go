package emotion

import (
	"bytes"
	_ "embed"
)

// chatTrainTSV is our own chat-domain training set (written for moodgate,
// MIT with the repository; see data/README.md). It is compiled in so that
// `moodgate train` adds it by default from any working directory.
//
//go:embed data/chat-train.tsv
var chatTrainTSV []byte

// ChatTrainExamples returns the rows of the committed chat-domain training
// set emotion/data/chat-train.tsv (a fresh slice on every call).
func ChatTrainExamples() ([]Example, error) {
	return ReadLabelledTSV(bytes.NewReader(chatTrainTSV))
}
