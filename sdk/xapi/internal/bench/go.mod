module github.com/learningflow/lrsbridge/sdk/xapi/internal/bench

go 1.26.8

require (
	github.com/goccy/go-json v0.12.0
	github.com/learningflow/lrsbridge v0.0.0
)

replace github.com/learningflow/lrsbridge => ../../../..
