package host

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// The rules an admin API needs, kept here so that every API over the host
// applies them the same way.

// ErrIntegrationExists is returned by SaveIntegration with
// SaveOptions.CreateOnly, and by NewIntegrationID, when the organization
// already has an integration with that id.
var ErrIntegrationExists = errors.New("integration exists already")

// IntegrationID returns the id an integration saved without one gets: its
// label in lower case letters and digits, other runs of characters as '-',
// at most 48 characters; the plugin name when nothing is left.
func IntegrationID(label, plugin string) string { return slug(label, plugin) }

// NewIntegrationID returns the id a new integration of orgID with this
// label and plugin would get, or an error wrapping ErrIntegrationExists
// when that id is taken (an integration with the same label exists), or
// ErrOrgUnknown.
func (h *Host) NewIntegrationID(orgID, label, plugin string) (string, error) {
	id := IntegrationID(label, plugin)
	if err := h.refuseExisting(orgID, id, SaveOptions{CreateOnly: true}); err != nil {
		return id, err
	}
	return id, nil
}

// refuseExisting returns an error wrapping ErrIntegrationExists when
// opts.CreateOnly and orgID has an integration id.
func (h *Host) refuseExisting(orgID, id string, opts SaveOptions) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	o, err := h.orgLocked(orgID)
	if err != nil {
		return err
	}
	return o.refuseExisting(id, opts)
}

// refuseExisting is refuseExisting for a caller holding the host's lock.
func (o *org) refuseExisting(id string, opts SaveOptions) error {
	if _, ok := o.workers[id]; ok && opts.CreateOnly {
		return fmt.Errorf("%w: %s/%s", ErrIntegrationExists, o.id, id)
	}
	return nil
}

// sameAddress reports whether two values of a destination setting name the
// same place, so that a saved secret may be reused: URLs compare by
// scheme, host (case-insensitively) and path, where a trailing xAPI
// resource ("statements" or "about"), a query after it and trailing
// slashes do not count (an admin pasting .../statements or .../about of
// the same LRS has not changed its address). Other values compare as
// text.
func sameAddress(a, b any) bool {
	as, bs := fmt.Sprint(a), fmt.Sprint(b)
	if as == bs {
		return true
	}
	an, aok := addressKey(as)
	bn, bok := addressKey(bs)
	return aok && bok && an == bn
}

// addressKey reduces a URL to what sameAddress compares; ok is false for
// a value that is not an absolute http(s) URL.
func addressKey(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		switch strings.ToLower(path[i+1:]) {
		case "statements", "about":
			path = strings.TrimRight(path[:i], "/")
		default:
			if u.RawQuery != "" {
				return "", false // a query on the base is a different address
			}
		}
	}
	return scheme + "://" + strings.ToLower(u.Host) + path + "/", true
}

// ReplayDeadLettersInto queues the dead letters of orgID matching f for
// the integration into, whatever integration they were dead-lettered
// for: the way to deliver the letters of a removed integration. The
// letters are queued first and removed from the dead-letter store after
// (a crash in between leaves a harmless duplicate, never a loss). It
// returns how many were queued; an unknown into is ErrIntegrationUnknown.
func (h *Host) ReplayDeadLettersInto(ctx context.Context, orgID string, f DeadLetterFilter, into string) (int, error) {
	if err := h.knownOrg(orgID); err != nil {
		return 0, err
	}
	w, err := h.worker(orgID, into)
	if err != nil {
		return 0, err
	}
	list, err := h.dead.list(orgID, f)
	if err != nil || len(list) == 0 {
		return 0, err
	}
	items := make([]queue.Item, len(list))
	ids := make([]string, len(list))
	for i, d := range list {
		items[i] = queue.Item{ID: d.StatementID, Data: d.Statement}
		ids[i] = d.ID
	}
	if err := w.q.Append(ctx, items); err != nil {
		return 0, fmt.Errorf("replay into %s: %w", into, err)
	}
	if _, err := h.dead.remove(orgID, DeadLetterFilter{IDs: ids}); err != nil {
		return len(list), fmt.Errorf("replayed %d letters into %s, but they stay listed as dead letters: %w", len(list), into, err)
	}
	return len(list), nil
}
