package telemetry

import (
	"context"
	"errors"

	"github.com/sony/gobreaker/v2"

	"github.com/learningflow/lrsbridge/sdk"
)

// ErrorType returns the value of the error.type attribute for err: a short
// class that never contains the error's text (which may carry an LRS's
// answer). nil gives "".
//
//	plugin_exited    the sink's plugin process exited
//	panic            the sink's code panicked
//	breaker_open     the circuit breaker refused the call
//	timeout          the delivery timeout passed
//	canceled         the host canceled the call (shutdown, reload)
//	throttled        retryable after a delay the sink asked for
//	permanent        refused for good
//	unauthenticated  credentials rejected
//	forbidden        credentials not permitted
//	retryable        any other error
func ErrorType(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, sdk.ErrPluginExited):
		return "plugin_exited"
	case errors.Is(err, sdk.ErrSinkPanicked):
		return "panic"
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return "breaker_open"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	if _, ok := sdk.RetryDelay(err); ok {
		return "throttled"
	}
	return sdk.ClassOf(err).String()
}
