package main

import (
	"time"

	"github.com/kvops/operator/invariant"
)

// alert is one alert as tikv://alerts serves it: snake_case like the
// tools' results, and a time only when it happened.
type alert struct {
	Invariant       string            `json:"invariant"`
	Key             string            `json:"key,omitempty"`
	State           string            `json:"state"`
	Severity        string            `json:"severity"`
	Message         string            `json:"message"`
	Value           float64           `json:"value"`
	Labels          map[string]string `json:"labels,omitempty"`
	FirstSeen       time.Time         `json:"first_seen"`
	LastSeen        time.Time         `json:"last_seen"`
	FiredAt         time.Time         `json:"fired_at,omitzero"`
	ResolvedAt      time.Time         `json:"resolved_at,omitzero"`
	KeepFiringSince time.Time         `json:"keep_firing_since,omitzero"`
}

// alertsJSON converts the evaluator's alerts; none is [] (never null).
func alertsJSON(as []invariant.Alert) []alert {
	out := make([]alert, 0, len(as))
	for _, a := range as {
		out = append(out, alert{
			Invariant: a.Invariant, Key: a.Key, State: a.State.String(), Severity: a.Severity.String(),
			Message: a.Message, Value: a.Value, Labels: a.Labels,
			FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, FiredAt: a.FiredAt, ResolvedAt: a.ResolvedAt, KeepFiringSince: a.KeepFiringSince,
		})
	}
	return out
}
