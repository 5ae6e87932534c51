// Package ollamatest is a fake Ollama server for tests of moodgate's Ollama
// integration and of the gateway's fallbacks. It speaks Ollama v0.17's wire
// format with the real github.com/ollama/ollama/api types: /api/show,
// /api/generate and /api/chat, NDJSON streams ending with a done chunk,
// non-streaming single objects, and {"error": …} bodies with Ollama's status
// codes (400 for invalid requests such as top_logprobs > 20, 404 "model 'x'
// not found", 500). Each reply is scripted by the test: logprobs, missing
// logprobs, error statuses, delays, hangs, malformed lines, cut-off streams.
//
// A Server is safe for concurrent use.
package ollamatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ollama/ollama/api"
)

// Reply scripts the server's answer to one generate or chat request.
type Reply struct {
	// Status, when 400 or more, makes the reply an error: Ollama's body
	// {"error": Error} with that status code.
	Status int
	Error  string
	// Response is the generated text of /api/generate (joined Chunks when
	// Chunks is set).
	Response string
	// Logprobs go with the first chunk of a stream (the done chunk carries
	// none) or with the single non-streaming object.
	Logprobs []api.Logprob
	// Chunks are the streamed pieces of content, one NDJSON line each.
	Chunks []string
	// Delay is waited before the first byte; ChunkDelay before each chunk.
	Delay, ChunkDelay time.Duration
	// Hang blocks after the chunks, without the done chunk, until the
	// client goes away or the server closes.
	Hang bool
	// Malformed writes a line that is not JSON after the chunks.
	Malformed bool
	// Truncate ends the response after the chunks without a done chunk.
	Truncate bool
	// DoneReason of the done chunk; default "stop".
	DoneReason string
}

// GenerateFunc scripts /api/generate.
type GenerateFunc func(req *api.GenerateRequest) Reply

// ChatFunc scripts /api/chat.
type ChatFunc func(req *api.ChatRequest) Reply

// Server is a running fake Ollama server.
type Server struct {
	// URL is the server's base URL, usable as OLLAMA_HOST.
	URL string

	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu       sync.Mutex
	models   map[string]bool
	generate GenerateFunc
	chat     ChatFunc
	genReqs  []api.GenerateRequest
	chatReqs []api.ChatRequest
	hits     map[string]int

	aborted atomic.Int64
	active  atomic.Int64
}

// New starts a fake server on a random local port with the given models
// installed. Without OnGenerate and OnChat it answers with KeywordReply and
// EchoChat.
func New(models ...string) *Server {
	s := newServer(models)
	s.srv = httptest.NewServer(s.handler())
	s.URL = s.srv.URL
	return s
}

// Listen starts a fake server on addr (for the fakeollama dev tool).
func Listen(addr string, models ...string) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newServer(models)
	s.srv = httptest.NewUnstartedServer(s.handler())
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

func newServer(models []string) *Server {
	s := &Server{
		closing:  make(chan struct{}),
		models:   map[string]bool{},
		hits:     map[string]int{},
		generate: KeywordReply,
		chat:     EchoChat,
	}
	for _, m := range models {
		s.models[normalize(m)] = true
	}
	return s
}

// Close stops the server, releasing hanging handlers first.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// normalize adds Ollama's default tag: "m" and "m:latest" are one model.
func normalize(model string) string {
	if !strings.Contains(model, ":") {
		return model + ":latest"
	}
	return model
}

// SetModel installs or removes a model.
func (s *Server) SetModel(model string, present bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models[normalize(model)] = present
}

// OnGenerate scripts /api/generate.
func (s *Server) OnGenerate(f GenerateFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generate = f
}

// OnChat scripts /api/chat.
func (s *Server) OnChat(f ChatFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chat = f
}

// GenerateRequests returns the valid generate requests received so far.
func (s *Server) GenerateRequests() []api.GenerateRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.GenerateRequest(nil), s.genReqs...)
}

// ChatRequests returns the valid chat requests received so far.
func (s *Server) ChatRequests() []api.ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.ChatRequest(nil), s.chatReqs...)
}

// Hits returns how many requests reached path (e.g. "/api/show").
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// Aborted counts responses the client abandoned before they ended (its
// request context was cancelled while the server was still writing,
// waiting or hanging).
func (s *Server) Aborted() int64 { return s.aborted.Load() }

// Active is the number of generate and chat requests being answered now.
func (s *Server) Active() int64 { return s.active.Load() }

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Ollama is running")
	})
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": "0.17.4"})
	})
	mux.HandleFunc("POST /api/show", s.handleShow)
	mux.HandleFunc("POST /api/generate", s.handleGenerate)
	mux.HandleFunc("POST /api/chat", s.handleChat)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// decode reads a JSON body the way Ollama's handlers do.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(r.Body).Decode(v)
	switch {
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "missing request body")
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

func (s *Server) present(model string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models[normalize(model)]
}

func (s *Server) handleShow(w http.ResponseWriter, r *http.Request) {
	var req api.ShowRequest
	if !decode(w, r, &req) {
		return
	}
	model := req.Model
	if model == "" {
		model = req.Name
	}
	if model == "" {
		writeError(w, http.StatusBadRequest, "model is required")
		return
	}
	if !s.present(model) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found", model))
		return
	}
	writeJSON(w, http.StatusOK, api.ShowResponse{
		Template:     Template,
		Parameters:   "temperature 0\nnum_predict 1",
		Details:      api.ModelDetails{Format: "gguf", Family: "gemma2", Families: []string{"gemma2"}, ParameterSize: "2.6B", QuantizationLevel: "Q4_K_M"},
		ModelInfo:    map[string]any{"general.architecture": "gemma2"},
		Capabilities: nil,
		ModifiedAt:   time.Now(),
	})
}

