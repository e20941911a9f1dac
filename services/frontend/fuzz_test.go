package frontend

import (
	"net"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes to a session and checks that the
// server survives: it never panics or hangs, and still answers a
// well-behaved client afterwards.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		`{"method":"echo","params":[],"id":1}`,
		`{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"s":"x"}}],"id":1}`,
		`{"method":"monitor_cond","params":["T",null,{"A":[{"where":[["i","==",1]]}]}],"id":1}`,
		`{"method":"monitor_cond_since","params":["T","m",{"A":{}},"00000000-0000-0000-0000-000000000000"],"id":2}`,
		`{"method":"monitor_cond_change","params":["m","n",{"A":[{"where":[true]}]}],"id":3}`,
		`{"method":"lock","params":["L"],"id":1}{"method":"steal","params":["L"],"id":2}{"method":"unlock","params":["L"],"id":3}`,
		`{"method":"cancel","params":[1],"id":null}`,
		`{"method":"transact","params":["_Server",{"op":"select","table":"Database","where":[]}],"id":1}`,
		`{"method":"get_schema","params":["T"],"id":{"a":[1,2]}}`,
		`[[[[[[[[`,
		`{"id":"echo","result":[],"error":null}`,
		"\x00\xff garbage",
	} {
		f.Add([]byte(seed))
	}
	env := startServer(f, func(c *Config) { c.MaxMessageSize = 1 << 16; c.InactivityProbeInterval = 0 })
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.DialTimeout("unix", env.sock, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(testTimeout))
		_, _ = c.Write(data)
		// Half-close and drain what the server sends until it closes or
		// goes quiet: it must not hang the test.
		_ = c.(*net.UnixConn).CloseWrite()
		buf := make([]byte, 64<<10)
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		_ = c.Close()
		h := dial(t, env.addr(), nil)
		call(t, h, "list_dbs")
		_ = h.Close()
	})
}
