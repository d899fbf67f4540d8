// Package errs holds the library's error vocabulary: the sentinel values
// that package subject exports (subject.ErrNotFound is errs.ErrNotFound, the
// same value) and that packages below subject, such as pdclient, match
// without importing it. Callers use subject's names; this package exists
// only so that the arrows between packages point down. Clip keeps the
// messages of pdclient's and promclient's errors short.
package errs

import "errors"

// The sentinels; see their counterparts in package subject for what each
// means.
var (
	ErrNotFound     = errors.New("not found")
	ErrInvalid      = errors.New("invalid argument")
	ErrPrecondition = errors.New("precondition failed")
	ErrNotSupported = errors.New("not supported")
	ErrUnavailable  = errors.New("unavailable")
	ErrActionFailed = errors.New("action failed")
	ErrUnconfirmed  = errors.New("action unconfirmed")
	ErrNotApproved  = errors.New("not approved")
)
