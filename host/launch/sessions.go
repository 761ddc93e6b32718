package launch

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// savedSession is a launch as the sessions file keeps it: the secret only
// as its SHA-256.
type savedSession struct {
	ID           string           `json:"id"`
	SecretSHA256 string           `json:"secret_sha256"`
	Org          string           `json:"org"`
	User         host.User        `json:"user"`
	Course       *host.Course     `json:"course,omitempty"`
	Assignment   *host.Assignment `json:"assignment,omitempty"`
	ActivityID   string           `json:"activity_id"`
	Registration string           `json:"registration"`
	Expires      time.Time        `json:"expires"`
	CMI5         *cmi5Session     `json:"cmi5,omitempty"`
	FetchSHA256  string           `json:"fetch_sha256,omitempty"`
	FetchUsed    bool             `json:"fetch_used,omitempty"`
}

// sessionFile keeps the launches that have not expired, so that launched
// content keeps working across a restart. One JSON line per launch;
// opening drops the expired ones.
type sessionFile struct {
	mu   sync.Mutex
	f    *os.File
	sync bool
}

// openSessionFile reads the launches at path that are valid at now and
// rewrites the file with them only.
func openSessionFile(path string, now time.Time, syncWrites bool) (*sessionFile, []savedSession, error) {
	var keep []savedSession
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("launch sessions: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var s savedSession
		if json.Unmarshal(sc.Bytes(), &s) != nil {
			continue // a torn last line; launches are cheap to issue again
		}
		if now.Before(s.Expires) {
			keep = append(keep, s)
		}
	}
	// A launch saved again (its fetch token used) has its last line kept.
	last := make(map[string]int, len(keep))
	for i, s := range keep {
		last[s.ID] = i
	}
	out := keep[:0]
	for i, s := range keep {
		if last[s.ID] == i {
			out = append(out, s)
		}
	}
	keep = out
	var buf bytes.Buffer
	for _, s := range keep {
		b, _ := json.Marshal(s)
		buf.Write(append(b, '\n'))
	}
	// Synced before the rename: a crash right after it must not leave an
	// empty file, which would end every launch in progress.
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return nil, nil, fmt.Errorf("launch sessions: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("launch sessions: %w", err)
	}
	return &sessionFile{f: f, sync: syncWrites}, keep, nil
}

// add appends a launch.
func (sf *sessionFile) add(s savedSession) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.f == nil {
		return errors.New("launch sessions: closed")
	}
	if _, err := sf.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("launch sessions: %w", err)
	}
	if sf.sync {
		if err := sf.f.Sync(); err != nil {
			return fmt.Errorf("launch sessions: %w", err)
		}
	}
	return nil
}

// Close closes the file.
func (sf *sessionFile) Close() error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.f == nil {
		return nil
	}
	err := sf.f.Close()
	sf.f = nil
	return err
}

func (s *session) saved() savedSession {
	return savedSession{
		ID: s.id, SecretSHA256: hex.EncodeToString(s.secretHash[:]), Org: s.org, User: s.user, Course: s.course,
		Assignment: s.assignment, ActivityID: s.activityID, Registration: s.reg, Expires: s.expires, CMI5: s.cmi5,
		FetchSHA256: s.fetchHash, FetchUsed: s.fetchUsed,
	}
}

// restore rebuilds a session from the file; learner is the agent the
// org's identity policy gives the user.
func restore(v savedSession, learnerOf func(org string, u host.User) (*xapi.Actor, error)) (*session, error) {
	sum, err := hex.DecodeString(v.SecretSHA256)
	if err != nil || len(sum) != 32 {
		return nil, errors.New("bad secret hash")
	}
	sess := &session{id: v.ID, org: v.Org, user: v.User, course: v.Course, assignment: v.Assignment,
		activityID: v.ActivityID, reg: v.Registration, expires: v.Expires, cmi5: v.CMI5,
		fetchHash: v.FetchSHA256, fetchUsed: v.FetchUsed}
	copy(sess.secretHash[:], sum)
	a, err := learnerOf(v.Org, v.User)
	if err != nil {
		return nil, err
	}
	sess.principal = principalFor(sess, a)
	return sess, nil
}
