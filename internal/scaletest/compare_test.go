package scaletest

import (
	"fmt"
	"testing"
)

// TestCompareCountsEveryDiscrepancy: the verdict's comparison finds each kind of failure it
// reports, and ignores deliveries after the log's end.
func TestCompareCountsEveryDiscrepancy(t *testing.T) {
	log := []pos{{1, 0}, {1, 1}, {2, 0}, {3, 0}, {4, 0}}
	cases := []struct {
		name string
		got  []pos
		want comparison
	}{
		{"exact, then newer changes", []pos{{1, 0}, {1, 1}, {2, 0}, {3, 0}, {4, 0}, {5, 0}}, comparison{delivered: 5}},
		{"lost", []pos{{1, 0}, {2, 0}, {3, 0}, {4, 0}}, comparison{delivered: 4, lost: 1}},
		{"repeated", []pos{{1, 0}, {1, 1}, {1, 1}, {2, 0}, {3, 0}, {4, 0}}, comparison{delivered: 6, repeated: 1}},
		{"out of order", []pos{{1, 0}, {2, 0}, {1, 1}, {3, 0}, {4, 0}}, comparison{delivered: 5, disordered: 1}},
		{"unknown", []pos{{1, 0}, {1, 1}, {1, 2}, {2, 0}, {3, 0}, {4, 0}}, comparison{delivered: 6, unknown: 1}},
		{"nothing", nil, comparison{lost: 5}},
	}
	for _, tc := range cases {
		got := compare("c", log, tc.got)
		got.name, got.first = "", ""
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		if (got == comparison{delivered: 5}) != compare("c", log, tc.got).ok() {
			t.Errorf("%s: ok() disagrees with the counts", tc.name)
		}
	}
	if compare("c", nil, log).first == "" {
		t.Error("an empty log is not reported")
	}
}

// TestRestartRepeats: repeats at a restart are counted per restart, disorder within a process
// separately.
func TestRestartRepeats(t *testing.T) {
	got := []pos{{1, 0}, {2, 0}, {3, 0}, {3, 0}, {4, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {5, 0}}
	per, within := restartRepeats(got, []int{3, 5, 9})
	if want := []int{1, 3, 1}; fmt.Sprint(per) != fmt.Sprint(want) || within != 0 {
		t.Errorf("got per-restart %v within %d, want %v within 0", per, within, want)
	}
	_, within = restartRepeats([]pos{{1, 0}, {3, 0}, {2, 0}, {2, 0}}, nil)
	if within != 2 {
		t.Errorf("within one process: got %d, want 2", within)
	}
}
