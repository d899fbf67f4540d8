// Package dockerlog reads the log of a TiKV or PD process running in a
// Docker container, through the Docker Engine's API: a [Source] is a
// [tikv.LogSource]. It is a package of its own so that importing tikv does
// not pull in the Docker client.
//
// Its errors are tikv's: a [*tikv.LogSourceError] whose kind is one of
// tikv's ErrLog* sentinels ([tikv.ErrLogUnreachable], which matches
// subject.ErrUnavailable, when the engine cannot be reached;
// [tikv.ErrLogNotFound] for a container that does not exist;
// [tikv.ErrLogTruncated] when a container was replaced by another of the
// same name, ...).
package dockerlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"strconv"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/internal/logstream"
)

// DefaultSlack is [Config.Slack]'s default: it widens the time window
// asked of the Docker Engine, which filters on when it received a line,
// not on the time the line holds; the source then filters on the line's
// own time.
const DefaultSlack = time.Minute

// Config configures a [Source]. Its zero fields take the defaults given.
type Config struct {
	// Container is the container's name or id. Required.
	Container string
	// Host is the engine's address ("unix:///var/run/docker.sock",
	// "tcp://host:2376"). Empty: as the docker command finds it, from
	// DOCKER_HOST and the other DOCKER_* variables, else the default local
	// socket. Ignored when Client is set.
	Host string
	// Client is a Docker client of the caller's, which Close then leaves
	// open. Nil: the source makes its own from Host.
	Client *client.Client
	// Slack is how much wider than asked the window requested from the
	// engine is. Zero: [DefaultSlack]; negative: none.
	Slack time.Duration
	// MaxEntrySize is the largest entry read; see
	// [logparse.WithMaxEntrySize]. Zero: [logparse.DefaultMaxEntrySize].
	MaxEntrySize int
	// Logger receives the source's own debug messages. Nil: discarded.
	Logger *slog.Logger
}

// Source reads the log a container writes to its stdout and stderr,
// through the Docker Engine's API (any engine from API 1.41 on: the
// client negotiates the version). Both TTY and non-TTY containers work.
//
// Like a [tikv.FileLogSource], a source remembers the newest entry its
// reads of the log up to now have seen: when the container was replaced by
// another of the same name, whose log no longer holds entries of a window
// an earlier read saw, the read ends with an error matching
// [tikv.ErrLogTruncated]. A Source is safe for concurrent use.
type Source struct {
	cli       *client.Client
	ownClient bool
	container string
	slack     time.Duration
	logger    *slog.Logger
	opts      []logparse.ReaderOption
	max       int // the largest entry read
	gaps      logstream.GapCheck
}

var _ tikv.LogSource = (*Source)(nil)

