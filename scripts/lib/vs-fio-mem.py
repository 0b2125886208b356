#!/usr/bin/env python3
"""Page-cache helper for scripts/vs-fio.sh (standard library only).

  vs-fio-mem.py list DIR                 data files under DIR (absolute paths, sorted; dot files skipped)
  vs-fio-mem.py resident PATH...         fraction of the pages of PATH... in the page cache (mincore)
  vs-fio-mem.py lock PATH...             mmap + mlock every file, print "locked FILES BYTES", then hold the
                                         lock until SIGTERM/SIGINT or until the parent process exits

PATH is a file, a directory (its data files, recursively) or @LIST (one path a line). Exit status 0, or 1
with a message on stderr. Locking needs CAP_IPC_LOCK (root) or RLIMIT_MEMLOCK as large as the files.
"""
import ctypes
import ctypes.util
import os
import signal
import sys
import time

PROT_READ = 1
MAP_SHARED = 1
PR_SET_PDEATHSIG = 1

libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
MAP_FAILED = ctypes.c_void_p(-1).value
PAGE = os.sysconf("SC_PAGE_SIZE")


def die(msg):
    print("vs-fio-mem: " + msg, file=sys.stderr)
    sys.exit(1)


def data_files(d):
    out = []
    for root, dirs, files in os.walk(d):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if not f.startswith("."):
                p = os.path.join(root, f)
                if os.path.isfile(p) and not os.path.islink(p):
                    out.append(os.path.abspath(p))
    return out


def expand(args):
    out = []
    for a in args:
        if a.startswith("@"):
            with open(a[1:]) as fh:
                out.extend(line.rstrip("\n") for line in fh if line.strip())
        elif os.path.isdir(a):
            out.extend(data_files(a))
        else:
            out.append(os.path.abspath(a))
    if not out:
        die("no files")
    return out


def mapfile(path):
    """Returns (fd, addr, size) of a read-only shared mapping of path; size 0 maps nothing."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    size = os.fstat(fd).st_size
    if size == 0:
        return fd, None, 0
    addr = libc.mmap(None, size, PROT_READ, MAP_SHARED, fd, 0)
    if addr is None or addr == MAP_FAILED:
        e = ctypes.get_errno()
        os.close(fd)
        die("mmap %s: %s" % (path, os.strerror(e)))
    return fd, addr, size


def resident(paths):
    res = tot = 0
    for p in paths:
        fd, addr, size = mapfile(p)
        try:
            if size == 0:
                continue
            n = (size + PAGE - 1) // PAGE
            vec = (ctypes.c_ubyte * n)()
            if libc.mincore(addr, size, vec) != 0:
                die("mincore %s: %s" % (p, os.strerror(ctypes.get_errno())))
            res += sum(1 for b in vec if b & 1)
            tot += n
        finally:
            if size:
                libc.munmap(addr, size)
            os.close(fd)
    return res, tot


def lock(paths):
    # End with the script even if it is killed without running its trap: SIGTERM when the parent dies.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    parent = os.getppid()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    maps = []
    total = 0
    for p in paths:
        fd, addr, size = mapfile(p)
        os.close(fd)  # the mapping keeps the file
        if size == 0:
            continue
        if libc.mlock(addr, size) != 0:
            die("mlock %s (%d bytes): %s (needs root/CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK)"
                % (p, size, os.strerror(ctypes.get_errno())))
        maps.append((addr, size))
        total += size
    print("locked %d %d" % (len(maps), total), flush=True)
    while not stop and os.getppid() == parent:
        time.sleep(0.5)
    # Unmapping (or exiting) unlocks.


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("list", "resident", "lock"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "list":
        for p in data_files(args[0]):
            print(p)
    elif cmd == "resident":
        r, t = resident(expand(args))
        print("%.4f" % (r / t if t else 0.0))
    else:
        lock(expand(args))


if __name__ == "__main__":
    main()
