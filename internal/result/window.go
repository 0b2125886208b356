package result

// ServerWindow names the server's measured window that a sample's server figures cover (ringbench load
// --control): samples of several load processes that share one ID were measured in the same window, and
// their ops sum to Ops, the denominator of the server's per-request figures.
type ServerWindow struct {
	// ID is unique per ringbench serve process and window.
	ID string `json:"id"`
	// Loaders is how many load processes measured the window together (load --loaders).
	Loaders int `json:"loaders"`
	// Ops is the requests all of them completed in their windows, as they told the server.
	Ops int64 `json:"ops"`
}
