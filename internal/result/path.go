package result

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Reasons CheckWritable refuses a path for; every error it returns wraps one of them or ErrExists.
var (
	ErrIsDir       = errors.New("is a directory")
	ErrNotRegular  = errors.New("exists and is not a regular file")
	ErrNotWritable = errors.New("not writable")
)

// CheckWritable says, before any work whose result goes to path is done, whether Save(path, _, force) can
// succeed: path must not be a directory or other non-regular file, nor (without force) exist at all, and
// its directory must take a new file, which is tried by creating and removing an empty temporary file
// beside it. With mkdirs, missing directories on the way are allowed (the caller will create them with
// os.MkdirAll) and the nearest existing one is tried instead; nothing is created then either.
func CheckWritable(path string, force, mkdirs bool) error {
	if path == "" {
		return fmt.Errorf("empty file name: %w", ErrNotWritable)
	}
	if st, err := os.Stat(path); err == nil {
		switch {
		case st.IsDir():
			return fmt.Errorf("%s: %w", path, ErrIsDir)
		case !st.Mode().IsRegular():
			// Save replaces the path by a rename: that would swap a device or pipe for a regular file.
			return fmt.Errorf("%s: %w", path, ErrNotRegular)
		case !force:
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
	} else if _, lerr := os.Lstat(path); lerr == nil && !force {
		return fmt.Errorf("%s: %w", path, ErrExists) // a dangling symbolic link: Save would not replace it either
	}
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil && !st.IsDir() {
			return fmt.Errorf("%s: %w: %s is not a directory", path, ErrNotWritable, dir)
		}
		if err == nil {
			break
		}
		if !mkdirs || !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w: directory %s: %v", path, ErrNotWritable, dir, unwrapPath(err))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("%s: %w: %v", path, ErrNotWritable, unwrapPath(err))
		}
		dir = parent
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("%s: %w: cannot create a file in %s: %v", path, ErrNotWritable, dir, unwrapPath(err))
	}
	name := tmp.Name()
	tmp.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// unwrapPath drops the operation and path of a *fs.PathError, which the messages above already name.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// SaveFallback writes f to a new file ringbench-<UTC time>.json in dir (os.TempDir() when empty), for when
// the path asked for could not be written after the work was done; it never replaces a file, adding -2,
// -3 ... to the name instead. It returns the path written.
func SaveFallback(dir string, f *File, t time.Time) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	base := filepath.Join(dir, "ringbench-"+t.UTC().Format("20060102-150405"))
	var err error
	for i := 1; i <= 100; i++ {
		p := base + ".json"
		if i > 1 {
			p = base + "-" + strconv.Itoa(i) + ".json"
		}
		if err = Save(p, f, false); !errors.Is(err, ErrExists) {
			return p, err
		}
	}
	return "", err
}
