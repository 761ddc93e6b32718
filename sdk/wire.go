package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// This file holds the converters between the plain types of this package and
// the generated protobuf types, and the one table that maps error classes to
// gRPC status codes and back.

// classCodes is the table of error classes and gRPC status codes. Reading a
// status back, the ErrorDetail is authoritative; the code is the fallback for
// plugins that send none.
var classCodes = map[Class]codes.Code{
	ClassRetryable:       codes.Unavailable,
	ClassPermanent:       codes.InvalidArgument,
	ClassUnauthenticated: codes.Unauthenticated,
	ClassForbidden:       codes.PermissionDenied,
}

// codeClasses is the reverse of classCodes for the codes a plugin sends;
// every other code is retryable.
var codeClasses = map[codes.Code]Class{
	codes.InvalidArgument:  ClassPermanent,
	codes.Unauthenticated:  ClassUnauthenticated,
	codes.PermissionDenied: ClassForbidden,
}

var classToProto = map[Class]sinkpb.ErrorClass{
	ClassRetryable:       sinkpb.ErrorClass_ERROR_CLASS_RETRYABLE,
	ClassPermanent:       sinkpb.ErrorClass_ERROR_CLASS_PERMANENT,
	ClassUnauthenticated: sinkpb.ErrorClass_ERROR_CLASS_UNAUTHENTICATED,
	ClassForbidden:       sinkpb.ErrorClass_ERROR_CLASS_FORBIDDEN,
}

func classFromProto(c sinkpb.ErrorClass) Class {
	switch c {
	case sinkpb.ErrorClass_ERROR_CLASS_PERMANENT:
		return ClassPermanent
	case sinkpb.ErrorClass_ERROR_CLASS_UNAUTHENTICATED:
		return ClassUnauthenticated
	case sinkpb.ErrorClass_ERROR_CLASS_FORBIDDEN:
		return ClassForbidden
	}
	return ClassRetryable
}

// wireError is an error that crossed the plugin boundary: its text is the
// plugin's message and it matches a sentinel of this package, if any.
type wireError struct {
	msg      string
	sentinel error
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.sentinel }

// errorToStatus turns an error of a sink (or of the server) into the gRPC
// status error sent to the host.
func errorToStatus(err error) error {
	if err == nil {
		return nil
	}
	detail := &sinkpb.ErrorDetail{}
	var code codes.Code
	var cfg *ConfigError
	switch {
	case errors.Is(err, ErrUnknownInstance):
		code = codes.NotFound
		detail.Condition = sinkpb.Condition_CONDITION_UNKNOWN_INSTANCE
		detail.ErrorClass = sinkpb.ErrorClass_ERROR_CLASS_RETRYABLE
	case errors.Is(err, ErrSinkPanicked):
		code = codes.Internal
		detail.Condition = sinkpb.Condition_CONDITION_SINK_PANICKED
		detail.ErrorClass = sinkpb.ErrorClass_ERROR_CLASS_RETRYABLE
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.As(err, &cfg) && ClassOf(err) == ClassPermanent:
		code = codes.InvalidArgument
		detail.ErrorClass = sinkpb.ErrorClass_ERROR_CLASS_PERMANENT
		detail.FieldErrors = make([]*sinkpb.FieldError, len(cfg.Fields))
		for i, f := range cfg.Fields {
			detail.FieldErrors[i] = &sinkpb.FieldError{Field: f.Field, Message: f.Message}
		}
	default:
		c := ClassOf(err)
		code = classCodes[c]
		detail.ErrorClass = classToProto[c]
		if d, ok := RetryDelay(err); ok {
			code = codes.ResourceExhausted
			detail.RetryAfterNanos = new(int64(d))
		}
	}
	st, derr := status.New(code, err.Error()).WithDetails(detail)
	if derr != nil {
		return status.Error(code, err.Error())
	}
	return st.Err()
}

