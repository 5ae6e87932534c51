package ollama

import "errors"

// ErrModelMissing is returned while the configured model is not installed on
// the Ollama servers (a 404 from /api/show or from a generation). The client
// keeps checking and clears it once the model appears; callers fall back to
// the embedded classifier or the built-in responder meanwhile.
var ErrModelMissing = errors.New("ollama: model not installed")

// ErrNoHost is returned when every configured host is cooling down after a
// failure; no request is sent until the first cool-down ends.
var ErrNoHost = errors.New("ollama: every host is cooling down after a failure")

// ErrNoAnswer is returned by the classifier when the model's reply holds no
// class: no digit 0-3 among the top log-probabilities and an answer text that
// is not a single digit 0-3 (for example when the model chose end-of-turn).
var ErrNoAnswer = errors.New("ollama: model gave no class")

// ErrIncomplete is returned when a response ended before its done chunk
// (the connection was cut or the server stopped writing).
var ErrIncomplete = errors.New("ollama: response ended before done")

// ErrCrisis is returned by the responder for a message that the crisis screen
// flagged: such messages never go to the chat model, whatever the caller does.
var ErrCrisis = errors.New("ollama: crisis message is not sent to the chat model")

// ErrEmptyReply is returned when the chat model finished without any text.
var ErrEmptyReply = errors.New("ollama: empty reply")

// errNoLogprobs means the response carried no logprobs (the chosen token was
// end-of-generation or an incomplete UTF-8 byte, or the server is older than
// logprobs support); the classifier then parses the answer text.
var errNoLogprobs = errors.New("ollama: response has no logprobs")
