// Package fault names the kinds of failure that Parley's services report,
// so that the edges (web's problem+json, the CLI's one-line errors) can
// answer each kind the same way whichever package raised it.
//
// Services wrap a kind with their own words:
//
//	return fmt.Errorf("case %s: %w", id, fault.ErrNotFound)
//
// and web maps the kind to a status code. A fault never carries confidential
// content: messages name ids and fields, not values a user typed.
package fault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The kinds of failure.
var (
	ErrNotFound        = errors.New("not found")
	ErrForbidden       = errors.New("not allowed")
	ErrUnauthenticated = errors.New("not signed in")
	ErrConflict        = errors.New("conflict")
	ErrGone            = errors.New("no longer valid")
	ErrTooLarge        = errors.New("too large")
	// ErrUnavailable: a backing service (the object store) did not answer;
	// the request was not acknowledged and may be tried again.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// InvalidError says which input field is wrong and why.
type InvalidError struct {
	Field  string
	Detail string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Detail) }

// Invalid reports a wrong input field.
func Invalid(field, detail string) error { return &InvalidError{Field: field, Detail: detail} }

// RateLimitedError says an attempt was refused for coming too often.
type RateLimitedError struct {
	RetryAfter time.Duration
	// Reason, when set, says in words which limit was reached (else
	// "too many attempts").
	Reason string
}

func (e *RateLimitedError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = "too many attempts"
	}
	return reason + "; try again in " + inWords(e.RetryAfter)
}

// inWords says a wait as people do ("a minute", "15 minutes", "40
// seconds"), rounded up so that trying again then works; never Go's
// "15m0s".
func inWords(d time.Duration) string {
	switch {
	case d <= time.Second:
		return "a second"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int((d+time.Second-1)/time.Second))
	case d <= time.Minute:
		return "a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int((d+time.Minute-1)/time.Minute))
	case d <= time.Hour:
		return "an hour"
	default:
		return fmt.Sprintf("%d hours", int((d+time.Hour-1)/time.Hour))
	}
}

// BusyError says the node is already doing as much of some costly work
// (checking passwords, receiving uploads) as it can at once: the request
// was not acted on and may be tried again after RetryAfter. Detail is a
// sentence written for the person who asked, in plain words.
type BusyError struct {
	RetryAfter time.Duration
	Detail     string
}

func (e *BusyError) Error() string { return e.Detail }

// AsBusy returns the BusyError in err's chain, if any.
func AsBusy(err error) (*BusyError, bool) {
	var be *BusyError
	ok := errors.As(err, &be)
	return be, ok
}

// AsInvalid returns the InvalidError in err's chain, if any.
func AsInvalid(err error) (*InvalidError, bool) {
	var ie *InvalidError
	ok := errors.As(err, &ie)
	return ie, ok
}

// AsRateLimited returns the RateLimitedError in err's chain, if any.
func AsRateLimited(err error) (*RateLimitedError, bool) {
	var re *RateLimitedError
	ok := errors.As(err, &re)
	return re, ok
}

// Class names err's kind in one word ("invalid", "not-found", "forbidden",
// "conflict", "gone", "too-large", "unavailable", "canceled", or "error"
// for anything else), for an audit entry or a log line that must say why
// something failed without quoting the message.
func Class(err error) string {
	if _, ok := AsInvalid(err); ok {
		return "invalid"
	}
	for _, k := range []struct {
		err  error
		name string
	}{
		{ErrNotFound, "not-found"}, {ErrForbidden, "forbidden"}, {ErrConflict, "conflict"},
		{ErrGone, "gone"}, {ErrTooLarge, "too-large"}, {ErrUnavailable, "unavailable"},
		{context.Canceled, "canceled"}, {context.DeadlineExceeded, "canceled"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "error"
}