// New returns a source reading the log of cfg.Container. It negotiates
// the API version with the engine, but does not contact it: errors of the
// engine come when the log is read. It fails with an error matching
// subject.ErrInvalid when no container is named, and with a
// [*tikv.LogSourceError] matching [tikv.ErrLogUnreachable] when no client
// can be made for Host (a malformed address).
func New(cfg Config) (*Source, error) {
	if cfg.Container == "" {
		return nil, fmt.Errorf("dockerlog: %w: no container named", subject.ErrInvalid)
	}
	s := &Source{cli: cfg.Client, container: cfg.Container, slack: cfg.Slack, logger: cfg.Logger, max: cfg.MaxEntrySize}
	switch {
	case s.slack == 0:
		s.slack = DefaultSlack
	case s.slack < 0:
		s.slack = 0
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.max <= 0 {
		s.max = logparse.DefaultMaxEntrySize
	} else {
		s.opts = append(s.opts, logparse.WithMaxEntrySize(s.max))
	}
	if s.cli == nil {
		opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
		if cfg.Host != "" {
			opts = append(opts, client.WithHost(cfg.Host))
		}
		cli, err := client.NewClientWithOpts(opts...)
		if err != nil {
			return nil, &tikv.LogSourceError{Source: cfg.Container, Op: "connect to Docker for", Kind: tikv.ErrLogUnreachable, Err: err}
		}
		s.cli, s.ownClient = cli, true
	}
	return s, nil
}

// Name returns the container's name or id, as given.
func (s *Source) Name() string { return s.container }

// Close releases the client the source made for itself.
func (s *Source) Close() error {
	if s.ownClient {
		return s.cli.Close()
	}
	return nil
}

// err classifies an error of the Docker client.
func (s *Source) err(op string, err error) error {
	kind := tikv.ErrLogRead
	switch {
	case errors.Is(err, fs.ErrPermission):
		kind = tikv.ErrLogPermission
	case client.IsErrConnectionFailed(err):
		kind = tikv.ErrLogUnreachable
	case cerrdefs.IsNotFound(err):
		kind = tikv.ErrLogNotFound
	case cerrdefs.IsPermissionDenied(err) || cerrdefs.IsUnauthorized(err):
		kind = tikv.ErrLogPermission
	}
	return &tikv.LogSourceError{Source: s.container, Op: op, Kind: kind, Err: err}
}

// Entries streams the container's entries written at since <= time <
// until.
func (s *Source) Entries(ctx context.Context, since, until time.Time) iter.Seq2[logparse.Entry, error] {
	return s.stream(ctx, since, until, false)
}

// Follow streams the container's entries written at or after since, then
// the new ones until ctx ends. When the container stops or is removed the
// stream ends with an error matching [tikv.ErrLogStopped] or [tikv.ErrLogNotFound].
//
// An entry is complete when the line after it starts another entry, or
// when the engine has sent nothing more for now: continuation lines that
// arrive later than their entry are reported as lines without an entry.
// A last line without its newline, written just as the container stops, may
// be missing: Docker Engine 20.10 ends the stream without it (Entries has
// it).
func (s *Source) Follow(ctx context.Context, since time.Time) iter.Seq2[logparse.Entry, error] {
	return s.stream(ctx, since, time.Time{}, true)
}

func dockerTime(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
}

func (s *Source) stream(ctx context.Context, since, until time.Time, follow bool) iter.Seq2[logparse.Entry, error] {
	return func(yield func(logparse.Entry, error) bool) {
		var read *logstream.GapRead
		if !follow && until.IsZero() {
			read = s.gaps.Start(since)
			yield = read.Wrap(yield)
		}
		info, err := s.cli.ContainerInspect(ctx, s.container)
		if err != nil {
			if ctx.Err() == nil {
				yield(logparse.Entry{}, s.err("inspect", err))
			}
			return
		}
		tty := info.Config != nil && info.Config.Tty
		opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow}
		if !since.IsZero() {
			opts.Since = dockerTime(since.Add(-s.slack))
		}
		if !until.IsZero() {
			opts.Until = dockerTime(until.Add(s.slack))
		}
		body, err := s.cli.ContainerLogs(ctx, info.ID, opts)
		if err != nil {
			if ctx.Err() == nil {
				yield(logparse.Entry{}, s.err("read logs of", err))
			}
			return
		}
		p := newLogPipe(follow, tty)
		done := make(chan struct{})
		go func() {
			defer close(done)
			var err error
			if tty {
				_, err = io.Copy(p, body) // a TTY's output is not multiplexed
			} else {
				// stdout and stderr arrive in messages of at most 16 KiB
				// that the engine may interleave: a long line of one
				// stream goes to the pipe whole, not mixed with lines
				// of the other.
				out, errOut := &lineWriter{w: p, limit: s.max}, &lineWriter{w: p, limit: s.max}
				_, err = stdcopy.StdCopy(out, errOut, body)
				err = errors.Join(err, out.flush(), errOut.flush())
			}
			p.closeWrite(err)
		}()
		defer func() {
			body.Close()
			p.abort()
			<-done
		}()

		w := logstream.NewWindow(since, until)
		rOpts := s.opts
		if follow {
			rOpts = append(rOpts[:len(rOpts):len(rOpts)], logparse.WithFollow())
		}
		r := logparse.NewReader(p, rOpts...)
		for {
			stopped, err := logstream.ReadFrom(ctx, r, &w, yield)
			if stopped {
				return
			}
			if errors.Is(err, errIdle) {
				select {
				case <-ctx.Done():
					return
				case <-p.ready:
				}
				continue
			}
			if ctx.Err() != nil {
				return
			}
			if err != io.EOF {
				yield(logparse.Entry{}, s.cutShort(ctx, info.ID, err))
				return
			}
			if follow {
				// The stream ended: a last line without its newline
				// is complete now.
				r.SetFollow(false)
				if stopped, err := logstream.ReadFrom(ctx, r, &w, yield); stopped || err != io.EOF {
					return
				}
				yield(logparse.Entry{}, s.ended(ctx, info.ID))
			} else if read != nil {
				if lost, gone := read.End(s.container, s.logger); gone {
					yield(logparse.Entry{}, tikv.TruncatedError(s.container, lost))
				}
			}
			return
		}
	}
}

// cutShort classifies an error that cut the engine's stream short: when
// the engine is now unreachable, or the container gone, the error says so.
func (s *Source) cutShort(ctx context.Context, id string, err error) error {
	if _, ierr := s.cli.ContainerInspect(ctx, id); ierr != nil && ctx.Err() == nil {
		var lse *tikv.LogSourceError
		if errors.As(s.err("inspect", ierr), &lse) && (lse.Kind == tikv.ErrLogUnreachable || lse.Kind == tikv.ErrLogNotFound) {
			lse.Op, lse.Err = "read logs of", fmt.Errorf("%w; then: %w", err, ierr)
			return lse
		}
	}
	return s.err("read logs of", err)
}

