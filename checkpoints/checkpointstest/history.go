package checkpointstest

import (
	"fmt"
	"testing"
)

// testHistory commits fewer, as many and more checkpoints than the limit
// and expects the newest ones, newest first. Another source's history in
// the same store neither counts towards the limit nor is trimmed by it.
func testHistory(t *testing.T, h Harness) {
	tests := []struct {
		name    string
		limit   int
		commits int
	}{
		{name: "fewer than the limit", limit: 5, commits: 3},
		{name: "exactly the limit", limit: 5, commits: 5},
		{name: "past the limit", limit: 5, commits: 12},
		{name: "limit one", limit: 1, commits: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newEnv(t, h).open(tt.limit)
			commitAll(t, s, "other", "o1")
			var want []string
			for i := range tt.commits {
				p := fmt.Sprintf("pos-%03d", i)
				commitAll(t, s, "src", p)
				want = append([]string{p}, want...)
			}
			hist := wantHistory(t, s, "src", want[:min(len(want), tt.limit)]...)
			if cur := load(t, s, "src"); len(hist) > 0 && !same(hist[0], cur) {
				t.Errorf("History(src)[0] = %+v, want the current checkpoint %+v", hist[0], cur)
			}
			wantHistory(t, s, "other", "o1")
		})
	}
}
