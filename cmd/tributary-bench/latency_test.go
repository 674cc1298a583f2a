package main

import "testing"

func TestLatencyWriters(t *testing.T) {
	for _, tc := range []struct{ rate, want int }{
		{rate: 200, want: 4},
		{rate: 1000, want: 4},
		{rate: 5000, want: 20},
		{rate: 20000, want: 64},
		{rate: 100000, want: 64},
	} {
		if got := latencyWriters(tc.rate); got != tc.want {
			t.Errorf("latencyWriters(%d) = %d, want %d", tc.rate, got, tc.want)
		}
	}
}
