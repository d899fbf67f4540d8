package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/kvops/operator/internal/errs"
)

// Errors that the package wraps, so that callers can tell failures apart
// with [errors.Is]. They are subject's sentinels (subject.ErrInvalid is
// ErrInvalid).
var (
	// ErrInvalid: a malformed Config, or alerts an Alertmanager refused
	// as invalid (a [*SendError] with StatusCode 400 or 422). Refused
	// alerts are not sent again: they would be refused again.
	ErrInvalid = errs.ErrInvalid
	// ErrUnavailable: an Alertmanager could not be reached, timed out or
	// answered with an error other than 400 or 422 (a [*SendError]). The
	// alerts stay queued for the next send.
	ErrUnavailable = errs.ErrUnavailable
)

// SendError says that one POST to an Alertmanager failed. It matches
// [ErrInvalid] when the Alertmanager refused the alerts as invalid (400,
// 422: they are dropped), and [ErrUnavailable] otherwise (they stay
// queued).
type SendError struct {
	// URL is the Alertmanager's base URL.
	URL string
	// Alerts is the number of alerts the POST carried.
	Alerts int
	// StatusCode is the HTTP status the Alertmanager answered with, 0
	// when it did not answer.
	StatusCode int
	// Message is the start of the Alertmanager's answer, if it answered.
	Message string
	// Err is the transport's error when it did not answer.
	Err error
}

// Error names the Alertmanager and what went wrong.
func (e *SendError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("alertmanager: sending %d alerts to %s: %v", e.Alerts, e.URL, e.Err)
	}
	return fmt.Sprintf("alertmanager: sending %d alerts to %s: %d %s: %s", e.Alerts, e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Unwrap returns the transport's error.
func (e *SendError) Unwrap() error { return e.Err }

// Is matches ErrInvalid for a refusal and ErrUnavailable otherwise.
func (e *SendError) Is(target error) bool {
	if e.rejected() {
		return target == ErrInvalid
	}
	return target == ErrUnavailable
}

// rejected: Alertmanager validated the alerts and refused some (api/v2's
// postAlertsHandler answers 400 after storing the valid ones; go-openapi
// answers 422 to a body that breaks the schema). Sending the same alerts
// again would be refused again.
func (e *SendError) rejected() bool {
	return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
}

// Flush sends every queued alert to every Alertmanager, each from its own
// goroutine, in batches of at most Config.MaxBatchSize, each POST bounded
// by Config.Timeout and by ctx, and returns once every Alertmanager is
// done: its queue is empty, or a send failed. It returns the failed sends
// as [*SendError]s joined with [errors.Join] (nil when all went through).
// A send that failed for want of an answer leaves its alerts queued, ahead
// of newer ones, for the next Flush; refused alerts are dropped.
func (s *Sender) Flush(ctx context.Context) error {
	errs := make([]error, len(s.targets))
	var wg sync.WaitGroup
	for i, t := range s.targets {
		wg.Go(func() { errs[i] = s.drain(ctx, t) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Run sends queued alerts as they are queued, until ctx ends; it returns
// ctx.Err(). Each Alertmanager has a goroutine of its own, so that one
// that is down delays none of the others. Run keeps no timer: it sends
// when [Sender.Update] (or [Sender.Restore]) queues something, or finds
// alerts still queued, so alerts whose send failed are sent again at the
// next Update, every evaluation, until they go through. Calling Flush
// while Run runs is safe.
func (s *Sender) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.work:
					_ = s.drain(ctx, t)
				}
			}
		})
	}
	s.mu.Lock()
	for _, t := range s.targets {
		if t.q.len() > 0 {
			t.signal()
		}
	}
	s.mu.Unlock()
	wg.Wait()
	return ctx.Err()
}

// drain sends t's queue batch after batch until it is empty or a send
// fails for want of an answer; a refused batch is dropped and the rest is
// still sent. It returns the failures.
func (s *Sender) drain(ctx context.Context, t *target) error {
	t.send.Lock()
	defer t.send.Unlock()
	var failed []error
	for {
		s.mu.Lock()
		batch := t.q.pop(s.cfg.MaxBatchSize)
		t.inflight = batch
		s.mu.Unlock()
		if len(batch) == 0 {
			return errors.Join(failed...)
		}
		err := s.post(ctx, t, batch)
		if err != nil && ctx.Err() != nil {
			// The caller gave up, not the Alertmanager: the alerts go
			// back, and nothing is counted against it.
			s.settle(t, batch, nil, true)
			return errors.Join(append(failed, err)...)
		}
		s.settle(t, batch, err, false)
		if err != nil {
			failed = append(failed, err)
			var se *SendError
			if !errors.As(err, &se) || !se.rejected() {
				return errors.Join(failed...)
			}
		}
	}
}

// maxMessage bounds how much of an error answer a SendError keeps.
const maxMessage = 512

// post sends one batch to t.
func (s *Sender) post(ctx context.Context, t *target, batch []*item) error {
	alerts := make([]postable, len(batch))
	for i, it := range batch {
		alerts[i] = it.alert
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		// Maps of strings and times formatted by hand: marshalling
		// cannot fail.
		return &SendError{URL: t.url, Alerts: len(batch), Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.post, bytes.NewReader(body))
	if err != nil {
		return &SendError{URL: t.url, Alerts: len(batch), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return &SendError{URL: t.url, Alerts: len(batch), Err: err}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
	// Read what is left so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &SendError{URL: t.url, Alerts: len(batch), StatusCode: resp.StatusCode, Message: string(bytes.TrimSpace(msg))}
}

// settle records the outcome of sending batch to t: a batch that failed
// for want of an answer, or that the caller stopped (abandoned), goes back
// to the front of the queue.
func (s *Sender) settle(t *target, batch []*item, err error, abandoned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.inflight = nil
	if abandoned {
		if d := t.q.pushFront(batch, s.cfg.QueueCapacity); d > 0 {
			t.dropped(s.log, d)
		}
		return
	}
	n := uint64(len(batch))
	if err == nil {
		t.stats.Sent += n
		t.stats.Failing = false
		s.log.Debug("alertmanager: sent alerts", slog.String("alertmanager", t.url), slog.Int("count", len(batch)))
		return
	}
	t.stats.LastError, t.stats.LastErrorAt = err, s.clock
	var se *SendError
	if errors.As(err, &se) && se.rejected() {
		t.stats.Rejected += n
		t.stats.Failing = false
		s.log.Error("alertmanager: alerts refused as invalid; not sending them again", slog.String("alertmanager", t.url), slog.Any("error", err))
		return
	}
	t.stats.Failed += n
	t.stats.Failing = true
	s.log.Warn("alertmanager: send failed; keeping the alerts for the next send", slog.String("alertmanager", t.url), slog.Any("error", err))
	if d := t.q.pushFront(batch, s.cfg.QueueCapacity); d > 0 {
		t.dropped(s.log, d)
	}
}
