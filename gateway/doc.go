// Package gateway is moodgate's HTTP and WebSocket server: user chat
// sessions at /ws, the operator API and live feed, classification over HTTP,
// health, readiness and metrics.
//
// Concurrency contract: each WebSocket connection has one read loop (which
// owns the read deadline), one writer goroutine (which owns every write and
// a queue capped in bytes), and, once the user has sent a message, one
// worker that handles that connection's messages in order. Nothing that
// delivers to a connection ever blocks: the feed reader (one per node, see
// hub.go) appends to the connection's queue, and a connection whose queue
// overflows is closed as a slow consumer. Every event reaches clients
// through the Redis feed or, when it is the very next seq, directly from the
// worker that stored it; a per-connection seq gate drops duplicates, so
// both paths together deliver each event once and in order.
package gateway
