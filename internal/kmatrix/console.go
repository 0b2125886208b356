// Package kmatrix turns the serial-console log of a kernel-matrix boot (scripts/kernel-matrix.sh) into
// ringbench files: the guest prints each payload (a probe JSON, a result JSON, a log) between markers,
// gzip-compressed and base64-encoded, so that console noise cannot corrupt it unnoticed. This package finds
// those blocks, checks their length and SHA-256, decodes them, stamps the accelerator the guest ran under
// (kvm or tcg) into the files and writes them atomically, and renders the feature matrix of all boots.
//
// The guest side of the protocol (busybox sh, see scripts/kernel-matrix.sh) is:
//
//	===RINGBENCH-BEGIN <name> exit=<status> enc=gzip+base64===
//	<base64 of gzip of the payload, any line width>
//	===RINGBENCH-END <name> bytes=<payload length> sha256=<hex of the payload>===
//	...
//	===RINGBENCH-DONE blocks=<count>===
//
// Markers may be preceded by console noise on the same line; lines inside a block that are not pure
// base64 are counted as noise and skipped (the checksum catches noise that looked like base64).
package kmatrix

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Marker prefixes of the console protocol.
const (
	markBegin = "===RINGBENCH-BEGIN "
	markEnd   = "===RINGBENCH-END "
	markDone  = "===RINGBENCH-DONE"
	markTail  = "==="
)

// ErrCorrupt marks a console log whose blocks are missing, truncated or do not verify.
var ErrCorrupt = errors.New("kernel-matrix console log unusable")

// maxPayload bounds one decoded block, so that a runaway guest cannot exhaust memory.
const maxPayload = 64 << 20

// Block is one verified payload from a console log.
type Block struct {
	Name string
	// Exit is the exit status of the guest command that produced the payload (-1: not stated).
	Exit int
	Data []byte
	// Line is the 1-based line of the BEGIN marker in the log.
	Line int
	// Noise counts lines inside the block that were not base64 and were skipped.
	Noise int
}

// Console is everything read from one console log.
type Console struct {
	Log    string   // the log's name, used in every message
	Blocks []*Block // verified blocks in log order
	// Done says the guest printed its final marker: every block it meant to send was sent.
	Done bool
	// DoneCount is the block count the DONE marker announced (-1 when absent).
	DoneCount int
	// Problems are blocks that were found but could not be used (truncated, corrupt); each names the log,
	// the block and the line.
	Problems []error
	// Panic is the first "Kernel panic" line, if the kernel printed one.
	Panic string
	// Tail is the last few non-empty lines of the log, to explain a boot that produced nothing.
	Tail []string
}

