package sdk_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// upperText is a TextUnmarshaler that refuses lower-case text.
type upperText string

func (u *upperText) UnmarshalText(b []byte) error {
	if strings.ToUpper(string(b)) != string(b) {
		return errors.New("must be in capitals")
	}
	*u = upperText(b)
	return nil
}

type decoded struct {
	Name     string         `config:"name"`
	Enabled  bool           `config:"enabled"`
	Count    int            `config:"count" default:"3"`
	Big      int64          `config:"big"`
	Small    uint8          `config:"small"`
	Ratio    float64        `config:"ratio"`
	Wait     time.Duration  `config:"wait" default:"30s"`
	Size     sdk.ByteSize   `config:"size" default:"1MiB"`
	Scopes   []string       `config:"scopes"`
	Code     upperText      `config:"code"`
	Version  xapi.Version   `config:"version"`
	Raw      any            `config:"raw"`
	List     []any          `config:"list"`
	Object   map[string]any `config:"object"`
	Untagged string
	Skipped  string `config:"-"`
}

func TestDecodeConfig(t *testing.T) {
	t.Parallel()
	defaults := decoded{Count: 3, Wait: 30 * time.Second, Size: 1 << 20}
	tests := []struct {
		name       string
		in         map[string]any
		want       decoded
		wantFields []sdk.FieldError
	}{
		{name: "empty gives defaults", in: nil, want: defaults},
		{name: "nulls give defaults", in: map[string]any{"count": nil, "wait": nil}, want: defaults},
		{
			name: "native values",
			in: map[string]any{
				"name": "acme", "enabled": true, "count": float64(7), "big": float64(1 << 40), "small": 200,
				"ratio": 0.5, "wait": "1m30s", "size": float64(4096), "scopes": []any{"a", "b"}, "code": "ABC",
				"version": "2.0.0", "raw": map[string]any{"x": 1.0}, "list": []any{1.0, "y"}, "object": map[string]any{"k": "v"},
			},
			want: decoded{
				Name: "acme", Enabled: true, Count: 7, Big: 1 << 40, Small: 200, Ratio: 0.5, Wait: 90 * time.Second,
				Size: 4096, Scopes: []string{"a", "b"}, Code: "ABC", Version: xapi.V200, Raw: map[string]any{"x": 1.0},
				List: []any{1.0, "y"}, Object: map[string]any{"k": "v"},
			},
		},
		{
			name: "values as text",
			in: map[string]any{
				"enabled": "Yes", "count": " 12 ", "ratio": "0.25", "wait": "2s", "size": "64 KiB", "scopes": "a b,c  d",
			},
			want: decoded{Enabled: true, Count: 12, Ratio: 0.25, Wait: 2 * time.Second, Size: 64 << 10, Scopes: []string{"a", "b", "c", "d"}},
		},
		{name: "booleans as text", in: map[string]any{"enabled": "off"}, want: defaults},
		{name: "seconds", in: map[string]any{"wait": 1.5}, want: decoded{Count: 3, Wait: 1500 * time.Millisecond, Size: 1 << 20}},
		{name: "json numbers", in: map[string]any{"count": json.Number("9"), "ratio": json.Number("1e-3")}, want: decoded{Count: 9, Ratio: 1e-3, Wait: 30 * time.Second, Size: 1 << 20}},
		{
			name: "every problem",
			in: map[string]any{
				"zeta": 1.0, "alpha": "x", "name": 5.0, "enabled": "maybe", "count": 1.5, "small": 300.0, "ratio": "much",
				"wait": "soon", "size": "lots", "scopes": []any{"a", 1.0}, "code": "abc", "list": "x", "object": []any{},
			},
			wantFields: []sdk.FieldError{
				{Field: "alpha", Message: "is not a setting of this sink"},
				{Field: "zeta", Message: "is not a setting of this sink"},
				{Field: "name", Message: "must be text"},
				{Field: "enabled", Message: "must be true or false"},
				{Field: "count", Message: "must be a whole number"},
				{Field: "small", Message: "must be a whole number, zero or more"},
				{Field: "ratio", Message: "must be a number"},
				{Field: "wait", Message: "must be a duration such as 30s or 2m, or a number of seconds"},
				{Field: "size", Message: "must be a size such as 512KiB or 1MB, or a whole number of bytes"},
				{Field: "scopes", Message: "must be a list of text values"},
				{Field: "code", Message: "must be in capitals"},
				{Field: "list", Message: "must be a list"},
				{Field: "object", Message: "must be an object"},
			},
		},
		{
			name:       "untagged fields are not settings",
			in:         map[string]any{"Untagged": "x", "Skipped": "y", "-": "z"},
			wantFields: []sdk.FieldError{{Field: "-", Message: "is not a setting of this sink"}, {Field: "Skipped", Message: "is not a setting of this sink"}, {Field: "Untagged", Message: "is not a setting of this sink"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got decoded
			err := sdk.DecodeConfig(tt.in, &got)
			var ce *sdk.ConfigError
			if tt.wantFields != nil {
				if !errors.As(err, &ce) {
					t.Fatalf("DecodeConfig = %v; want a *sdk.ConfigError", err)
				}
				if diff := cmp.Diff(tt.wantFields, ce.Fields); diff != "" {
					t.Errorf("field errors (-want +got):\n%s", diff)
				}
				if !sdk.IsPermanent(err) {
					t.Errorf("a configuration error is not permanent")
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeConfig = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeConfig_secretsNotRepeated(t *testing.T) {
	t.Parallel()
	var got struct {
		Count int  `config:"count"`
		On    bool `config:"on"`
	}
	err := sdk.DecodeConfig(map[string]any{"count": "hunter2-secret", "on": "hunter2-secret", "hunter2-other": 1.0}, &got)
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("DecodeConfig = %v; want an error that does not repeat the values", err)
	}
}

func TestDecodeConfig_panicsOnMisuse(t *testing.T) {
	t.Parallel()
	for name, dst := range map[string]any{
		"not a pointer": struct{}{},
		"nil pointer":   (*struct{})(nil),
		"unsupported type": &struct {
			C chan int `config:"c"`
		}{},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("DecodeConfig(%T) did not panic", dst)
				}
			}()
			_ = sdk.DecodeConfig(map[string]any{"c": 1.0}, dst)
		})
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want sdk.ByteSize
		bad  bool
	}{
		{in: "0", want: 0}, {in: "512", want: 512}, {in: "512B", want: 512}, {in: "64KB", want: 64000},
		{in: "64KiB", want: 65536}, {in: "1.5MiB", want: 3 << 19}, {in: "2 GB", want: 2e9}, {in: "1gib", want: 1 << 30},
		{in: "", bad: true}, {in: "MiB", bad: true}, {in: "-1", bad: true}, {in: "1.5", bad: true}, {in: "1XB", bad: true}, {in: "0.1B", bad: true},
	}
	for _, tt := range tests {
		got, err := sdk.ParseByteSize(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// FuzzDecodeConfig decodes arbitrary JSON objects: no panics, and either
// no error or a *ConfigError whose fields are all named.
func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"count":"7","wait":1.5,"size":"1MiB"}`, `{"scopes":["a",1]}`, `{"enabled":"yes","x":null}`, `{"big":1e300,"small":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			return
		}
		var got decoded
		err := sdk.DecodeConfig(m, &got)
		if err == nil {
			return
		}
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || len(ce.Fields) == 0 {
			t.Fatalf("DecodeConfig = %v; want a *ConfigError with fields", err)
		}
		for _, fe := range ce.Fields {
			if _, emptyKey := m[""]; fe.Field == "" && !emptyKey || fe.Message == "" {
				t.Fatalf("field error %+v without a field or message", fe)
			}
		}
	})
}

func TestReadSettingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	b, err := sdk.ReadSettingFile(good, 1024)
	if err != nil || string(b) != "pem" {
		t.Fatalf("ReadSettingFile(regular file) = %q, %v", b, err)
	}
	for name, p := range map[string]string{
		"missing": filepath.Join(dir, "nope"), "too large": big, "fifo": fifo, "link to fifo": link,
		"directory": dir, "device": os.DevNull, "empty path": "",
	} {
		if _, err := sdk.ReadSettingFile(p, 1024); !errors.Is(err, sdk.ErrSettingFile) {
			t.Errorf("ReadSettingFile(%s) = %v; want ErrSettingFile", name, err)
		}
	}
}
