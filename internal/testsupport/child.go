package testsupport

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/seccomp"
)

// IOUringDeniedChild, called first in TestMain, makes the test binary a child whose io_uring syscalls fail,
// when the environment variable env names the errno ("EPERM", or "ENOSYS"): it installs a seccomp filter
// that fails them with it, runs child and exits with child's status. Otherwise it returns.
func IOUringDeniedChild(env string, child func(errno unix.Errno) int) {
	mode := os.Getenv(env)
	if mode == "" {
		return
	}
	errno := unix.EPERM
	if mode == "ENOSYS" {
		errno = unix.ENOSYS
	}
	if err := seccomp.DenySyscalls(seccomp.IOUringSyscalls, errno); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(child(errno))
}

// RunChild runs the test binary, no test selected, with env=mode, and returns what it wrote on standard
// output; it fails the test, with the child's standard error, when the child fails.
func RunChild(tb testing.TB, env, mode string) []byte {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("child: %v\n%s", err, stderr.String())
	}
	return out
}
