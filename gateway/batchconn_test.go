package gateway

import (
	"net"
	"testing"
)

// countConn counts the writes that reach the connection.
type countConn struct {
	net.Conn
	writes [][]byte
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestBatchConnGathersHeldWrites(t *testing.T) {
	under := &countConn{}
	c := &batchConn{Conn: under}
	c.Write([]byte("a"))
	if len(under.writes) != 1 {
		t.Fatalf("unheld write: %d writes", len(under.writes))
	}
	c.hold()
	c.Write([]byte("bb"))
	c.Write([]byte("ccc"))
	if len(under.writes) != 1 {
		t.Fatalf("held writes reached the connection: %q", under.writes)
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 2 || string(under.writes[1]) != "bbccc" {
		t.Fatalf("flush: %q", under.writes)
	}
	c.Write([]byte("d"))
	c.hold()
	c.Write([]byte("lost"))
	c.drop()
	c.flush()
	if len(under.writes) != 3 || string(under.writes[2]) != "d" {
		t.Fatalf("after drop: %q", under.writes)
	}
}