// errorFromStatus turns a status error received from a plugin back into a
// classified error. ok is false if err carries no status of the plugin (a
// transport failure or a status made by gRPC itself).
func errorFromStatus(err error) (_ error, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus {
		return err, false
	}
	var detail *sinkpb.ErrorDetail
	for _, d := range st.Details() {
		if ed, isDetail := d.(*sinkpb.ErrorDetail); isDetail {
			detail = ed
			break
		}
	}
	msg := st.Message()
	if detail == nil {
		switch st.Code() {
		case codes.NotFound:
			return &wireError{msg: msg, sentinel: ErrUnknownInstance}, true
		case codes.InvalidArgument, codes.Unauthenticated, codes.PermissionDenied:
			return classify(errors.New(msg), codeClasses[st.Code()]), true
		}
		// Unavailable, Internal, Unknown and the rest may come from gRPC
		// itself; the caller decides whether the plugin is gone.
		return &wireError{msg: msg}, false
	}
	switch detail.GetCondition() {
	case sinkpb.Condition_CONDITION_UNKNOWN_INSTANCE:
		return &wireError{msg: msg, sentinel: ErrUnknownInstance}, true
	case sinkpb.Condition_CONDITION_SINK_PANICKED:
		return &wireError{msg: msg, sentinel: ErrSinkPanicked}, true
	}
	if len(detail.GetFieldErrors()) > 0 {
		cfg := &ConfigError{Fields: make([]FieldError, len(detail.GetFieldErrors()))}
		for i, f := range detail.GetFieldErrors() {
			cfg.Fields[i] = FieldError{Field: f.GetField(), Message: f.GetMessage()}
		}
		return cfg, true
	}
	return errorFromParts(msg, detail.GetErrorClass(), detail.RetryAfterNanos), true
}

// errorFromParts rebuilds a classified error from a message, a class and an
// optional retry delay.
func errorFromParts(msg string, c sinkpb.ErrorClass, retryAfter *int64) error {
	base := errors.New(msg)
	if retryAfter != nil {
		return RetryAfter(base, time.Duration(*retryAfter))
	}
	class := classFromProto(c)
	if class == ClassRetryable {
		return &wireError{msg: msg}
	}
	return classify(base, class)
}

func configureToProto(req ConfigureRequest) (*sinkpb.ConfigureRequest, error) {
	cfg, err := json.Marshal(req.Config)
	if err != nil {
		return nil, fmt.Errorf("sdk: encode config of instance %q: %w", req.Instance, err)
	}
	cidrs := make([]string, len(req.Egress.AllowCIDRs))
	for i, p := range req.Egress.AllowCIDRs {
		cidrs[i] = p.String()
	}
	return &sinkpb.ConfigureRequest{
		Instance:   req.Instance,
		Org:        req.Org,
		Label:      req.Label,
		ConfigJson: cfg,
		Egress:     &sinkpb.EgressPolicy{AllowCidrs: cidrs, AllowHttp: req.Egress.AllowHTTP},
	}, nil
}

func configureFromProto(pb *sinkpb.ConfigureRequest) (ConfigureRequest, error) {
	req := ConfigureRequest{Instance: pb.GetInstance(), Org: pb.GetOrg(), Label: pb.GetLabel()}
	if len(pb.GetConfigJson()) > 0 {
		if err := json.Unmarshal(pb.GetConfigJson(), &req.Config); err != nil {
			return req, Permanent(fmt.Errorf("sdk: decode config of instance %q: %w", req.Instance, err))
		}
	}
	if req.Config == nil {
		req.Config = map[string]any{}
	}
	req.Egress.AllowHTTP = pb.GetEgress().GetAllowHttp()
	for _, s := range pb.GetEgress().GetAllowCidrs() {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return req, Permanent(fmt.Errorf("sdk: egress policy of instance %q: %w", req.Instance, err))
		}
		req.Egress.AllowCIDRs = append(req.Egress.AllowCIDRs, p)
	}
	return req, nil
}

func statementsToProto(sts []Statement) []*sinkpb.Statement {
	// One allocation for all messages keeps large batches cheap.
	msgs := make([]sinkpb.Statement, len(sts))
	out := make([]*sinkpb.Statement, len(sts))
	for i, s := range sts {
		msgs[i].Id = s.ID
		msgs[i].Json = s.JSON
		msgs[i].EncodedFor = encodedForToProto(s.EncodedFor)
		out[i] = &msgs[i]
	}
	return out
}

