package result

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrExists is returned by Save when the destination exists and overwriting was not asked for.
var ErrExists = errors.New("file exists (use --force to overwrite)")

// ErrInvalid marks a file that is not a readable ringbench result: missing, corrupt, foreign or too new.
var ErrInvalid = errors.New("not a usable ringbench result")

// maxFileBytes bounds what Load reads, so that a hostile or mistaken path cannot exhaust memory.
const maxFileBytes = 256 << 20

// Save writes f to path atomically: a temporary file in the same directory, fsync, then a rename (or a
// hard link when overwriting is not allowed, so that an existing file is never replaced by a race).
func Save(path string, f *File, force bool) error {
	if f.Schema == "" {
		f.Schema = Schema
	}
	if f.Version == 0 {
		f.Version = Version
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	data = append(data, '\n')
	return WriteFileAtomic(path, data, force)
}

// WriteFileAtomic writes data to path through a temporary file and a rename; without force it refuses to
// replace an existing path, atomically. It never replaces a directory or a non-regular file (a device, a
// pipe), force or not.
func WriteFileAtomic(path string, data []byte, force bool) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s: %w", path, ErrIsDir)
	} else if err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename or link+remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if force {
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	} else if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Load reads and validates one result file. Every error names the file and says what is wrong with it,
// and wraps ErrInvalid when the content (not the file system) is the problem.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB: %w", path, maxFileBytes>>20, ErrInvalid)
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Decode parses and validates a result file's bytes; a file of an older version comes back upgraded to
// the current one.
func Decode(data []byte) (*File, error) {
	var head struct {
		Schema  string `json:"schema"`
		Version int    `json:"version"`
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("empty file: %w", ErrInvalid)
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not JSON (%v): %w", shortJSONError(err), ErrInvalid)
	}
	if head.Schema != Schema {
		if head.Schema == "" {
			return nil, fmt.Errorf("not a ringbench result (no \"schema\" field): %w", ErrInvalid)
		}
		return nil, fmt.Errorf("not a ringbench result (schema %q): %w", head.Schema, ErrInvalid)
	}
	if head.Version > Version {
		return nil, fmt.Errorf("schema version %d is newer than this ringbench reads (%d); upgrade ringbench: %w",
			head.Version, Version, ErrInvalid)
	}
	if head.Version < 1 {
		return nil, fmt.Errorf("schema version %d is not valid: %w", head.Version, ErrInvalid)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("corrupt result (%v): %w", shortJSONError(err), ErrInvalid)
	}
	upgrade(&f)
	for i := range f.Samples {
		s := &f.Samples[i]
		if s.Backend == "" || s.Workload == "" {
			return nil, fmt.Errorf("sample %d has no backend or workload: %w", i, ErrInvalid)
		}
		if s.Ops < 0 || s.Seconds < 0 || s.OpsPerSec < 0 {
			return nil, fmt.Errorf("sample %d (%s/%s) has negative figures: %w", i, s.Workload, s.Backend, ErrInvalid)
		}
	}
	return &f, nil
}

func shortJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%v at byte %d", syn, syn.Offset)
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	return msg
}

// paramsSuffix renders params as "/k=v/k=v" in key order.
func paramsSuffix(p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		b.WriteString("/")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(p[k])
	}
	return b.String()
}

// ParamsString renders params as "k=v/k=v" in key order ("" when empty).
func ParamsString(p map[string]string) string {
	return strings.TrimPrefix(paramsSuffix(p), "/")
}
