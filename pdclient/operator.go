package pdclient

import (
	"fmt"
	"strconv"
	"strings"
)

// The statuses PD prints for an operator (the names of pdpb.OperatorStatus
// that PD maps its internal status to, in pkg/schedule/operator/status.go
// and operator_controller.go). PD's EXPIRED (an operator that never
// started) prints as TIMEOUT.
const (
	OpRunning = "RUNNING"
	OpSuccess = "SUCCESS"
	OpTimeout = "TIMEOUT"
	OpCancel  = "CANCEL"
	OpReplace = "REPLACE"
	// OpCreated stands for an operator created and not yet started: its
	// internal status maps to no pdpb.OperatorStatus value, and PD prints
	// the bare number instead of a name (read in PD's source; not
	// recorded). Raw keeps what PD printed.
	OpCreated = "CREATED"
)

// OperatorStatus is PD's answer to GET /operators/{region_id}: the
// region's latest operator, whoever made it, and its status.
type OperatorStatus struct {
	// Status is one of OpRunning, OpSuccess, OpTimeout, OpCancel,
	// OpReplace, OpCreated.
	Status string
	// Raw is the status as PD printed it ("RUNNING", or "5").
	Raw string
	// Desc names the operator and who made it: "admin-split-region" for
	// one made through the API, "balance-leader-scheduler" for a
	// scheduler's.
	Desc string
	// Brief is what it does: "split: region 9 use policy APPROXIMATE".
	Brief string
	// Kind is PD's kind list: "admin", "admin,leader", "leader".
	Kind string
	// RegionID is the region it acts on.
	RegionID uint64
	// CreateAt is PD's creation time as printed; with Desc it tells one
	// operator from another on the same region.
	CreateAt string
	// Text is the operator's whole description.
	Text string
}

// Pending reports whether PD has not ended the operator yet.
func (o OperatorStatus) Pending() bool { return o.Status == OpRunning || o.Status == OpCreated }

// Admin reports whether the operator was made through PD's API rather
// than by a scheduler or checker.
func (o OperatorStatus) Admin() bool {
	return strings.HasPrefix(o.Desc, "admin-") || strings.HasPrefix(o.Kind, "admin")
}

// ParseOperatorStatus parses PD's "status: S, operator: DESC" string.
func ParseOperatorStatus(s string) (OperatorStatus, error) {
	rest, ok := strings.CutPrefix(s, "status: ")
	if !ok {
		return OperatorStatus{}, fmt.Errorf("pdclient: operator status %q: no status: %w", s, ErrBadResponse)
	}
	raw, text, ok := strings.Cut(rest, ", operator: ")
	if !ok {
		return OperatorStatus{}, fmt.Errorf("pdclient: operator status %q: no operator: %w", s, ErrBadResponse)
	}
	o := OperatorStatus{Raw: raw, Status: raw, Text: text}
	switch raw {
	case OpRunning, OpSuccess, OpTimeout, OpCancel, OpReplace:
	default:
		if _, err := strconv.Atoi(raw); err != nil {
			return OperatorStatus{}, fmt.Errorf("pdclient: operator status %q: unknown status %q: %w", s, raw, ErrBadResponse)
		}
		o.Status = OpCreated
	}
	head, tail, ok := strings.Cut(text, " {")
	if !ok {
		return OperatorStatus{}, fmt.Errorf("pdclient: operator %q: no brief: %w", text, ErrBadResponse)
	}
	o.Desc = head
	brief, props, ok := strings.Cut(tail, "} (")
	if !ok {
		return OperatorStatus{}, fmt.Errorf("pdclient: operator %q: no properties: %w", text, ErrBadResponse)
	}
	o.Brief = brief
	o.Kind = between(props, "kind:", ", region:")
	if id, err := strconv.ParseUint(between(props, "region:", "("), 10, 64); err == nil {
		o.RegionID = id
	}
	o.CreateAt = between(props, "createAt:", ", startAt:")
	return o, nil
}

// between returns the text of s after from and before the next to, or "".
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(rest, to)
	if !ok {
		return ""
	}
	return v
}

// PendingOperator is one element of GET /operators?object=true.
type PendingOperator struct {
	// Desc names the operator and who made it ("admin-split-region").
	Desc string `json:"desc"`
	// Brief is what it does ("split: region 9 use policy APPROXIMATE").
	Brief    string `json:"brief"`
	RegionID uint64 `json:"region_id"`
	// RegionEpoch is the region's epoch when the operator was made.
	RegionEpoch RegionEpoch `json:"region_epoch"`
	// Kind is PD's number for the operator's kind.
	Kind int `json:"kind"`
	// Timeout is PD's timeout for it ("1m0s").
	Timeout string `json:"timeout"`
	// Status is PD's internal status number (1: started).
	Status int `json:"status"`
}