// Block returns the verified block called name, or nil.
func (c *Console) Block(name string) *Block {
	for _, b := range c.Blocks {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Err summarises what is wrong with the log as one error wrapping ErrCorrupt, or nil when every announced
// block arrived and verified.
func (c *Console) Err() error {
	var msgs []string
	for _, p := range c.Problems {
		msgs = append(msgs, p.Error())
	}
	switch {
	case len(c.Blocks) == 0 && len(c.Problems) == 0:
		msg := fmt.Sprintf("%s: no RINGBENCH blocks found: the guest's init never reported", c.Log)
		if c.Panic != "" {
			msg += " (kernel: " + c.Panic + ")"
		} else if len(c.Tail) > 0 {
			msg += "; log ends with: " + strings.Join(c.Tail, " | ")
		}
		msgs = append(msgs, msg)
	case !c.Done:
		msg := fmt.Sprintf("%s: no %s marker: the guest stopped before finishing (timeout, crash or power-off)", c.Log, strings.TrimSpace(markDone))
		if c.Panic != "" {
			msg += " (kernel: " + c.Panic + ")"
		}
		msgs = append(msgs, msg)
	case c.DoneCount >= 0 && c.DoneCount != len(c.Blocks)+len(c.Problems):
		msgs = append(msgs, fmt.Sprintf("%s: the guest announced %d blocks, the log holds %d", c.Log, c.DoneCount, len(c.Blocks)+len(c.Problems)))
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", strings.Join(msgs, "; "), ErrCorrupt)
}

// pending is a block whose END marker has not been seen yet.
type pending struct {
	name  string
	exit  int
	line  int
	gz    bool
	b64   strings.Builder
	noise int
}

// ParseConsole reads a console log. It returns an error only when the log cannot be read; what is wrong
// inside the log is reported by Console.Err and Console.Problems, so that verified blocks stay usable.
func ParseConsole(logName string, r io.Reader) (*Console, error) {
	c := &Console{Log: logName, DoneCount: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var cur *pending
	seen := map[string]bool{}
	lineNo := 0
	var tail []string
	problem := func(line int, name, format string, args ...any) {
		c.Problems = append(c.Problems, fmt.Errorf("%s: block %q (line %d): %s", logName, name, line, fmt.Sprintf(format, args...)))
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(strings.ReplaceAll(sc.Text(), "\r", ""), " \t")
		if line != "" {
			tail = append(tail, line)
			if len(tail) > 3 {
				tail = tail[1:]
			}
		}
		if c.Panic == "" {
			if i := strings.Index(line, "Kernel panic"); i >= 0 {
				c.Panic = strings.TrimSpace(line[i:])
			}
		}
		i := strings.Index(line, "===RINGBENCH-")
		if i < 0 {
			if cur != nil {
				s := strings.TrimSpace(line)
				if isBase64(s) {
					if cur.b64.Len()+len(s) > 2*maxPayload {
						problem(cur.line, cur.name, "larger than %d MiB", maxPayload>>20)
						cur = nil
						continue
					}
					cur.b64.WriteString(s)
				} else if s != "" {
					cur.noise++
				}
			}
			continue
		}
		marker := line[i:]
		switch {
		case strings.HasPrefix(marker, markBegin):
			if cur != nil {
				problem(cur.line, cur.name, "truncated: a new block began at line %d before its END marker", lineNo)
			}
			name, fields, ok := parseMarker(marker[len(markBegin):])
			if !ok {
				problem(lineNo, name, "malformed BEGIN marker %q", marker)
				cur = nil
				continue
			}
			if enc := fields["enc"]; enc != "gzip+base64" && enc != "base64" {
				problem(lineNo, name, "unknown encoding %q in BEGIN marker", enc)
				cur = nil
				continue
			}
			exit := -1
			if v, ok := fields["exit"]; ok {
				if n, err := strconv.Atoi(v); err == nil {
					exit = n
				}
			}
			cur = &pending{name: name, exit: exit, line: lineNo, gz: fields["enc"] == "gzip+base64"}
		case strings.HasPrefix(marker, markEnd):
			name, fields, ok := parseMarker(marker[len(markEnd):])
			if cur == nil {
				problem(lineNo, name, "END marker without a BEGIN marker")
				continue
			}
			blk := cur
			cur = nil
			curName := blk.name
			if !ok || name != curName {
				problem(blk.line, curName, "END marker at line %d does not match (%q)", lineNo, marker)
				continue
			}
			data, err := decodeBlock(blk.b64.String(), blk.gz, fields)
			if err != nil {
				msg := err.Error()
				if blk.noise > 0 {
					msg += fmt.Sprintf(" (%d noise lines skipped inside the block)", blk.noise)
				}
				problem(blk.line, curName, "%s", msg)
				continue
			}
			if seen[curName] {
				problem(blk.line, curName, "duplicate block name")
				continue
			}
			seen[curName] = true
			c.Blocks = append(c.Blocks, &Block{Name: curName, Exit: blk.exit, Data: data, Line: blk.line, Noise: blk.noise})
		case strings.HasPrefix(marker, markDone):
			if cur != nil {
				problem(cur.line, cur.name, "truncated: DONE marker at line %d before its END marker", lineNo)
				cur = nil
			}
			c.Done = true
			_, fields, _ := parseMarker("done " + strings.TrimPrefix(marker, markDone))
			if v, ok := fields["blocks"]; ok {
				if n, err := strconv.Atoi(v); err == nil {
					c.DoneCount = n
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", logName, lineNo+1, err)
	}
	if cur != nil {
		problem(cur.line, cur.name, "truncated: the log ends before the END marker (the guest stopped mid-output)")
	}
	c.Tail = tail
	return c, nil
}

// parseMarker splits "name k=v k=v===" into the name and fields; ok is false when the closing "===" is
// missing or the name is empty or malformed.
func parseMarker(s string) (name string, fields map[string]string, ok bool) {
	body, found := strings.CutSuffix(strings.TrimSpace(s), markTail)
	parts := strings.Fields(body)
	if len(parts) == 0 {
		return "", nil, false
	}
	name = parts[0]
	fields = map[string]string{}
	for _, p := range parts[1:] {
		k, v, hasEq := strings.Cut(p, "=")
		if !hasEq {
			return name, fields, false
		}
		fields[k] = v
	}
	return name, fields, found && validName(name)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func isBase64(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// decodeBlock decodes and verifies one payload against the END marker's bytes= and sha256= fields.
func decodeBlock(b64 string, gz bool, fields map[string]string) ([]byte, error) {
	wantSum, hasSum := fields["sha256"]
	wantLen, hasLen := fields["bytes"]
	if !hasSum || !hasLen {
		return nil, errors.New("END marker lacks bytes= or sha256=: cannot verify the payload")
	}
	n, err := strconv.ParseInt(wantLen, 10, 64)
	if err != nil || n < 0 || n > maxPayload {
		return nil, fmt.Errorf("END marker has a bad length %q", wantLen)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("bad base64: %v", err)
	}
	data := raw
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("bad gzip data: %v", err)
		}
		data, err = io.ReadAll(io.LimitReader(zr, maxPayload+1))
		if err != nil {
			return nil, fmt.Errorf("bad gzip data: %v", err)
		}
		if len(data) > maxPayload {
			return nil, fmt.Errorf("larger than %d MiB", maxPayload>>20)
		}
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("length mismatch: %d bytes decoded, END marker says %d", len(data), n)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, wantSum) {
		return nil, fmt.Errorf("sha256 mismatch: decoded %s, END marker says %s", got, wantSum)
	}
	return data, nil
}
