package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// intList is a flag.Value of comma-separated positive integers, kept in
// the order given. "0" (or an empty value) is the empty list: it skips
// the measurement, as a single 0 always did.
type intList []int

func (l *intList) String() string {
	if l == nil || len(*l) == 0 {
		return "0"
	}
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	parsed, err := parseIntList(v)
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}

func parseIntList(v string) (intList, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "0" {
		return nil, nil
	}
	var out intList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", f)
		}
		if n <= 0 {
			return nil, fmt.Errorf("%d in a list: want positive numbers (a lone 0 skips the run)", n)
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("%d given twice", n)
		}
		out = append(out, n)
	}
	return out, nil
}
