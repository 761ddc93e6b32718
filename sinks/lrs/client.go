package lrs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/learningflow/lrsbridge/sdk"
)

// Limits on what is read from the LRS.
const (
	// maxResponseBytes bounds the body read from a response; the ids of
	// MaxMaxBatch statements fit easily.
	maxResponseBytes = 4 << 20
	// maxDrainBytes is how much of an oversized body is discarded to keep
	// the connection reusable before giving up on it.
	maxDrainBytes = 256 << 10
	// maxMessageRunes bounds an LRS message put into an error: an excerpt
	// is enough for an admin, and little of an echoed request survives.
	maxMessageRunes = 200
	// maxRetryAfter caps a Retry-After delay.
	maxRetryAfter = 24 * time.Hour
)

// StatusError is an HTTP answer of the LRS that is not a success. Deliver
// returns it wrapped in the class the status calls for (sdk.Permanent for a
// statement the LRS rejected, sdk.Unauthenticated for 401...).
type StatusError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the LRS's explanation from the body, with control
	// characters removed and truncated; it may be empty.
	Message string
}

// Error describes the problem; it never includes secrets.
func (e *StatusError) Error() string {
	s := "lrs answered " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// TimeoutError reports that the LRS did not answer within the configured
// timeout. It is retryable, and it is not context.DeadlineExceeded, so that
// the caller does not mistake it for its own deadline.
type TimeoutError struct {
	// Timeout is the configured request timeout.
	Timeout time.Duration
}

// Error describes the problem; it never includes secrets.
func (e *TimeoutError) Error() string {
	return "lrs did not answer within " + e.Timeout.String()
}

// response is what is kept of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request with the xAPI headers and credentials, bounded by the
// configured timeout, and reads a bounded body. The response body is always
// drained (up to a limit) and closed, so that the connection is reused.
func (s *Sink) do(ctx context.Context, method, url string, body []byte) (*response, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	var rd io.Reader
	for attempt := 0; ; attempt++ {
		if body != nil {
			rd = bytes.NewReader(body)
		}
		r, value, err := s.send(ctx, rctx, method, url, rd)
		if err != nil {
			return nil, err
		}
		if r.status == http.StatusUnauthorized && attempt == 0 && s.auth.rejected(value) {
			// An OAuth 2.0 token may have been revoked before its
			// expiry: get a new one and try once more.
			continue
		}
		return r, nil
	}
}

// send makes one request with the current credentials and returns the
// answer and the Authorization value used. The body of an answer that is
// not a success, and its Location header, have every form of the secrets
// redacted: an LRS may echo the request in an error.
func (s *Sink) send(ctx, rctx context.Context, method, url string, rd io.Reader) (*response, string, error) {
	req, err := http.NewRequestWithContext(rctx, method, url, rd)
	if err != nil {
		return nil, "", fmt.Errorf("lrs: build request: %w", err)
	}
	value, err := s.auth.header(rctx)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, "", fmt.Errorf("lrs: %w", context.Cause(ctx))
		case rctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
			// Not the caller's deadline: the token endpoint was too slow.
			return nil, "", fmt.Errorf("lrs: get an oauth2 token: %w", &TimeoutError{Timeout: s.cfg.timeout()})
		}
		return nil, "", err
	}
	req.Header.Set("X-Experience-API-Version", string(s.cfg.Version))
	req.Header.Set("Authorization", value)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lrsbridge-lrs-sink")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", s.transportError(ctx, rctx, err)
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBytes)
		_ = resp.Body.Close()
	}()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, "", s.transportError(ctx, rctx, err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if r.status < 200 || r.status > 299 {
		tok := s.token()
		r.body = []byte(s.redact.apply(string(b), tok))
		if loc := r.header.Get("Location"); loc != "" {
			r.header = r.header.Clone()
			r.header.Set("Location", s.redact.apply(loc, tok))
		}
	}
	return r, value, nil
}

// transportError turns a transport failure into the error Deliver returns:
// the caller's cancellation wraps ctx.Err(); the request timeout becomes a
// *TimeoutError; anything else (network, TLS, egress policy) is kept.
func (s *Sink) transportError(ctx, rctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("lrs: %w", context.Cause(ctx))
	}
	if rctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{Timeout: s.cfg.timeout()}
	}
	return fmt.Errorf("lrs: %w", err)
}

// classify wraps the StatusError of a non-success answer in its class.
func classify(r *response) error {
	se := &StatusError{StatusCode: r.status, Message: lrsMessage(r.body)}
	switch r.status {
	case http.StatusUnauthorized:
		return sdk.Unauthenticated(se)
	case http.StatusForbidden:
		return sdk.Forbidden(se)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if d, ok := parseRetryAfter(r.header.Get("Retry-After"), time.Now()); ok {
			return sdk.RetryAfter(se, d)
		}
		return se
	}
	if r.status >= 300 && r.status < 400 {
		if loc := r.header.Get("Location"); loc != "" && se.Message == "" {
			se.Message = "redirected to " + sanitize(loc) + "; update the endpoint"
		}
	}
	return se
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}

// lrsMessage extracts a readable message from an error body: the
// "message" (or "detail", "error") of a JSON object when there is one, the
// text otherwise; sanitized and truncated.
func lrsMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	if body[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil {
			for _, k := range []string{"message", "detail", "error", "error_description", "msg"} {
				var s string
				if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
					return sanitize(s)
				}
			}
		}
	}
	return sanitize(string(body))
}

// sanitize removes control characters (turning line breaks and tabs into
// spaces), collapses runs of space, replaces invalid UTF-8 and truncates to
// maxMessageRunes, so that an LRS message is safe to log and display.
func sanitize(s string) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range s {
		if n >= maxMessageRunes {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError:
			r = '\uFFFD'
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