// ended says why a followed log ended: the container stopped or went away.
func (s *Source) ended(ctx context.Context, id string) error {
	info, err := s.cli.ContainerInspect(ctx, id)
	if err != nil {
		return s.err("follow", err)
	}
	status := "stopped"
	if info.State != nil {
		status = info.State.Status
	}
	s.logger.Debug("followed container log ended", "container", s.container, "status", status)
	return &tikv.LogSourceError{Source: s.container, Op: "follow", Kind: tikv.ErrLogStopped, Err: fmt.Errorf("container is %s", status)}
}

// lineWriter writes to w whole lines only, holding back a line until its
// newline comes, or until it is longer than limit (a reader then rejects
// it anyway).
type lineWriter struct {
	w     io.Writer
	buf   []byte
	limit int
}

// Write writes the lines b completes, and keeps the rest.
func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	n := bytes.LastIndexByte(l.buf, '\n') + 1
	if len(l.buf)-n > l.limit {
		n = len(l.buf)
	}
	if n == 0 {
		return len(b), nil
	}
	if _, err := l.w.Write(l.buf[:n]); err != nil {
		return 0, err
	}
	if n == len(l.buf) && cap(l.buf) > 64<<10 {
		l.buf = nil // do not keep a long line's memory
	} else {
		l.buf = append(l.buf[:0], l.buf[n:]...)
	}
	return len(b), nil
}

// flush writes a last line without its newline.
func (l *lineWriter) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = nil
	return err
}

// errIdle is what a following logPipe reads when it has nothing buffered:
// an io.EOF for the reader (which then completes the entry it holds), not
// the end of the stream.
var errIdle = fmt.Errorf("dockerlog: no log data for now: %w", io.EOF)

var errAborted = errors.New("dockerlog: log stream closed")

// logPipe carries the demultiplexed log from the goroutine reading the
// engine's stream to the reader. Unlike io.Pipe it buffers (up to
// pipeLimit, then the writer waits), and in follow mode a read finding it
// empty returns errIdle at once instead of waiting. For a TTY it drops the
// carriage returns the terminal put before newlines.
type logPipe struct {
	mu       sync.Mutex
	buf      []byte
	werr     error // set when the writer is done: io.EOF or its error
	follow   bool
	tty      bool
	cr       bool          // a '\r' held back at the end of a write
	ready    chan struct{} // data or the end arrived
	space    chan struct{} // the reader took data
	aborted  chan struct{}
	abortOne sync.Once
}

const pipeLimit = 1 << 20

func newLogPipe(follow, tty bool) *logPipe {
	return &logPipe{follow: follow, tty: tty, ready: make(chan struct{}, 1), space: make(chan struct{}, 1), aborted: make(chan struct{})}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Write queues b, waiting while the pipe is full.
func (p *logPipe) Write(b []byte) (int, error) {
	for {
		p.mu.Lock()
		select {
		case <-p.aborted:
			p.mu.Unlock()
			return 0, errAborted
		default:
		}
		if len(p.buf) < pipeLimit {
			if p.tty {
				p.appendTTY(b)
			} else {
				p.buf = append(p.buf, b...)
			}
			p.mu.Unlock()
			signal(p.ready)
			return len(b), nil
		}
		p.mu.Unlock()
		select {
		case <-p.space:
		case <-p.aborted:
			return 0, errAborted
		}
	}
}

// appendTTY appends b without the '\r' of each "\r\n".
func (p *logPipe) appendTTY(b []byte) {
	for _, c := range b {
		if p.cr {
			p.cr = false
			if c != '\n' {
				p.buf = append(p.buf, '\r')
			}
		}
		if c == '\r' {
			p.cr = true
			continue
		}
		p.buf = append(p.buf, c)
	}
}

func (p *logPipe) closeWrite(err error) {
	p.mu.Lock()
	if p.cr {
		p.buf = append(p.buf, '\r')
		p.cr = false
	}
	if err == nil {
		err = io.EOF
	}
	p.werr = err
	p.mu.Unlock()
	signal(p.ready)
}

func (p *logPipe) abort() { p.abortOne.Do(func() { close(p.aborted) }) }

// Read takes queued data; see logPipe for what it does when there is none.
func (p *logPipe) Read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if len(p.buf) > 0 {
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			p.mu.Unlock()
			signal(p.space)
			return n, nil
		}
		werr := p.werr
		p.mu.Unlock()
		switch {
		case werr != nil:
			return 0, werr
		case p.follow:
			return 0, errIdle
		}
		select {
		case <-p.ready:
		case <-p.aborted:
			return 0, errAborted
		}
	}
}
