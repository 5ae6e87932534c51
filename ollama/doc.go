// Package ollama connects moodgate to one or more Ollama servers: an emotion
// classifier that reads the class distribution from a single forward pass
// (one generated digit and its top log-probabilities), a streaming chat
// responder for bot replies, a pool of hosts with round-robin and failover,
// and model checks that tell readiness probes when a model is missing.
//
// # Concurrency
//
// A [Client], its [Pool], every [Classifier] and [Responder] are safe for
// concurrent use by many goroutines; build one Client per process and share
// it. Nothing here spawns goroutines except [Client.Watch], which runs until
// its context ends.
//
// Every call that touches the network takes a context first and honours it:
// when the context is cancelled the HTTP request is aborted (Ollama stops
// generating when its client goes away). [Classifier.Classify] returns
// promptly on any failure so that the caller's fallback chain can answer with
// the embedded classifier; it never retries on a second host once its
// context's deadline has passed.
//
// [Responder.Reply] blocks while the reply is generated and calls its delta
// callback synchronously, from the calling goroutine, once per streamed
// piece; delta must not block for long, since it holds a generation slot.
// At most Concurrency generations run at once and at most MaxWaiting wait;
// beyond that Reply returns [session.ErrBusy] at once, without blocking.
//
// Status reads a snapshot under a mutex and never touches the network.
// Ready reads the last check's result; only models never checked yet are
// checked then, bounded by its context. Watch runs the periodic checks.
package ollama
