// Package webhook is an example lrsbridge sink: it POSTs each batch of
// statements as NDJSON (one statement per line) to a URL.
//
// Configuration keys: "url" (required; https, or http if the operator allows
// it), "token" (optional; sent as a bearer token) and "timeout" (optional;
// a duration such as "30s", default one minute). Connections follow the
// host operator's egress policy (sdk.EgressPolicy.Client): a url that is or
// resolves to a loopback, private, link-local or metadata address is
// refused, also after a redirect. Answers map to
// outcomes: 2xx delivered, 409 already stored, 429 and 503 retry after the
// Retry-After header, 401 unauthenticated, 403 forbidden, other 4xx
// permanent (a batch is then sent again statement by statement, so that only
// the bad statements fail), 5xx and network errors retryable.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/learningflow/lrsbridge/sdk"
)

// Provider returns the Provider of webhook sinks.
func Provider() sdk.Provider { return sdk.ProviderFunc(configure) }

// config is the configuration of a webhook instance, as sdk.DecodeConfig
// reads it.
type config struct {
	URL     string        `config:"url"`
	Token   string        `config:"token"`
	Timeout time.Duration `config:"timeout" default:"1m"`
}

func configure(_ context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
	var c config
	var cerr sdk.ConfigError
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return nil, err
	}
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		cerr.Add("url", "is required")
	case err != nil || u.Host == "":
		cerr.Add("url", "is not an absolute URL")
	case u.Scheme != "http" && u.Scheme != "https":
		cerr.Add("url", "must use https")
	case errors.Is(req.Egress.CheckURL(u), sdk.ErrPlainHTTP):
		cerr.Add("url", "must use https")
	}
	if c.Timeout <= 0 {
		cerr.Add("timeout", "must be more than zero")
	}
	if err := cerr.Err(); err != nil {
		return nil, err
	}
	// Every connection, redirect and proxy goes through the operator's
	// egress policy.
	client := req.Egress.Client(sdk.EgressOptions{DialTimeout: 10 * time.Second})
	client.Timeout = c.Timeout
	return &Sink{
		url:    u.String(),
		token:  c.Token,
		client: client,
		log:    sdk.Logger().With("instance", req.Instance),
	}, nil
}

// Sink delivers to one webhook URL. It is safe for concurrent use.
type Sink struct {
	url    string
	token  string
	client *http.Client
	log    interface {
		Debug(msg string, args ...any)
	}
}

// Deliver POSTs the batch; see the package documentation for the outcomes.
func (s *Sink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	if len(req.Statements) == 0 {
		return sdk.DeliverResponse{}, nil
	}
	err := s.post(ctx, req.Statements)
	switch {
	case err == nil:
		return sdk.DeliverResponse{}, nil
	case errors.Is(err, errAlreadyStored):
		return sdk.DeliverResponse{Verdicts: alreadyStored(len(req.Statements))}, nil
	case !sdk.IsPermanent(err) || len(req.Statements) == 1:
		return sdk.DeliverResponse{}, err
	}
	// The receiver refused the batch: find the statements it refuses by
	// sending them one at a time.
	s.log.Debug("batch refused, sending statements one by one", "statements", len(req.Statements))
	verdicts := make([]sdk.Verdict, len(req.Statements))
	for i, st := range req.Statements {
		err := s.post(ctx, []sdk.Statement{st})
		switch {
		case errors.Is(err, errAlreadyStored):
			verdicts[i].AlreadyStored = true
		case err != nil && !sdk.IsPermanent(err):
			// Not about this statement: the batch as a whole fails.
			return sdk.DeliverResponse{}, err
		default:
			verdicts[i].Err = err
		}
	}
	return sdk.DeliverResponse{Verdicts: verdicts}, nil
}

func alreadyStored(n int) []sdk.Verdict {
	vs := make([]sdk.Verdict, n)
	for i := range vs {
		vs[i].AlreadyStored = true
	}
	return vs
}

var errAlreadyStored = errors.New("already stored")

// post sends statements as one NDJSON body and classifies the answer.
func (s *Sink) post(ctx context.Context, sts []sdk.Statement) error {
	var body bytes.Buffer
	for _, st := range sts {
		body.Write(st.JSON)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return sdk.Permanent(fmt.Errorf("webhook: build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: post: %w", err)
	}
	defer resp.Body.Close()
	// The receiver's message helps an admin; a little of it is enough.
	// It may echo the request: the token is taken out before the message
	// is cut, so that no piece of it is left at the cut.
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	reason := fmt.Errorf("webhook: %s: %s", resp.Status, excerpt(redact(msg, s.token), 200))
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusConflict:
		return errAlreadyStored
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return sdk.RetryAfter(reason, d)
		}
		return reason
	case code == http.StatusUnauthorized:
		return sdk.Unauthenticated(reason)
	case code == http.StatusForbidden:
		return sdk.Forbidden(reason)
	case code >= 400 && code < 500:
		return sdk.Permanent(reason)
	}
	return reason
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(h); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// Close releases idle connections. It is idempotent.
func (s *Sink) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

// redact replaces token in msg with "[redacted]", again while the marker
// beside the text around it spells the token anew ("]ab" in
// "[redacted]ab"), and gives the marker alone for a message that still
// changes after a few passes.
func redact(msg []byte, token string) string {
	if token == "" {
		return string(msg)
	}
	for range 8 {
		out := bytes.ReplaceAll(msg, []byte(token), []byte("[redacted]"))
		if bytes.Equal(out, msg) {
			return string(msg)
		}
		msg = out
	}
	return "[redacted]"
}

// excerpt returns at most n bytes of msg, trimmed of spaces, cut at a
// character boundary.
func excerpt(msg string, n int) string {
	msg = strings.TrimSpace(msg)
	if len(msg) <= n {
		return msg
	}
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return msg[:n] + "…"
}
