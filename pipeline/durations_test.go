package pipeline

import (
	"testing"
	"time"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/features"
)

// TestHugeIdleTimeoutHorizon: --idle-timeout 2562047h47m16s (within 2 s of the largest Duration)
// passes validation; idle + span wrapped negative, NewWindows took that as
// "unset" and used the 122 s default horizon, which changed count and
// srv_count of pcapplusplus__pcapng-example.pcapng against 1000000h.
func TestHugeIdleTimeoutHorizon(t *testing.T) {
	idle := 2562047*time.Hour + 47*time.Minute + 16*time.Second
	w := windowConfig(features.WindowConfig{}, collector.TableConfig{IdleTimeout: idle})
	if w.Horizon < idle {
		t.Errorf("horizon %v for idle timeout %v: wrapped", w.Horizon, idle)
	}
	if d := flowDelay(collector.TableConfig{IdleTimeout: idle}); d < idle {
		t.Errorf("flow delay %v for idle timeout %v: wrapped", d, idle)
	}
}
