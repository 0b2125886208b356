// Package clock is the monotonic nanosecond clock that request loops stamp requests with. It is the runtime's own
// clock (the one time.Since reads), called directly: about half the cost of time.Since. The file request loop
// reads it once per Submit call.
package clock

import _ "unsafe" // for go:linkname

// Now returns monotonic nanoseconds since an arbitrary origin; only differences mean anything.
//
//go:linkname Now runtime.nanotime
//go:noescape
func Now() int64
