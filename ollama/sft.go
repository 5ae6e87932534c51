package ollama

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/moodgate/moodgate/emotion"
)

// SFTMessage is one chat message of a fine-tuning record.
type SFTMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// SFTRecord is one line of the instruction-tuning set, in the chat format
// that Hugging Face TRL, Axolotl and Unsloth read:
// {"messages":[{"role":"system",…},{"role":"user",…},{"role":"assistant","content":"1"}]}.
type SFTRecord struct {
	Messages []SFTMessage `json:"messages"`
}

// SFTOptions change how records are written.
type SFTOptions struct {
	// FoldSystem writes the system prompt into the user turn
	// (FoldSystem(system, user)) instead of a system message, for chat
	// templates without a system role such as Gemma's. The Modelfile's
	// TEMPLATE renders the same text either way.
	FoldSystem bool
}

// NewSFTRecord is the training record for one labelled text: the system and
// user prompts are exactly the System and Prompt of the request the
// fine-tuned classifier sends for text, and the answer is the label's digit.
func NewSFTRecord(text string, label emotion.Label, opts SFTOptions) (SFTRecord, error) {
	if !label.Valid() {
		return SFTRecord{}, fmt.Errorf("%w: %d", emotion.ErrUnknownLabel, int(label))
	}
	req := classifyRequest("", ModeFinetuned, text, 0)
	answer := SFTMessage{Role: "assistant", Content: strconv.Itoa(int(label))}
	if opts.FoldSystem {
		return SFTRecord{Messages: []SFTMessage{
			{Role: "user", Content: FoldSystem(req.System, req.Prompt)},
			answer,
		}}, nil
	}
	return SFTRecord{Messages: []SFTMessage{
		{Role: "system", Content: req.System},
		{Role: "user", Content: req.Prompt},
		answer,
	}}, nil
}

// WriteSFT writes one JSON line per example and returns how many it wrote.
func WriteSFT(w io.Writer, examples []emotion.Example, opts SFTOptions) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i, ex := range examples {
		rec, err := NewSFTRecord(ex.Text, ex.Label, opts)
		if err != nil {
			return i, fmt.Errorf("example %d: %w", i+1, err)
		}
		if err := enc.Encode(rec); err != nil {
			return i, err
		}
	}
	return len(examples), nil
}
