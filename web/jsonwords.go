package web

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// typeWords says in plain words what JSON value a field of Go type t
// takes ("must be a whole number"), never naming the Go type.
func typeWords(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return "has the wrong kind of value"
	case t == reflect.TypeFor[time.Time]():
		return "must be a date and time like 2026-12-05T10:00:00Z"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "must be base64"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "must be a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "must be a number"
	case reflect.Bool:
		return "must be true or false"
	case reflect.String:
		return "must be text in quotes"
	case reflect.Slice, reflect.Array:
		return "must be a list"
	case reflect.Map, reflect.Struct:
		return "must be an object"
	}
	return "has the wrong kind of value"
}

// pointerField turns a JSON pointer ("/wraps/0/record") into a field
// name ("wraps[0].record").
func pointerField(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// v2Words maps an error of the go-json-experiment decoder to the field at
// fault and plain words about it; ok is false when it names no field.
func v2Words(err error) (field, detail string, ok bool) {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) && se.JSONPointer != "" {
		field = pointerField(se.JSONPointer)
		switch {
		case se.GoType != nil:
			return field, typeWords(se.GoType), true
		case strings.Contains(se.Error(), "duplicate"):
			return field, "given twice", true
		}
		return field, "is not valid here", true
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		if strings.Contains(syn.Error(), "duplicate") {
			return pointerField(syn.JSONPointer), "given twice", syn.JSONPointer != ""
		}
		return "", fmt.Sprintf("malformed JSON at byte %d", syn.ByteOffset), false
	}
	return "", "", false
}
