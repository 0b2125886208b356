package testsupport

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// MountTmpfs mounts a tmpfs with opts (mount -o) on a new directory and returns it; at cleanup it unmounts
// it, failing the test when that fails (something still holds it) and detaching it then. It skips the test
// when this process may not mount (it needs CAP_SYS_ADMIN).
func MountTmpfs(tb testing.TB, opts string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			tb.Skipf("cannot mount a tmpfs here (needs CAP_SYS_ADMIN): %v", err)
		}
		tb.Fatalf("mount tmpfs -o %s: %v", opts, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}
