package ollama

import (
	"time"

	"github.com/ollama/ollama/api"
)

// ModelState is what the last check found out about a model.
type ModelState string

// The model states.
const (
	// StateUnknown: not checked yet, or the check failed (no host answered).
	StateUnknown ModelState = "unknown"
	// StatePresent: /api/show found the model.
	StatePresent ModelState = "present"
	// StateMissing: Ollama answered 404, the model is not installed.
	StateMissing ModelState = "missing"
)

// ModelStatus is one tracked model's state.
type ModelStatus struct {
	Model string     `json:"model"`
	State ModelState `json:"state"`
	// Role says what the model is for ("emotion", "chat").
	Role string `json:"role"`
	// Hint is the command that installs the model.
	Hint string `json:"hint,omitempty"`
	// Error is the last check's error, if any.
	Error string `json:"error,omitempty"`
	// Warning is a problem found in a present model's metadata.
	Warning   string    `json:"warning,omitempty"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

type modelState struct {
	ModelStatus
	// verify inspects a present model and returns a warning or "".
	verify func(*api.ShowResponse) string
}

// track adds a model to the checks. verify may be nil.
func (c *Client) track(model, role, hint string, verify func(*api.ShowResponse) string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.models[model]; ok {
		return
	}
	c.models[model] = &modelState{
		ModelStatus: ModelStatus{Model: model, Role: role, Hint: hint, State: StateUnknown},
		verify:      verify,
	}
}

// missing reports whether the last check or request found model missing
// less than a recheck interval ago. After that a request goes through again,
// so a model that appears is used even when no Watch runs.
func (c *Client) missing(model string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.models[model]
	return ok && s.State == StateMissing && c.pool.now().Sub(s.CheckedAt) < c.recheck
}

// markMissing records a 404 seen by a request and wakes Watch to re-check.
func (c *Client) markMissing(model string, err error) {
	c.setState(model, StateMissing, err, nil)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Client) setState(model string, st ModelState, err error, resp *api.ShowResponse) {
	c.mu.Lock()
	s, ok := c.models[model]
	if !ok {
		c.mu.Unlock()
		return
	}
	prev := s.State
	s.State = st
	s.CheckedAt = c.pool.now()
	s.Error, s.Warning = "", ""
	if err != nil {
		s.Error = err.Error()
	}
	if resp != nil && s.verify != nil {
		s.Warning = s.verify(resp)
	}
	snap := s.ModelStatus
	c.mu.Unlock()

	c.metrics.modelPresent(model, st == StatePresent)
	switch {
	case st == StateMissing && prev != StateMissing:
		c.log.Warn("ollama model is not installed; falling back until it appears",
			"model", model, "role", snap.Role, "install", snap.Hint, "recheck", c.recheck)
	case st == StatePresent && prev != StatePresent:
		c.log.Info("ollama model is available", "model", model, "role", snap.Role)
		if snap.Warning != "" {
			c.log.Warn("ollama model looks different from what moodgate expects", "model", model, "warning", snap.Warning)
		}
	case st == StateUnknown && prev != StateUnknown:
		c.log.Warn("ollama model check failed", "model", model, "err", err)
	}
}
