// Package sessiontest starts the Redis servers that moodgate's tests run
// against: a real redis-server on a free loopback port, and the embedded
// miniredis, both reached through go-redis.
package sessiontest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend names one kind of Redis a suite runs on.
type Backend struct {
	Name  string
	Start func(t testing.TB) *redis.Client
}

// Backends is every backend a shared suite must pass on: a real
// redis-server and the embedded miniredis.
var Backends = []Backend{
	{Name: "redis-server", Start: func(t testing.TB) *redis.Client { return RealRedis(t).Client(t) }},
	{Name: "miniredis", Start: Miniredis},
}

// Server is a redis-server process owned by one test.
type Server struct {
	Addr string
	dir  string
	cmd  *exec.Cmd
	args []string
}

// RealRedis starts redis-server (with AOF, fsync always) on a free port in a
// temporary directory and stops it when the test ends; extra arguments
// override those defaults (benchmarks pass "--appendonly", "no"). A test
// fails when redis-server is not installed: .ci/run installs it.
func RealRedis(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (apt-get install redis-server): %v", err)
	}
	s := &Server{dir: t.TempDir()}
	s.Addr = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	_, port, _ := net.SplitHostPort(s.Addr)
	s.args = []string{"--port", port, "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--protected-mode", "no", "--loglevel", "warning"}
	s.args = append(s.args, extra...)
	s.start(t, bin)
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start(t testing.TB, bin string) {
	t.Helper()
	s.cmd = exec.Command(bin, s.args...)
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("redis log: %v", err)
	}
	defer logf.Close()
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	if err := WaitFor(10*time.Second, func() error { return c.Ping(context.Background()).Err() }); err != nil {
		t.Fatalf("redis-server on %s did not answer: %v", s.Addr, err)
	}
}

// Client returns a go-redis client for the server, closed with the test.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Kill stops the server with SIGKILL (data not yet in the AOF is lost, as
// in a crash).
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port and directory, so it
// reloads its AOF.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	bin, _ := exec.LookPath("redis-server")
	s.start(t, bin)
}

// AOFDir is the server's data directory.
func (s *Server) AOFDir() string { return filepath.Join(s.dir) }

// Miniredis starts an in-process miniredis and returns a go-redis client for
// it; both are closed with the test.
func Miniredis(t testing.TB) *redis.Client {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

var prefixes atomic.Int64

// Prefix returns a key prefix unique to this test process and call.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("t%d-%d:", os.Getpid(), prefixes.Add(1))
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitFor polls f every 10ms until it returns nil or timeout passes; it
// returns f's last error. Tests wait with it instead of sleeping.
func WaitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
