package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
)

// MaxJSONBody bounds every JSON request body. Case records are small; the
// largest field (a disclosure) is 4,000 characters.
const MaxJSONBody = 64 << 10

// DefaultBodyTimeout bounds how long a request body read whole (JSON, a
// PDF to verify) may take to arrive: without it, a body sent a byte at a
// time would hold its request (and, on a route open to anyone, a
// connection) for ever.
const DefaultBodyTimeout = 30 * time.Second

// errSlowBody: the body did not arrive within the body timeout (408).
var errSlowBody = errors.New("request body too slow")

type bodyTimeoutKey struct{}

// withBodyTimeout gives readBody the API's body timeout.
func (a *API) withBodyTimeout(next http.Handler) http.Handler {
	d := a.bodyTimeout
	if d <= 0 {
		d = DefaultBodyTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyTimeoutKey{}, d)))
	})
}

// readBody reads r's body whole, at most limit bytes, within the body
// timeout: the connection's read deadline is set for the read and cleared
// after it (an expired deadline left behind would cancel the request while
// it runs).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	d, ok := r.Context().Value(bodyTimeoutKey{}).(time.Duration)
	if !ok {
		d = DefaultBodyTimeout
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, fmt.Errorf("the request body did not arrive within %s: %w", d, errSlowBody)
	}
	return b, err
}

// decodeJSON reads exactly one JSON object into v, refusing unknown fields,
// trailing data and bodies over MaxJSONBody, and names the field at fault.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONMax(w, r, v, MaxJSONBody)
}

// decodeJSONMax is decodeJSON with another body limit (a pairing's key
// share is larger than the usual request).
func decodeJSONMax(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if !jsonContent(r) && r.ContentLength != 0 {
		return fault.Invalid("Content-Type", "must be application/json")
	}
	data, err := readBody(w, r, limit)
	if err != nil {
		return jsonFault(err, nil, nil)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFault(err, data, v)
	}
	if dec.More() {
		return fault.Invalid("body", "one JSON object expected, found more data after it")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonFault(err, nil, nil)
		}
		return fault.Invalid("body", "one JSON object expected, found more data after it")
	}
	return nil
}

// jsonContent says whether r says its body is JSON. A body that says
// nothing, or is text/plain or a form, is refused (decodeJSONMax) even if
// it parses: those are the bodies another site's page can send without a
// CORS preflight (a form, a fetch of a string or a Blob), so asking for
// application/json keeps every JSON route out of such pages' reach,
// including the routes outside requireSession's Origin check.
func jsonContent(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// jsonFault names the field at fault in a decoding error, in plain
// words. data and v (the body and what it was decoded into) let it find
// the field of an error encoding/json reports without one (bad base64, a
// bad time).
func jsonFault(err error, data []byte, v any) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errSlowBody):
		return err
	case errors.As(err, &maxErr):
		return fmt.Errorf("body over %d bytes: %w", maxErr.Limit, fault.ErrTooLarge)
	case errors.Is(err, io.EOF):
		return fault.Invalid("body", "empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fault.Invalid("body", "JSON ends too early")
	case errors.As(err, &syntaxErr):
		return fault.Invalid("body", fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return fault.Invalid(field, typeWords(typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fault.Invalid(name, "unknown field")
	}
	if v != nil {
		// Decoded again, into a fresh value of the same type, by a
		// decoder whose errors carry the field's place in the body.
		fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if field, detail, ok := v2Words(jsonv2.Unmarshal(data, fresh, jsonv2.MatchCaseInsensitiveNames(true))); ok {
			return fault.Invalid(field, detail)
		}
	}
	return fault.Invalid("body", "not valid JSON")
}

// writeJSON answers with v, one of package api's types: the compiler keeps
// a stored record (an account with its password hash, a document record
// with its keys) out of every answer.
func writeJSON(w http.ResponseWriter, status int, v api.Body) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
