package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the gateway. A zero value of any field means its
// documented default; Resolve fills the defaults in one place. Every field is
// read from an environment variable (listed in the README) and the common ones
// also from flags.
type Config struct {
	// Addr is the listen address. MOODGATE_ADDR, default ":8080".
	Addr string
	// RedisURL is a redis:// URL. REDIS_URL; empty runs an in-process,
	// ephemeral Redis (miniredis).
	RedisURL string
	// RedisPrefix prefixes every key. MOODGATE_REDIS_PREFIX, default "mg:".
	RedisPrefix string
	// OllamaHosts are the Ollama servers (comma-separated OLLAMA_HOST); empty
	// means no Ollama: the embedded classifier and the built-in responder.
	OllamaHosts []string
	// EmotionModel is the Ollama model that labels messages.
	// MOODGATE_EMOTION_MODEL, default "moodgate-emotion".
	EmotionModel string
	// EmotionMode is "finetuned" (the model answers a digit to our prompt) or
	// "zeroshot" (a stock instruct model with a few-shot prompt).
	// MOODGATE_EMOTION_MODE, default "finetuned".
	EmotionMode string
	// EmotionTimeout is the deadline for one Ollama classification before the
	// embedded classifier answers instead. MOODGATE_EMOTION_TIMEOUT, default 1.5s.
	EmotionTimeout time.Duration
	// ChatModel is the Ollama model that writes bot replies.
	// MOODGATE_CHAT_MODEL, default "gemma2:2b".
	ChatModel string
	// ChatTimeout bounds one reply generation. MOODGATE_CHAT_TIMEOUT, default 30s.
	ChatTimeout time.Duration
	// ChatConcurrency is how many generations may run at once; more wait in a
	// queue of the same size, beyond that the user gets a busy reply.
	// MOODGATE_CHAT_CONCURRENCY, default 4.
	ChatConcurrency int
	// Secret signs session tokens (HMAC-SHA256). MOODGATE_SECRET; when empty a
	// random one is generated at start (tokens then die with the process) and
	// a warning is logged.
	Secret string
	// SecretGenerated is set by Resolve when Secret was generated.
	SecretGenerated bool
	// OperatorTokens maps a bearer token to the operator's name, from
	// MOODGATE_OPERATOR_TOKENS as "name:token,name2:token2". Empty disables the
	// operator API and dashboard sign-in.
	OperatorTokens map[string]string
	// AllowedOrigins lists the Origin values allowed to open a WebSocket
	// (MOODGATE_ALLOWED_ORIGINS, comma-separated; "*" allows any), besides
	// the gateway's own host and clients that send no Origin, which are
	// always allowed.
	AllowedOrigins []string
	// TrustProxy makes the per-address limits use the client address that
	// a reverse proxy (on a loopback or private address) puts in
	// X-Forwarded-For. MOODGATE_TRUST_PROXY, default false: the peer's own
	// address, so that a client cannot dodge the limits by sending the
	// header itself.
	TrustProxy bool
	// PolicyFile is a YAML rules file. MOODGATE_POLICY_FILE; empty uses the
	// embedded defaults.
	PolicyFile string
	// FeedMaxLen is roughly how many events the shared feed stream keeps
	// for operator dashboards and other nodes (MOODGATE_FEED_MAXLEN, default
	// 100000); a dashboard offline for longer than that re-reads sessions.
	FeedMaxLen int
	// SessionTTL is how long a session's data is kept after its last event
	// (refreshed in steps: it expires between SessionTTL less 1/100 of it,
	// at most an hour, and SessionTTL after it). MOODGATE_SESSION_TTL,
	// default 720h (30 days).
	SessionTTL time.Duration
	// ShowLabels tells the chat page to show emotion labels to the user.
	// MOODGATE_SHOW_LABELS, default false.
	ShowLabels bool
	// MaxMessageBytes caps one client frame. MOODGATE_MAX_MESSAGE_BYTES,
	// default 8192.
	MaxMessageBytes int
	// MessageRate and MessageBurst limit user messages per session
	// (MOODGATE_MESSAGE_RATE per second, default 5; MOODGATE_MESSAGE_BURST,
	// default 10).
	MessageRate  float64
	MessageBurst int
	// MaxConnsPerIP caps concurrent WebSockets from one address.
	// MOODGATE_MAX_CONNS_PER_IP, default 50.
	MaxConnsPerIP int
	// SendQueueBytes caps one connection's outbound queue; a client that lets
	// more pile up is disconnected as a slow consumer.
	// MOODGATE_SEND_QUEUE_BYTES, default 1 MiB.
	SendQueueBytes int
	// ShutdownTimeout bounds the graceful shutdown. MOODGATE_SHUTDOWN_TIMEOUT,
	// default 10s.
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error. MOODGATE_LOG_LEVEL, default info.
	LogLevel string
}

