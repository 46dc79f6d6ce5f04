package conduit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/uber/gonduit/core"

	"github.com/auditbot/auditbot/internal/safetext"
)

// failure is what a failed attempt means, for the retry loop and for the
// error the call ends with.
type failure int

const (
	// failAnswer: the server answered (a Conduit error code, a redirect,
	// a page that is not Conduit once it spoke Conduit): asking again
	// gives the same answer.
	failAnswer failure = iota
	// failRateLimited: HTTP 429.
	failRateLimited
	// failOutage: the server is away or failed (connection refused or
	// reset, timeout, a truncated answer, a gateway's 502/503/504, a 5xx
	// of a server that answered Conduit before): reads are retried, and
	// the call ends as ErrUnavailable.
	failOutage
	// failNotConduit: before the server has answered Conduit JSON once,
	// it answered with something else (a web page, python's http.server
	// 501, JSON of another API): conduit.url is wrong. Not retried.
	failNotConduit
)

// classify says what a failed attempt means. spoke reports whether the
// server has answered Conduit JSON before (Dial succeeded): then a
// garbled answer or a 5xx page is the server failing, not a wrong URL.
func classify(err error, a *attempt, spoke bool) failure {
	if a.status == http.StatusTooManyRequests {
		return failRateLimited
	}
	var ce *core.ConduitError
	if errors.As(err, &ce) {
		status, convErr := strconv.Atoi(ce.Code())
		if convErr != nil {
			// A Conduit error code: the server is Conduit and answered.
			if a.status >= 500 {
				return failOutage
			}
			return failAnswer
		}
		// gonduit puts the HTTP status as the code when the body is not
		// JSON.
		return classifyNotJSON(status, []byte(ce.Info()), a.contentType, spoke)
	}
	if errors.Is(err, ErrRedirected) {
		return failAnswer
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if !spoke && a.status != 0 && a.status < 500 &&
		(errors.Is(err, core.ErrMissingResults) || errors.As(err, &syntaxErr) || errors.As(err, &typeErr)) {
		// JSON, but without Conduit's envelope or with a result that is
		// not what Conduit sends: another JSON API.
		return failNotConduit
	}
	if a.status >= 500 || isTransport(err) {
		return failOutage
	}
	return failAnswer
}

// classifyNotJSON says what an answer whose body is not JSON means.
func classifyNotJSON(status int, body []byte, contentType string, spoke bool) failure {
	switch {
	case status == http.StatusTooManyRequests:
		return failRateLimited
	case truncatedJSON(body):
		// JSON that stops early: the connection or a proxy cut it.
		return failOutage
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		// A proxy or load balancer in front of a Phabricator that is
		// away (or restarting) answers so, usually with a page.
		return failOutage
	case !spoke:
		return failNotConduit
	case status >= 500, looksJSON(body), len(bytes.TrimSpace(body)) == 0 && isJSONType(contentType):
		// The server answered Conduit before: a PHP fatal's page, a
		// garbled or empty answer is the server failing.
		return failOutage
	}
	return failAnswer
}

// truncatedJSON reports whether body is the start of a JSON value that
// ends too early.
func truncatedJSON(body []byte) bool {
	if !looksJSON(body) {
		return false
	}
	var v any
	err := json.NewDecoder(bytes.NewReader(body)).Decode(&v)
	return errors.Is(err, io.ErrUnexpectedEOF)
}

// looksJSON reports whether body starts as a JSON object or array does.
func looksJSON(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func isJSONType(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json"
}

// isTransport reports whether err is a transport failure: refused or
// reset connections, timeouts, a body cut short.
func isTransport(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, context.DeadlineExceeded)
}

// maxPlainInfo bounds the text kept of a plain-text answer that is not
// Conduit JSON (Phorge's 429 "TOO MANY REQUESTS ..." is 79 bytes).
const maxPlainInfo = 200

// describeBody says what an answer that is not Conduit JSON was. A short
// plain-text answer is kept, on one line; anything else (an HTML error
// page is long, and may echo the request) only by its size and type.
func describeBody(status int, contentType string, body []byte) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" {
		mt = "no content type"
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if mt == "text/plain" && len(text) > 0 && len(text) <= maxPlainInfo && !strings.Contains(text, "<") {
		return safetext.Line(text)
	}
	what := "not JSON"
	if truncatedJSON(body) {
		what = "JSON cut short"
	}
	return fmt.Sprintf("HTTP %d answer of %d byte(s), %s, %s", status, len(body), mt, what)
}
