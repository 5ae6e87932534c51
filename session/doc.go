// Package session keeps each chat session in Redis: its ordered events, its
// mood model, its routing policy and the escalation lifecycle.
//
// Concurrency contract: a *RedisStore, a *Policy and the built-in responder
// are safe for concurrent use by many goroutines. Every method that touches
// Redis takes a context first and may block for one or two round trips; none
// holds a lock across a round trip. Mood maths (Mood.Update) is pure and
// allocation-free. Atomicity across nodes comes from Lua scripts (lua/*.lua,
// embedded): one script call assigns seqs, stores events, appends them to the
// shared feed stream and updates the session's state, all or nothing.
package session
