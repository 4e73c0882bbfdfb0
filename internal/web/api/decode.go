package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
)

// decode reads the JSON body into v. A body over the limit gives 413; malformed
// JSON or a wrong type gives 400 InvalidJSON naming where it broke.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mergedesk.Errorf(mergedesk.ETooLarge, "The request body is larger than %d bytes", MaxBodyBytes)
		}
		return mergedesk.Errorf(mergedesk.EInvalidJSON, "could not read the body: %v", err)
	}
	return decodeBytes(body, v)
}

// decodeBytes is decode for a body already read; fuzzed by FuzzDecode.
func decodeBytes(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return mergedesk.Errorf(mergedesk.EInvalidJSON, "unexpected data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		return mergedesk.Errorf(mergedesk.EInvalidJSON, "%s", fe.msg)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return mergedesk.Errorf(mergedesk.EInvalidJSON, "%s: expected %s, got %s", field, te.Type, te.Value)
	case errors.As(err, &se):
		return mergedesk.Errorf(mergedesk.EInvalidJSON, "malformed JSON at byte %d: %v", se.Offset, se)
	}
	return mergedesk.Errorf(mergedesk.EInvalidJSON, "malformed JSON: %v", err)
}

type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }

// Opt is an optional JSON value: Set when the key was present, Null when it was null.
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// Ptr returns nil for absent or null, else a pointer to the value.
func (o Opt[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.V
	return &v
}

// Int is an integer that also accepts a decimal string ("8"), as clients send.
type Int int64

func (n *Int) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return &fieldError{fmt.Sprintf("expected an integer, got %s", truncate(string(b), 40))}
		}
		v = int64(f)
	}
	*n = Int(v)
	return nil
}

// Ref is an id reference: 0 means none (go-zendesk sends "group_id":0).
type Ref = Opt[Int]

// refPtr returns nil for an absent, null or zero reference.
func refPtr(o Ref) *int64 {
	if !o.Set || o.Null || o.V == 0 {
		return nil
	}
	v := int64(o.V)
	return &v
}

// refUpdate maps a reference to "no change" (nil), "clear" (&nil) or "set".
func refUpdate(o Ref) **int64 {
	if !o.Set {
		return nil
	}
	p := refPtr(o)
	return &p
}

// strUpdate maps an optional string to "no change", "clear" or "set".
func strUpdate(o Opt[string]) **string {
	if !o.Set {
		return nil
	}
	if o.Null {
		var p *string
		return &p
	}
	v := o.V
	p := &v
	return &p
}

// Time is a timestamp; the Go zero time means absent.
type Time struct {
	T   time.Time
	Set bool
}

func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &fieldError{"expected an RFC 3339 timestamp"}
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return &fieldError{fmt.Sprintf("expected an RFC 3339 timestamp, got %q", truncate(s, 40))}
	}
	if v.IsZero() || v.Year() <= 1 {
		return nil
	}
	t.T, t.Set = v.UTC().Truncate(time.Second), true
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Strings is a list of strings that also accepts null.
type Strings []string

// fieldValue converts a free-form JSON value of user_fields or custom_fields:
// numbers become decimal strings, strings, bools, null and string lists stay.
func fieldValue(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