// FromEnv reads every variable through lookup (os.LookupEnv in production).
// It returns an error naming the variable whose value cannot be parsed.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	e := envReader{lookup: lookup}
	c := Config{
		Addr:            e.str("MOODGATE_ADDR"),
		RedisURL:        e.str("REDIS_URL"),
		RedisPrefix:     e.str("MOODGATE_REDIS_PREFIX"),
		OllamaHosts:     e.list("OLLAMA_HOST"),
		EmotionModel:    e.str("MOODGATE_EMOTION_MODEL"),
		EmotionMode:     e.str("MOODGATE_EMOTION_MODE"),
		EmotionTimeout:  e.dur("MOODGATE_EMOTION_TIMEOUT"),
		ChatModel:       e.str("MOODGATE_CHAT_MODEL"),
		ChatTimeout:     e.dur("MOODGATE_CHAT_TIMEOUT"),
		ChatConcurrency: e.int("MOODGATE_CHAT_CONCURRENCY"),
		Secret:          e.str("MOODGATE_SECRET"),
		AllowedOrigins:  e.list("MOODGATE_ALLOWED_ORIGINS"),
		TrustProxy:      e.bool("MOODGATE_TRUST_PROXY"),
		PolicyFile:      e.str("MOODGATE_POLICY_FILE"),
		SessionTTL:      e.dur("MOODGATE_SESSION_TTL"),
		FeedMaxLen:      e.int("MOODGATE_FEED_MAXLEN"),
		ShowLabels:      e.bool("MOODGATE_SHOW_LABELS"),
		MaxMessageBytes: e.int("MOODGATE_MAX_MESSAGE_BYTES"),
		MessageRate:     e.float("MOODGATE_MESSAGE_RATE"),
		MessageBurst:    e.int("MOODGATE_MESSAGE_BURST"),
		MaxConnsPerIP:   e.int("MOODGATE_MAX_CONNS_PER_IP"),
		SendQueueBytes:  e.int("MOODGATE_SEND_QUEUE_BYTES"),
		ShutdownTimeout: e.dur("MOODGATE_SHUTDOWN_TIMEOUT"),
		LogLevel:        e.str("MOODGATE_LOG_LEVEL"),
	}
	if v := e.str("MOODGATE_OPERATOR_TOKENS"); v != "" {
		ops, err := ParseOperatorTokens(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("MOODGATE_OPERATOR_TOKENS: %w", err))
		}
		c.OperatorTokens = ops
	}
	if len(e.errs) > 0 {
		return c, e.errs[0]
	}
	return c, nil
}

// ParseOperatorTokens parses "name:token,name2:token2".
func ParseOperatorTokens(s string) (map[string]string, error) {
	ops := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, tok, ok := strings.Cut(part, ":")
		name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
		if !ok || name == "" || tok == "" {
			return nil, fmt.Errorf("entry %d is not name:token", len(ops)+1)
		}
		if len(tok) < 16 {
			return nil, fmt.Errorf("operator %q: token shorter than 16 characters", name)
		}
		if _, dup := ops[tok]; dup {
			return nil, fmt.Errorf("operator %q: token used twice", name)
		}
		ops[tok] = name
	}
	return ops, nil
}

