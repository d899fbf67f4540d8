package realpd

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The ports New draws from: below the kernel's ephemeral range, and above
// the ports services usually take.
const (
	lowestPort = 10000
	// fallbackEphemeral is Linux's default ip_local_port_range start,
	// used when the setting cannot be read.
	fallbackEphemeral = 32768
)

// portRange returns [lo, hi): the ports below the ephemeral range, or,
// when that range starts too low to leave room, the ports above it.
func portRange() (lo, hi int) {
	first, last := fallbackEphemeral, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			a, err1 := strconv.Atoi(f[0])
			z, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && a <= z {
				first, last = a, z
			}
		}
	}
	if first-lowestPort >= 2000 {
		return lowestPort, first
	}
	return last + 1, 65536
}

// pickPorts returns n distinct loopback ports, drawn at random from
// portRange, that no one listens on right now. That is no promise that no
// one will by the time PD binds them: see the package documentation for
// what makes that safe.
func pickPorts(n int) ([]int, error) {
	lo, hi := portRange()
	if hi-lo < 4*n {
		return nil, fmt.Errorf("realpd: no room for %d ports in [%d, %d)", n, lo, hi)
	}
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("realpd: found %d free ports of %d in [%d, %d)", len(out), n, lo, hi)
		}
		p := lo + rand.IntN(hi-lo)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			return nil, fmt.Errorf("realpd: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// bindFailure is what a Go program such as PD prints when a port it
// listens on is taken: the text of EADDRINUSE ("address already in use").
// PD exits at once after it ("[PD:etcd:ErrStartEtcd]listen tcp
// 127.0.0.1:N: bind: address already in use"), and the text is the only
// way to tell that failure from others: PD exits with status 1 for every
// fatal error.
var bindFailure = syscall.EADDRINUSE.Error()
