// Package web embeds moodgate's browser UI: the chat page for people who
// talk to the service and the dashboard for operators.
//
// The gateway serves Static() as it is: "/" is index.html, "/operator" is
// operator.html and "/static/<name>" is any other file. The pages speak the
// public protocol in docs/protocol.md and nothing else; they insert every
// piece of text that a user, an operator or a model wrote with textContent,
// never as HTML.
//
// Static is safe to call from many goroutines; the returned fs.FS is
// read-only and shared.
package web
