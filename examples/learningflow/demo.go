package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "embed"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// demoYAML is the demo's default configuration, with ${DEMO_...}
// placeholders.
//
//go:embed demo.yaml
var demoYAML string

// demoLRSKey is the API key of the demo's development LRS.
const demoLRSKey = "demo"

// demoEnv is what the demo runs beside the host: its data directory and
// its development LRS.
type demoEnv struct {
	// DataDir is the data directory; removed by Close when the demo made
	// it.
	DataDir string
	// ArchiveDir is the archive directory of organization beacon.
	ArchiveDir string
	// ConfigFile is the expanded configuration the host was loaded from.
	ConfigFile string
	// LRS is the development LRS, and LRSEndpoint its xAPI endpoint.
	LRS         *lrstest.LRS
	LRSEndpoint string
	// LRSSecret is the development LRS's secret (its key is demoLRSKey).
	LRSSecret string

	tempData bool
	srv      *http.Server
}

// startDemo prepares the demo: the data directory (dataDir, or a new
// temporary one when empty), the development LRS on a free loopback port,
// and the configuration from demo.yaml, loaded with host.LoadConfig (so
// LRSBRIDGE_ variables of environ apply).
func startDemo(dataDir, pluginDir string, environ []string) (*demoEnv, host.Config, error) {
	d := &demoEnv{}
	var err error
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "lrsbridge-demo-"); err != nil {
			return nil, host.Config{}, fmt.Errorf("create the demo data directory: %w", err)
		}
		d.tempData = true
	} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, host.Config{}, fmt.Errorf("create the demo data directory: %w", err)
	}
	if d.DataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, host.Config{}, err
	}
	if pluginDir == "" {
		pluginDir = defaultPluginDir(d.DataDir)
	}
	if pluginDir, err = filepath.Abs(pluginDir); err != nil {
		return nil, host.Config{}, err
	}
	d.ArchiveDir = filepath.Join(d.DataDir, "archive")
	fail := func(err error) (*demoEnv, host.Config, error) {
		d.Close(context.Background())
		return nil, host.Config{}, err
	}
	secretsKey, err := demoSecretsKey(d.DataDir)
	if err != nil {
		return fail(err)
	}
	d.LRSSecret = randomHex(12)
	d.LRS = lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: demoLRSKey, Secret: d.LRSSecret}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(fmt.Errorf("start the development LRS: %w", err))
	}
	d.LRSEndpoint = "http://" + ln.Addr().String() + d.LRS.BasePath()
	d.srv = &http.Server{Handler: d.LRS, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.srv.Serve(ln) }() // ends with Close

	text, err := expandDemo(demoYAML, map[string]string{
		"DEMO_DATA":         d.DataDir,
		"DEMO_PLUGINS":      pluginDir,
		"DEMO_ARCHIVE":      d.ArchiveDir,
		"DEMO_LRS_ENDPOINT": d.LRSEndpoint,
		"DEMO_LRS_KEY":      demoLRSKey,
		"DEMO_LRS_SECRET":   d.LRSSecret,
		"DEMO_SECRETS_KEY":  secretsKey,
	})
	if err != nil {
		return fail(err)
	}
	d.ConfigFile = filepath.Join(d.DataDir, "demo-config.yaml")
	if err := os.WriteFile(d.ConfigFile, []byte(text), 0o600); err != nil {
		return fail(fmt.Errorf("write the demo configuration: %w", err))
	}
	cfg, err := host.LoadConfig(d.ConfigFile, environ)
	if err != nil {
		return fail(fmt.Errorf("load the demo configuration: %w", err))
	}
	return d, cfg, nil
}

// Close stops the development LRS and removes a temporary data directory.
func (d *demoEnv) Close(ctx context.Context) {
	if d.srv != nil {
		_ = d.srv.Shutdown(ctx)
	}
	if d.tempData && d.DataDir != "" {
		_ = os.RemoveAll(d.DataDir)
	}
}

// expandDemo replaces the ${NAME} placeholders of the demo configuration.
// Every placeholder sits in a single-quoted YAML string, so values are
// escaped for that (a quote is doubled). An unknown placeholder is an
// error.
func expandDemo(text string, vars map[string]string) (string, error) {
	var unknown []string
	out := os.Expand(text, func(name string) string {
		v, ok := vars[name]
		if !ok {
			unknown = append(unknown, name)
			return ""
		}
		return strings.ReplaceAll(v, "'", "''")
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return "", fmt.Errorf("demo configuration: unknown placeholders %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// demoSecretsKey returns the demo's key for secrets saved from the panel,
// made once per data directory and kept in it (so a kept -data directory
// can read its saved integrations again).
func demoSecretsKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "demo-secrets.key")
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the demo secrets key: %w", err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // never fails (crypto/rand)
	key := base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the demo secrets key: %w", err)
	}
	return key, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
