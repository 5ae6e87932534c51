// Package emotion labels chat messages with one of four emotions (neutral
// 무감정, sadness 슬픔, joy 기쁨, anger 분노) and screens them for crisis.
//
// The pieces:
//
//   - Model, the embedded classifier: pure Go, a linear model over hashed
//     character n-grams of normalised Korean text (trained with KOTE's 44
//     fine labels as an auxiliary task, then folded into one table), with a
//     calibration temperature and decision offsets. Embedded/LoadEmbedded
//     return the model compiled into the binary (model/weights.bin, written
//     by `moodgate train`, see docs/emotion.md).
//   - ScreenCrisis, a rule-based screen for suicidal ideation, self-harm,
//     plans and means, with CrisisReply, the message to send back.
//   - Chain, which asks a primary classifier (Ollama) under a deadline and
//     a circuit breaker, falls back to the embedded model, applies the
//     crisis screen to every result and counts it all in Prometheus.
//   - Train, CrossValidate and Tally for training and measuring.
//
// # Concurrency
//
// Model, Chain, ScreenCrisis, CrisisReply, Embedded and LoadEmbedded are safe
// for concurrent use by any number of goroutines. Model.Classify,
// Model.Predict and ScreenCrisis never block and do not allocate on the
// common path (buffers come from a sync.Pool); they ignore ctx. Chain.Classify
// blocks for at most ChainOptions.Timeout waiting for the primary, then
// answers from the fallback; a primary that ignores its context is left to
// finish in its own goroutine. Tally and the training functions are for one
// goroutine at a time.
package emotion