func statementsFromProto(pbs []*sinkpb.Statement) []Statement {
	out := make([]Statement, len(pbs))
	for i, s := range pbs {
		out[i] = Statement{ID: s.GetId(), JSON: s.GetJson(), EncodedFor: encodedForFromProto(s.GetEncodedFor())}
	}
	return out
}

// encodedForToProto names v on the wire; a version the protocol does not
// name is sent as unspecified (not checked).
func encodedForToProto(v xapi.Version) sinkpb.XAPIVersion {
	switch v {
	case xapi.V103:
		return sinkpb.XAPIVersion_XAPI_VERSION_1_0_3
	case xapi.V200:
		return sinkpb.XAPIVersion_XAPI_VERSION_2_0_0
	}
	return sinkpb.XAPIVersion_XAPI_VERSION_UNSPECIFIED
}

// encodedForFromProto returns the version v names, or "" (not checked) for
// unspecified and for values this side does not know.
func encodedForFromProto(v sinkpb.XAPIVersion) xapi.Version {
	switch v {
	case sinkpb.XAPIVersion_XAPI_VERSION_1_0_3:
		return xapi.V103
	case sinkpb.XAPIVersion_XAPI_VERSION_2_0_0:
		return xapi.V200
	}
	return ""
}

func verdictsToProto(vs []Verdict) []*sinkpb.Verdict {
	if len(vs) == 0 {
		return nil
	}
	msgs := make([]sinkpb.Verdict, len(vs))
	out := make([]*sinkpb.Verdict, len(vs))
	for i, v := range vs {
		m := &msgs[i]
		m.AlreadyStored = v.AlreadyStored
		if v.Err != nil && !v.AlreadyStored {
			m.ErrorClass = classToProto[ClassOf(v.Err)]
			m.ErrorMessage = v.Err.Error()
			if d, ok := RetryDelay(v.Err); ok {
				m.RetryAfterNanos = new(int64(d))
			}
		}
		out[i] = m
	}
	return out
}

func verdictsFromProto(pbs []*sinkpb.Verdict) []Verdict {
	if len(pbs) == 0 {
		return nil
	}
	out := make([]Verdict, len(pbs))
	for i, v := range pbs {
		out[i].AlreadyStored = v.GetAlreadyStored()
		if v.GetErrorClass() != sinkpb.ErrorClass_ERROR_CLASS_UNSPECIFIED {
			out[i].Err = errorFromParts(v.GetErrorMessage(), v.GetErrorClass(), v.RetryAfterNanos)
		}
	}
	return out
}

var stepStatusToProto = map[StepStatus]sinkpb.StepStatus{
	StepPassed:  sinkpb.StepStatus_STEP_STATUS_PASSED,
	StepWarning: sinkpb.StepStatus_STEP_STATUS_WARNING,
	StepFailed:  sinkpb.StepStatus_STEP_STATUS_FAILED,
	StepSkipped: sinkpb.StepStatus_STEP_STATUS_SKIPPED,
}

func reportToProto(r Report) *sinkpb.TestConnectionResponse {
	out := &sinkpb.TestConnectionResponse{Steps: make([]*sinkpb.Step, len(r.Steps))}
	for i, s := range r.Steps {
		out.Steps[i] = &sinkpb.Step{
			Name:          s.Name,
			Title:         s.Title,
			Status:        stepStatusToProto[s.Status],
			Message:       s.Message,
			DurationNanos: int64(s.Duration),
		}
	}
	return out
}

func reportFromProto(pb *sinkpb.TestConnectionResponse) Report {
	var r Report
	for _, s := range pb.GetSteps() {
		var st StepStatus
		for k, v := range stepStatusToProto {
			if v == s.GetStatus() {
				st = k
			}
		}
		r.Steps = append(r.Steps, Step{
			Name:     s.GetName(),
			Title:    s.GetTitle(),
			Status:   st,
			Message:  s.GetMessage(),
			Duration: time.Duration(s.GetDurationNanos()),
		})
	}
	return r
}

func versionFromProto(s string) xapi.Version {
	if s == "" {
		return xapi.V103
	}
	return xapi.Version(s)
}
