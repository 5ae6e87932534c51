//go:build tools

// Package moodgate pins the modules the packages are being built on until
// every one of them is imported by real code.
package moodgate

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/chromedp/chromedp"
	_ "github.com/gorilla/websocket"
	_ "github.com/labstack/echo/v4"
	_ "github.com/ollama/ollama/api"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/sony/gobreaker/v2"
	_ "golang.org/x/time/rate"
	_ "gopkg.in/yaml.v3"
)
