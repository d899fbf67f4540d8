// Package errs holds the library's error vocabulary: the sentinel values
// that package subject exports (subject.ErrNotFound is errs.NotFound, the
// same value) and that packages below subject, such as pdclient, match
// without importing it. Callers use subject's names; this package exists
// only so that the arrows between packages point down.
package errs

import "errors"

// The sentinels; see their counterparts in package subject for what each
// means.
var (
	NotFound     = errors.New("not found")
	Invalid      = errors.New("invalid argument")
	Precondition = errors.New("precondition failed")
	NotSupported = errors.New("not supported")
	Unavailable  = errors.New("unavailable")
	ActionFailed = errors.New("action failed")
	Unconfirmed  = errors.New("action unconfirmed")
	NotApproved  = errors.New("not approved")
)