// Template is the TEMPLATE of moodgate's Modelfile, which /api/show
// returns for every model of the fake.
const Template = "<start_of_turn>user\n{{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n"

// validate applies Ollama's request checks shared by generate and chat.
func (s *Server) validate(w http.ResponseWriter, model string, topLogprobs int, think *api.ThinkValue) bool {
	switch {
	case model == "":
		writeError(w, http.StatusBadRequest, "model is required")
	case topLogprobs < 0 || topLogprobs > 20:
		writeError(w, http.StatusBadRequest, "top_logprobs must be between 0 and 20")
	case !s.present(model):
		writeError(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found", model))
	case think != nil && think.Bool():
		// None of the fake's models can think.
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q does not support thinking", model))
	default:
		return true
	}
	return false
}

func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request) {
	var req api.GenerateRequest
	if !decode(w, r, &req) {
		return
	}
	if !s.validate(w, req.Model, req.TopLogprobs, req.Think) {
		return
	}
	if req.Raw && (req.Template != "" || req.System != "" || len(req.Context) > 0) {
		writeError(w, http.StatusBadRequest, "raw mode does not support template, system, or context")
		return
	}
	s.mu.Lock()
	s.genReqs = append(s.genReqs, req)
	f := s.generate
	s.mu.Unlock()
	rep := f(&req)
	if !req.Logprobs {
		rep.Logprobs = nil
	}
	if len(rep.Chunks) == 0 && rep.Response != "" {
		rep.Chunks = []string{rep.Response}
	}
	first := true
	s.respond(w, r, rep, req.Stream, func(chunk string, done bool) any {
		resp := api.GenerateResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Response: chunk, Done: done}
		if done {
			resp.DoneReason = doneReason(rep)
			resp.EvalCount = len(rep.Chunks)
		} else if first {
			resp.Logprobs, first = rep.Logprobs, false
		}
		return resp
	}, func() any {
		return api.GenerateResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Response: strings.Join(rep.Chunks, ""),
			Done: true, DoneReason: doneReason(rep), Logprobs: rep.Logprobs, Metrics: api.Metrics{EvalCount: len(rep.Chunks)}}
	})
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req api.ChatRequest
	if !decode(w, r, &req) {
		return
	}
	if !s.validate(w, req.Model, req.TopLogprobs, req.Think) {
		return
	}
	s.mu.Lock()
	s.chatReqs = append(s.chatReqs, req)
	f := s.chat
	s.mu.Unlock()
	rep := f(&req)
	if !req.Logprobs {
		rep.Logprobs = nil
	}
	if len(rep.Chunks) == 0 && rep.Response != "" {
		rep.Chunks = []string{rep.Response}
	}
	first := true
	s.respond(w, r, rep, req.Stream, func(chunk string, done bool) any {
		resp := api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(), Message: api.Message{Role: "assistant", Content: chunk}, Done: done}
		if done {
			resp.DoneReason = doneReason(rep)
		} else if first {
			resp.Logprobs, first = rep.Logprobs, false
		}
		return resp
	}, func() any {
		return api.ChatResponse{Model: req.Model, CreatedAt: time.Now().UTC(),
			Message: api.Message{Role: "assistant", Content: strings.Join(rep.Chunks, "")},
			Done:    true, DoneReason: doneReason(rep), Logprobs: rep.Logprobs}
	})
}

func doneReason(rep Reply) string {
	if rep.DoneReason != "" {
		return rep.DoneReason
	}
	return "stop"
}

// respond writes rep as Ollama does: an error object with its status, one
// JSON object when stream is false, NDJSON chunks and a done chunk
// otherwise.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, rep Reply, stream *bool, chunk func(string, bool) any, whole func() any) {
	s.active.Add(1)
	defer s.active.Add(-1)
	if !s.wait(r, rep.Delay) {
		return
	}
	if rep.Status >= 400 {
		writeError(w, rep.Status, rep.Error)
		return
	}
	flusher, _ := w.(http.Flusher)
	if stream != nil && !*stream {
		// Ollama computes the whole answer before writing; scripted
		// chunk delays and hangs happen before the single object.
		for range rep.Chunks {
			if !s.wait(r, rep.ChunkDelay) {
				return
			}
		}
		if rep.Hang {
			s.hang(r)
			return
		}
		if rep.Malformed {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, "{\"model\": \"broken\n")
			return
		}
		if rep.Truncate {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			return
		}
		writeJSON(w, http.StatusOK, whole())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for _, c := range rep.Chunks {
		if !s.wait(r, rep.ChunkDelay) {
			return
		}
		if err := enc.Encode(chunk(c, false)); err != nil {
			s.aborted.Add(1)
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	switch {
	case rep.Hang:
		s.hang(r)
	case rep.Malformed:
		fmt.Fprint(w, "{\"model\": \"broken\n")
	case rep.Truncate:
	default:
		enc.Encode(chunk("", true))
	}
}

// wait sleeps d unless the client goes away (counted as aborted) or the
// server closes; it reports whether to go on.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		if r.Context().Err() != nil {
			s.aborted.Add(1)
			return false
		}
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		s.aborted.Add(1)
		return false
	case <-s.closing:
		return false
	}
}

func (s *Server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
		s.aborted.Add(1)
	case <-s.closing:
	}
}
