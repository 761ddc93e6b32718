package jsstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/learningflow/lrsbridge/host/internal/filename"
)

// maxTokenLen bounds one escaped org or sink token in a subject. NATS has
// no hard limit below the 4 KiB control line, but long subjects cost
// memory on every server for every message.
const maxTokenLen = 400

// maxConsumerLen bounds durable consumer names; the server allows 255.
const maxConsumerLen = 200

// escape maps s to a subject token with the queue store's escaping
// (filename.Escape): lower-case ASCII letters, digits and '-' are kept,
// every other byte becomes '_' and two lower-case hex digits. The mapping
// is injective, never yields '.', '*', '>' or whitespace, and never yields
// two '_' in a row followed by '_' (so "__" can join tokens).
func escape(s string) string { return filename.Escape(s) }

// unescape reverses escape.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		case c == '_' && i+2 < len(s):
			v, err := hex.DecodeString(s[i+1 : i+3])
			if err != nil || strings.ToLower(s[i+1:i+3]) != s[i+1:i+3] {
				return "", fmt.Errorf("bad escape at byte %d of %q", i, s)
			}
			b.WriteByte(v[0])
			i += 2
		default:
			return "", fmt.Errorf("bad byte at %d of %q", i, s)
		}
	}
	return b.String(), nil
}

// names derives every JetStream name of the backend from the configured
// stream name and subject prefix.
type names struct {
	stream, prefix string
}

func (n names) dlqStream() string    { return n.stream + "_DLQ" }
func (n names) configBucket() string { return n.stream + "_config" }
func (n names) stateBucket() string  { return n.stream + "_state" }
func (n names) statusBucket() string { return n.stream + "_status" }

// queueSubject is the subject of the queue of (org, sink).
func (n names) queueSubject(org, sink string) (string, error) {
	return n.subject(n.prefix, org, sink)
}

// dlqSubject is the dead-letter subject of (org, sink).
func (n names) dlqSubject(org, sink string) (string, error) {
	return n.subject(n.prefix+"dl", org, sink)
}

func (n names) subject(prefix, org, sink string) (string, error) {
	if org == "" || sink == "" {
		return "", errors.New("empty org or sink")
	}
	o, s := escape(org), escape(sink)
	if len(o) > maxTokenLen || len(s) > maxTokenLen {
		return "", fmt.Errorf("org or sink name too long for a subject (at most %d bytes escaped)", maxTokenLen)
	}
	return prefix + "." + o + "." + s, nil
}

// parseSubject decodes a subject made by subject under prefix.
func (n names) parseSubject(prefix, subj string) (org, sink string, err error) {
	rest, ok := strings.CutPrefix(subj, prefix+".")
	if !ok {
		return "", "", fmt.Errorf("subject %q not under %q", subj, prefix)
	}
	o, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return "", "", fmt.Errorf("subject %q: want two tokens after the prefix", subj)
	}
	if org, err = unescape(o); err != nil {
		return "", "", err
	}
	if sink, err = unescape(s); err != nil {
		return "", "", err
	}
	return org, sink, nil
}

// consumerName is the durable consumer of (org, sink): the escaped names
// joined with "__". escape never yields "__" nor ends with '_' (every '_'
// is followed by two hex digits), so the first "__" is the join. A name of
// maxConsumerLen bytes or more is cut to exactly maxConsumerLen bytes
// ending in '-' and the hex SHA-256 of the key, which no uncut name is as
// long as. The key itself is kept in the consumer's metadata.
func consumerName(org, sink string) string {
	n := escape(org) + "__" + escape(sink)
	if len(n) < maxConsumerLen {
		return n
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s%d:%s", len(org), org, len(sink), sink)
	sum := hex.EncodeToString(h.Sum(nil))
	return n[:maxConsumerLen-1-len(sum)] + "-" + sum
}

// framedSubject is the subject of a message of count items on the queue
// subject base: base and the count as a last token, so that the servers'
// per-subject message counts give the statements pending (see
// pendingStatements).
func framedSubject(base string, count int) string {
	return base + "." + strconv.Itoa(count)
}

// pendingStatements sums the statements of the queue subject base from the
// servers' message counts per subject (see statementsOf). Subjects of
// other queues are ignored.
func pendingStatements(subjects map[string]uint64, base string) int64 {
	var n int64
	for subj, msgs := range subjects {
		if queueBase(subj) == base {
			n += statementsOf(subj, msgs)
		}
	}
	return n
}

// statementsOf is how many statements msgs messages on the queue message
// subject subj hold: a message on a queue subject itself (the first
// format) is one statement, one on a framed subject holds as many as its
// last token says.
func statementsOf(subj string, msgs uint64) int64 {
	base := queueBase(subj)
	if base == subj {
		return int64(msgs)
	}
	k, _ := strconv.Atoi(subj[len(base)+1:])
	return int64(k) * int64(msgs)
}

// queueBase returns the queue subject a queue message's subject belongs
// to: subj itself (the first format) or subj without its item count.
func queueBase(subj string) string {
	if i := strings.LastIndexByte(subj, '.'); i >= 0 && strings.Count(subj, ".") == 3 {
		if k, err := strconv.Atoi(subj[i+1:]); err == nil && k > 0 {
			return subj[:i]
		}
	}
	return subj
}
