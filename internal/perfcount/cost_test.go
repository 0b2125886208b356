package perfcount

import (
	"errors"
	"testing"
)

// TestMeasureCost: every state is timed and the counter is gone afterwards (no timing asserted: the
// machine may be busy).
func TestMeasureCost(t *testing.T) {
	c, err := MeasureCost(3, 1000)
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !(c.UncountedNs > 0 && c.DisabledNs > 0 && c.CountedNs > 0) || c.Loops != 3 || c.Calls != 1000 {
		t.Errorf("cost %+v", c)
	}
	if _, err := MeasureCost(0, 1); err == nil {
		t.Error("MeasureCost(0, 1) did not fail")
	}
}