// BindFlags lets flags override the common settings; call it before
// fs.Parse and after FromEnv.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (MOODGATE_ADDR, default :8080)")
	fs.StringVar(&c.RedisURL, "redis", c.RedisURL, "Redis URL (REDIS_URL; empty: in-process, ephemeral)")
	fs.Func("ollama", "Ollama hosts, comma-separated (OLLAMA_HOST)", func(s string) error {
		c.OllamaHosts = splitList(s)
		return nil
	})
	fs.StringVar(&c.EmotionModel, "emotion-model", c.EmotionModel, "Ollama emotion model (MOODGATE_EMOTION_MODEL)")
	fs.StringVar(&c.ChatModel, "chat-model", c.ChatModel, "Ollama chat model (MOODGATE_CHAT_MODEL)")
	fs.StringVar(&c.PolicyFile, "policy", c.PolicyFile, "policy rules YAML (MOODGATE_POLICY_FILE)")
	fs.BoolVar(&c.ShowLabels, "show-labels", c.ShowLabels, "show emotion labels on the chat page (MOODGATE_SHOW_LABELS)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn, error (MOODGATE_LOG_LEVEL)")
}

// Resolve fills every zero value with its default and checks the result.
func (c *Config) Resolve() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	def(&c.Addr, ":8080")
	def(&c.RedisPrefix, "mg:")
	def(&c.EmotionModel, "moodgate-emotion")
	def(&c.EmotionMode, "finetuned")
	def(&c.ChatModel, "gemma2:2b")
	def(&c.LogLevel, "info")
	defDur(&c.EmotionTimeout, 1500*time.Millisecond)
	defDur(&c.ChatTimeout, 30*time.Second)
	defDur(&c.SessionTTL, 30*24*time.Hour)
	defDur(&c.ShutdownTimeout, 10*time.Second)
	defInt(&c.ChatConcurrency, 4)
	defInt(&c.MaxMessageBytes, 8192)
	defInt(&c.MessageBurst, 10)
	defInt(&c.MaxConnsPerIP, 50)
	defInt(&c.SendQueueBytes, 1<<20)
	defInt(&c.FeedMaxLen, 100000)
	if c.MessageRate == 0 {
		c.MessageRate = 5
	}
	if c.Secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate secret: %w", err)
		}
		c.Secret = hex.EncodeToString(b)
		c.SecretGenerated = true
	}
	switch {
	case len(c.Secret) < 16:
		return fmt.Errorf("MOODGATE_SECRET: shorter than 16 characters")
	case c.EmotionMode != "finetuned" && c.EmotionMode != "zeroshot":
		return fmt.Errorf("MOODGATE_EMOTION_MODE: %q is neither finetuned nor zeroshot", c.EmotionMode)
	case c.MaxMessageBytes < 256:
		return fmt.Errorf("MOODGATE_MAX_MESSAGE_BYTES: %d is below 256", c.MaxMessageBytes)
	case c.MessageRate < 0 || c.MessageBurst < 0 || c.MaxConnsPerIP < 0 || c.ChatConcurrency < 0 || c.FeedMaxLen < 0:
		return fmt.Errorf("rate, burst, connection and concurrency limits must not be negative")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("MOODGATE_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// LoadConfig is FromEnv(os.LookupEnv), then flags from args, then Resolve.
func LoadConfig(fs *flag.FlagSet, args []string) (Config, error) {
	c, err := FromEnv(os.LookupEnv)
	if err != nil {
		return c, err
	}
	if fs != nil {
		c.BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
	}
	return c, c.Resolve()
}

type envReader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (e *envReader) str(k string) string {
	v, _ := e.lookup(k)
	return strings.TrimSpace(v)
}

func (e *envReader) list(k string) []string { return splitList(e.str(k)) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (e *envReader) dur(k string) time.Duration {
	v := e.str(k)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not a positive duration such as 1.5s", k, v))
	}
	return d
}

func (e *envReader) int(k string) int {
	v := e.str(k)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not an integer", k, v))
	}
	return n
}

func (e *envReader) float(k string) float64 {
	v := e.str(k)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not a number", k, v))
	}
	return f
}

func (e *envReader) bool(k string) bool {
	v := e.str(k)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not true or false", k, v))
	}
	return b
}
