package main

import (
	"slices"
	"testing"
)

func TestParseIntList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "5000", want: []int{5000}},
		{in: "5000,20000", want: []int{5000, 20000}},
		{in: " 1024 , 256 ", want: []int{1024, 256}}, // order kept
		{in: "0"},
		{in: ""},
		{in: "0,5000", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "5000,5000", wantErr: true},
		{in: "5000,", wantErr: true},
		{in: "5k", wantErr: true},
	} {
		got, err := parseIntList(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parseIntList(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestLatencyAndBigTxFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		args          []string
		rates, bigTxs []int
	}{
		{name: "defaults", rates: []int{5000, 20000}, bigTxs: []int{256}},
		{name: "single numbers", args: []string{"-latency-rate", "1000", "-bigtx-mb", "1024"}, rates: []int{1000}, bigTxs: []int{1024}},
		{name: "lists", args: []string{"-latency-rate", "5000,20000,50000", "-bigtx-mb", "256,1024"},
			rates: []int{5000, 20000, 50000}, bigTxs: []int{256, 1024}},
		{name: "zero skips", args: []string{"-latency-rate", "0", "-bigtx-mb", "0"}},
		{name: "quick", args: []string{"-quick"}, rates: []int{200}, bigTxs: []int{8}},
		{name: "quick keeps what is given", args: []string{"-quick", "-latency-rate", "5000,20000", "-bigtx-mb", "256,1024"},
			rates: []int{5000, 20000}, bigTxs: []int{256, 1024}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.latencyRates, tc.rates) || !slices.Equal(o.bigTxMBs, tc.bigTxs) {
				t.Errorf("rates %v, sizes %v; want %v, %v", o.latencyRates, o.bigTxMBs, tc.rates, tc.bigTxs)
			}
		})
	}
	if _, err := parseOptions([]string{"-latency-rate", "5000,x"}); err == nil {
		t.Error("-latency-rate 5000,x was accepted")
	}
}
