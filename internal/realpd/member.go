package realpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// Member is one PD member.
type Member struct {
	c              *Cluster
	name           string
	clientPort     int
	peerPort       int
	dataDir        string
	initialCluster string
	proc           *process // guarded by c.mu
	starts         int      // guarded by c.mu: how many times it was started
}

// Name returns the member's name: pd1, pd2 or pd3.
func (m *Member) Name() string { return m.name }

// URL returns the member's client URL, "http://127.0.0.1:port", which
// serves PD's HTTP API and etcd's v3 API.
func (m *Member) URL() string { return "http://" + m.clientAddr() }

func (m *Member) clientAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.clientPort))
}

func (m *Member) peerURL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(m.peerPort))
}

// Running reports whether the member's process runs.
func (m *Member) Running() bool {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	return m.proc != nil && m.proc.running()
}

// logFiles are PD's log and its standard output and error.
func (m *Member) logFiles() []string {
	return []string{filepath.Join(m.c.dir, m.name+".out"), filepath.Join(m.c.dir, m.name+".log")}
}

// spawn starts the member's process.
func (m *Member) spawn() error {
	c := m.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	if m.proc != nil && m.proc.running() {
		return nil
	}
	args := []string{
		"--name=" + m.name,
		"--data-dir=" + m.dataDir,
		"--client-urls=" + m.URL(),
		"--peer-urls=" + m.peerURL(),
		"--initial-cluster=" + m.initialCluster,
		"--log-file=" + m.logFiles()[1],
	}
	p, err := spawn(filepath.Join(c.cfg.Dir, "pd-server"), args, []string{"TMPDIR=" + c.dir}, m.logFiles()[0])
	if err != nil {
		return err
	}
	m.proc = p
	m.starts++
	return nil
}

// waitServing waits until the member answers as itself: its own GET
// /pd/api/v1/config names its data directory. A process that exits first
// gives ErrPortTaken when it could not bind a port, ErrExited otherwise.
func (m *Member) waitServing(ctx context.Context) error {
	c := m.c
	c.mu.Lock()
	p := m.proc
	c.mu.Unlock()
	var last error
	for {
		var cfg struct {
			DataDir string `json:"data-dir"`
		}
		err := c.http.get(ctx, m.URL(), "/pd/api/v1/config", &cfg)
		switch {
		case err == nil && cfg.DataDir == m.dataDir:
			return nil
		case err == nil:
			// Another server holds the port; ours will fail to bind
			// it and exit.
			last = fmt.Errorf("%s answers with data dir %q, not ours", m.URL(), cfg.DataDir)
		default:
			last = err
		}
		select {
		case <-p.exited:
			if contains(m.logFiles(), bindFailure) {
				return fmt.Errorf("%w: %s (client %d, peer %d): %v", ErrPortTaken, m.name, m.clientPort, m.peerPort, p.err)
			}
			return fmt.Errorf("%w: %s: %v", ErrExited, m.name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("realpd: %s not serving: %w (last: %v)", m.name, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// pollInterval is how often the harness re-reads PD while it waits.
const pollInterval = 200 * time.Millisecond

// Kill kills the member's process (SIGKILL, as a crash) and waits for it
// to exit. Killing a member that does not run does nothing.
func (m *Member) Kill() error {
	m.c.mu.Lock()
	p := m.proc
	m.c.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.kill()
}

// Start starts a killed member again on its data and its ports, and waits
// until it serves and the cluster has a leader. Starting a running member
// does nothing. If one of its ports was taken meanwhile, the error matches
// ErrPortTaken.
func (m *Member) Start(ctx context.Context) error {
	if err := m.spawn(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.c.cfg.ReadyTimeout)
	defer cancel()
	if err := m.waitServing(ctx); err != nil {
		return fmt.Errorf("%w\n%s", err, tail(m.logFiles(), logTailLines))
	}
	_, err := m.c.Leader(ctx)
	return err
}

// Leader returns the member PD's members agree leads the cluster,
// waiting, within ctx, while they have none (as during an election) or
// name a member that does not run. It asks every running member and
// returns once one answers with a running member of this cluster.
func (c *Cluster) Leader(ctx context.Context) (*Member, error) {
	var last error = errors.New("no member runs")
	for {
		for _, m := range c.Members() {
			if !m.Running() {
				continue
			}
			var l struct {
				Name string `json:"name"`
			}
			err := c.http.get(ctx, m.URL(), "/pd/api/v1/leader", &l)
			if err != nil {
				last = err
				continue
			}
			if lm := c.Member(l.Name); lm != nil && lm.Running() {
				return lm, nil
			}
			last = fmt.Errorf("%s names leader %q, which is not a running member", m.name, l.Name)
		}
		if c.isStopped() {
			return nil, ErrStopped
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("realpd: no PD leader: %w (last: %v)", ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// WaitLeaderOtherThan waits, within ctx, until the cluster has a running
// leader other than old: after killing the leader, the new one.
func (c *Cluster) WaitLeaderOtherThan(ctx context.Context, old *Member) (*Member, error) {
	for {
		l, err := c.Leader(ctx)
		if err != nil {
			return nil, err
		}
		if l != old {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("realpd: %s still leads: %w", old.name, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// leaderURL returns the leader's client URL, for writes.
func (c *Cluster) leaderURL(ctx context.Context) (string, error) {
	l, err := c.Leader(ctx)
	if err != nil {
		return "", err
	}
	return l.URL(), nil
}
