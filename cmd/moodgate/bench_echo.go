package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// echoServer is the baseline the gateway is compared with: a bare
// gorilla/websocket server that answers each client message with an ack,
// an emotion and a reply frame of the gateway's shape and seq/ref
// semantics, with no storage, no classification and no policy. The bench
// drives it with the same client code as the gateway, so the ratio of the
// two shows what the gateway's own work costs.
type echoServer struct {
	ln  net.Listener
	srv *http.Server
	URL string // ws://127.0.0.1:port/ws
}

// startEchoServer listens on 127.0.0.1:0.
func startEchoServer() (*echoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	up := websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveEcho(ws)
	})
	e := &echoServer{
		ln:  ln,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		URL: "ws://" + ln.Addr().String() + "/ws",
	}
	go e.srv.Serve(ln)
	return e, nil
}

// Close stops listening. WebSockets already open end when their clients
// close them.
func (e *echoServer) Close() error {
	return e.srv.Close()
}

type echoScores struct {
	Neutral float64 `json:"neutral"`
	Sadness float64 `json:"sadness"`
	Joy     float64 `json:"joy"`
	Anger   float64 `json:"anger"`
}

// serveEcho is one connection: its read loop is also its only writer, the
// least a WebSocket server can do per message.
func serveEcho(ws *websocket.Conn) {
	defer ws.Close()
	var id [16]byte
	rand.Read(id[:])
	sid := hex.EncodeToString(id[:])
	var seq int64
	write := func(v any) error {
		ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return ws.WriteJSON(v)
	}
	if write(map[string]any{
		"type": "welcome", "session_id": sid, "token": sid, "seq": 0,
		"resumed": false, "show_labels": false, "protocol": 1,
	}) != nil {
		return
	}
	ws.SetReadLimit(8192)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var in struct {
			Type string `json:"type"`
			ID   string `json:"id"`
			Text string `json:"text"`
		}
		if json.Unmarshal(data, &in) != nil {
			if write(map[string]any{"type": "error", "code": "bad_frame", "message": "not JSON", "retryable": false}) != nil {
				return
			}
			continue
		}
		switch in.Type {
		case "ping":
			err = write(map[string]any{"type": "pong"})
		case "message":
			err = echoMessage(write, &seq, in.ID, in.Text)
		default:
			err = write(map[string]any{"type": "error", "code": "unknown_type", "message": in.Type, "retryable": false})
		}
		if err != nil {
			return
		}
	}
}

func echoMessage(write func(any) error, seq *int64, id, text string) error {
	now := func() int64 { return time.Now().UnixMilli() }
	*seq++
	ref := *seq
	if err := write(map[string]any{
		"type": "ack", "seq": ref, "ts": now(), "id": id, "text": text, "from": "user",
	}); err != nil {
		return err
	}
	*seq++
	scores := echoScores{Neutral: 1}
	if err := write(map[string]any{
		"type": "emotion", "seq": *seq, "ts": now(), "ref": ref,
		"label": "neutral", "label_ko": "무감정", "scores": scores, "source": "embedded",
		"crisis": false, "crisis_rule": "", "valence": 0.0,
		"mood": map[string]any{"avg": scores, "valence": 0.0, "label": "neutral", "streak": 1, "streak_label": "neutral", "messages": (ref + 2) / 3},
	}); err != nil {
		return err
	}
	*seq++
	return write(map[string]any{
		"type": "reply", "seq": *seq, "ts": now(), "ref": ref,
		"text": "그렇군요. 이야기해 주셔서 고마워요.", "from": "bot",
	})
}
