package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

func init() {
	register("chat", "chat with a running gateway from the terminal (one line, one message)", runChat)
}

// runChat is a terminal WebSocket client: each line of standard input is sent
// as a message, every frame from the server is printed as it arrives. It
// exits at the end of input once the last message's reply or escalation has
// arrived (or after --wait).
func runChat(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	addr := fs.String("url", "ws://localhost:8080/ws", "gateway WebSocket URL")
	sid := fs.String("session", "", "resume this session (with --token)")
	token := fs.String("token", "", "session token from the welcome frame")
	last := fs.Int64("last-seq", 0, "replay events after this seq when resuming")
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for answers after the last line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*addr)
	if err != nil {
		return err
	}
	if *sid != "" {
		q := u.Query()
		q.Set("session", *sid)
		q.Set("token", *token)
		q.Set("last_seq", strconv.FormatInt(*last, 10))
		u.RawQuery = q.Encode()
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	answered := make(chan struct{}, 64)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			fmt.Println(string(data))
			var f struct{ Type string }
			if json.Unmarshal(data, &f) == nil && (f.Type == "reply" || f.Type == "escalation" || f.Type == "error") {
				answered <- struct{}{}
			}
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	n := 0
	for in.Scan() {
		n++
		msg := map[string]string{"type": "message", "id": fmt.Sprintf("cli-%d-%d", time.Now().UnixNano(), n), "text": in.Text()}
		fmt.Printf("> %s\n", in.Text())
		if err := ws.WriteJSON(msg); err != nil {
			return err
		}
		select {
		case <-answered:
		case err := <-readErr:
			return err
		case <-time.After(*wait):
		case <-ctx.Done():
			return nil
		}
	}
	if err := in.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	return nil
}
