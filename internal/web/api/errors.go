package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/authlimit"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	mergedesk.EInvalid:         http.StatusUnprocessableEntity,
	mergedesk.ENotFound:        http.StatusNotFound,
	mergedesk.EInvalidEndpoint: http.StatusNotFound,
	mergedesk.EForbidden:       http.StatusForbidden,
	mergedesk.EUnauthorized:    http.StatusUnauthorized,
	mergedesk.EInvalidJSON:     http.StatusBadRequest,
	mergedesk.EParamMissing:    http.StatusBadRequest,
	mergedesk.EBadCursor:       http.StatusBadRequest,
	mergedesk.ETooManyValues:   http.StatusBadRequest,
	mergedesk.EUpdateConflict:  http.StatusConflict,
	mergedesk.EMergeStale:      http.StatusConflict,
	mergedesk.ETooLarge:        http.StatusRequestEntityTooLarge,
	mergedesk.ETooManyRequests: http.StatusTooManyRequests,
	mergedesk.EUnavailable:     http.StatusServiceUnavailable,
}

// retryAfterUnavailable is the Retry-After of a 503, in seconds: long enough
// for a database failover or restart not to be hammered, short enough for
// clients that honour it to come back soon.
const retryAfterUnavailable = 5

const cancelled = "The request was cancelled"

// writeError writes err as a Zendesk error body. Errors that are not
// *mergedesk.Error are logged with their cause and shown as "Internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errUnauthorized) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Mergedesk"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Couldn't authenticate you"})
		return
	}
	if s.DB != nil {
		err = s.DB.Classify(err)
	}
	var te *authlimit.ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(te.Seconds()))
		err = mergedesk.Errorf(mergedesk.ETooManyRequests,
			"Too many failed sign-in attempts. Retry after %d seconds.", te.Seconds())
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = mergedesk.Errorf(mergedesk.ETooLarge, "The request body is larger than %d bytes", MaxBodyBytes)
	}
	var e *mergedesk.Error
	if !errors.As(err, &e) {
		if r.Context().Err() != nil {
			err = mergedesk.Errorf(mergedesk.EUnavailable, cancelled)
			errors.As(err, &e)
		} else {
			s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": mergedesk.EInternal, "description": "Internal error"})
			return
		}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch status {
	case http.StatusServiceUnavailable:
		if e.Description != cancelled {
			s.Logger.Warn("service unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterUnavailable))
	case http.StatusTooManyRequests:
		// The limiter that refused the request set Retry-After; a bare
		// ETooManyRequests gets a short one, never none (docs/api.md §1.6).
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
	}
	body := map[string]any{"error": e.Code, "description": e.Description}
	if e.Code == mergedesk.EInvalid {
		body["description"] = "Record validation errors"
		body["details"] = e.Details
	}
	writeJSON(w, status, body)
}

// writeJSON writes v with status. A 204 has no body.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// The status is sent; a failed body write means the client went away and
	// there is no one left to tell, so it is not an error of the handler.
	w.Write(append(b, '\n'))
	return nil
}
