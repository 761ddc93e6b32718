package normalize

import (
	"context"
	"errors"
)

var errNotYet = errors.New("not implemented yet")

func (j *job) h5p() ([]out, error)            { return nil, j.failErr("kind", errNotYet) }
func (j *job) xapiStatements() ([]out, error) { return nil, j.failErr("kind", errNotYet) }
func (j *job) chatMessage() ([]out, error)    { return nil, j.failErr("kind", errNotYet) }
func (j *job) chatReply() ([]out, error)      { return nil, j.failErr("kind", errNotYet) }
func (j *job) chatFeedback() ([]out, error)   { return nil, j.failErr("kind", errNotYet) }
func (j *job) quiz() ([]out, error)           { return nil, j.failErr("kind", errNotYet) }
func (j *job) scorm(context.Context) ([]out, func(context.Context) error, func(), error) {
	return nil, nil, nil, j.failErr("kind", errNotYet)
}
