package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// FreePorts returns n distinct TCP ports free on 127.0.0.1 a moment ago.
// They are closed when it returns: another process may take one before
// the server that is handed it binds, so starters retry with
// RetryPortClash.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePort is FreePorts(1)'s one port.
func FreePort() (int, error) {
	p, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// RetryPortClash calls start up to three times, each in a subdirectory of
// dir of its own ("0", "1", "2"), and tries again only while its error says
// a port was taken ("address already in use"): the race FreePorts leaves.
func RetryPortClash[T any](dir string, start func(dir string) (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for attempt := 0; attempt < 3; attempt++ {
		if v, err = start(filepath.Join(dir, strconv.Itoa(attempt))); err == nil {
			return v, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return v, err
}

// RandomHex returns 2n random hexadecimal digits, for passwords, tokens
// and names that must not collide.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
