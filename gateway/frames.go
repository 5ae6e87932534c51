package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// MaxTextRunes caps one user message.
const MaxTextRunes = 2000

// maxIDLen caps a client message id.
const maxIDLen = 64

// ProtoError is an error sent to a client as an error frame; Code is stable
// (docs/protocol.md).
type ProtoError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	ID        string `json:"id,omitempty"`
	Retryable bool   `json:"retryable"`
}

func (e *ProtoError) Error() string { return e.Code + ": " + e.Message }

// Error codes sent in error frames.
const (
	CodeBadFrame         = "bad_frame"
	CodeUnknownType      = "unknown_type"
	CodeInvalidText      = "invalid_text"
	CodeTooLarge         = "too_large"
	CodeRateLimited      = "rate_limited"
	CodeStoreUnavailable = "store_unavailable"
	CodeBusy             = "busy"
	CodeShuttingDown     = "shutting_down"
	CodeInternal         = "internal"
)

func protoErr(code, msg string) *ProtoError { return &ProtoError{Code: code, Message: msg} }

// clientFrame is any frame a user client sends.
type clientFrame struct {
	Type string `json:"type"`
	Text string `json:"text"`
	ID   string `json:"id"`
}

// parseClientFrame decodes and checks one client frame. Every refusal is a
// ProtoError with a Korean and English message.
func parseClientFrame(data []byte) (clientFrame, *ProtoError) {
	var f clientFrame
	if !utf8.Valid(data) {
		return f, protoErr(CodeInvalidText, "올바르지 않은 UTF-8 입니다. (frame is not valid UTF-8)")
	}
	// A frame that Unmarshal takes is one whole JSON value, which is what
	// the decoder below checks; only a refused one needs it, to say why.
	if json.Unmarshal(data, &f) != nil {
		f = clientFrame{}
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&f); err != nil {
			return f, protoErr(CodeBadFrame, "JSON 객체가 아닙니다. (frame is not a JSON object)")
		}
		if dec.More() {
			return f, protoErr(CodeBadFrame, "프레임에는 JSON 객체 하나만 담아 주세요. (one JSON object per frame)")
		}
	}
	switch f.Type {
	case "":
		return f, protoErr(CodeBadFrame, "type 필드가 없습니다. (missing type)")
	case "ping":
		return f, nil
	case "message":
	default:
		return f, &ProtoError{Code: CodeUnknownType, Message: "알 수 없는 메시지 종류입니다. (unknown type)"}
	}
	if !validClientID(f.ID) {
		return f, &ProtoError{Code: CodeBadFrame, Message: "id는 1-64자의 영문, 숫자, '-', '_', '.', ':' 이어야 합니다. (id must be 1-64 of [A-Za-z0-9._:-])"}
	}
	if pe := checkText(f.Text); pe != nil {
		pe.ID = f.ID
		return f, pe
	}
	f.Text = strings.TrimSpace(f.Text)
	return f, nil
}

func validClientID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// checkText refuses empty or overlong text and control characters other
// than tab and newlines.
func checkText(s string) *ProtoError {
	t := strings.TrimSpace(s)
	if t == "" {
		return protoErr(CodeInvalidText, "빈 메시지는 보낼 수 없어요. (empty message)")
	}
	n := 0
	for _, r := range t {
		n++
		if r == utf8.RuneError {
			return protoErr(CodeInvalidText, "올바르지 않은 문자가 있어요. (invalid character)")
		}
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f) {
			return protoErr(CodeInvalidText, "제어 문자는 보낼 수 없어요. (control characters are not allowed)")
		}
	}
	if n > MaxTextRunes {
		return protoErr(CodeInvalidText, "메시지가 너무 길어요 (2000자까지). (message over 2000 characters)")
	}
	return nil
}

// welcomeFrame is the first frame on every user connection.
type welcomeFrame struct {
	Type       string `json:"type"`
	SessionID  string `json:"session_id"`
	Token      string `json:"token"`
	Seq        int64  `json:"seq"`
	Resumed    bool   `json:"resumed"`
	ShowLabels bool   `json:"show_labels"`
	Protocol   int    `json:"protocol"`
}

type errorFrame struct {
	Type string `json:"type"`
	*ProtoError
}

func encodeError(pe *ProtoError) []byte {
	b, _ := json.Marshal(errorFrame{Type: "error", ProtoError: pe})
	return b
}

type deltaFrame struct {
	Type string `json:"type"`
	Ref  int64  `json:"ref"`
	Text string `json:"text"`
}

var pongFrame = []byte(`{"type":"pong"}`)
