package debezium

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const (
	microsPerSecond = int64(1_000_000)
	secondsPerDay   = int64(86_400)
)

// dateDays converts "YYYY-MM-DD" to io.debezium.time.Date, days since the
// epoch.
func dateDays(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errType("a date string", v)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, fmt.Errorf("date value of %d bytes is not YYYY-MM-DD", len(s))
	}
	return floorDiv(t.Unix(), secondsPerDay), nil
}

// parseLocal reads a naive "YYYY-MM-DD hh:mm:ss[.f]" as UTC wall-clock
// time, as Debezium does for DATETIME and PostgreSQL timestamp.
func parseLocal(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, errType("a timestamp string", v)
	}
	// A fraction after the seconds is accepted even though the layout has none.
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp value of %d bytes is not YYYY-MM-DD hh:mm:ss[.f]", len(s))
	}
	return t, nil
}

// datetimeMillis converts to io.debezium.time.Timestamp (epoch ms).
func datetimeMillis(v any) (any, error) {
	t, err := parseLocal(v)
	if err != nil {
		return nil, err
	}
	return t.UnixMilli(), nil
}

// datetimeMicros converts to io.debezium.time.MicroTimestamp (epoch µs).
func datetimeMicros(v any) (any, error) {
	t, err := parseLocal(v)
	if err != nil {
		return nil, err
	}
	return t.UnixMicro(), nil
}

// clockMicros parses "[-]H+:MM:SS[.f]" into signed microseconds. Hours may
// exceed 24 (MySQL TIME spans -838:59:59 to 838:59:59).
func clockMicros(s string) (int64, error) {
	bad := fmt.Errorf("time value of %d bytes is not [-]hh:mm:ss[.f]", len(s))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	hms, frac, _ := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 || len(frac) > 9 {
		return 0, bad
	}
	var n [3]int64
	for i, p := range parts {
		x, err := strconv.ParseInt(p, 10, 64)
		if err != nil || x < 0 || p == "" {
			return 0, bad
		}
		n[i] = x
	}
	if n[1] > 59 || n[2] > 59 {
		return 0, bad
	}
	micros := ((n[0]*60+n[1])*60 + n[2]) * microsPerSecond
	if frac != "" {
		f, err := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		if err != nil {
			return 0, bad
		}
		micros += f
	}
	if neg {
		micros = -micros
	}
	return micros, nil
}

// mysqlTimeMicros converts MySQL TIME to io.debezium.time.MicroTime.
func mysqlTimeMicros(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errType("a time string", v)
	}
	return clockMicros(s)
}

// pgTimeMicros converts PostgreSQL time to io.debezium.time.MicroTime.
func pgTimeMicros(v any) (any, error) { return mysqlTimeMicros(v) }

// pgTimeMillis converts PostgreSQL time(0..3) to io.debezium.time.Time, an
// int32 of milliseconds past midnight.
func pgTimeMillis(v any) (any, error) {
	us, err := mysqlTimeMicros(v)
	if err != nil {
		return nil, err
	}
	return us.(int64) / 1000, nil
}

// zonedTime converts PostgreSQL timetz ("hh:mm:ss[.f]±hh[:mm[:ss]]") to
// io.debezium.time.ZonedTime: the same instant of day in UTC, ISO 8601
// with "Z", the fraction without trailing zeros.
func zonedTime(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errType("a time string", v)
	}
	bad := fmt.Errorf("timetz value of %d bytes is not hh:mm:ss[.f]±hh[:mm]", len(s))
	i := strings.LastIndexAny(s, "+-")
	if i <= 0 {
		return nil, bad
	}
	local, err := clockMicros(s[:i])
	if err != nil {
		return nil, bad
	}
	offParts := strings.Split(s[i+1:], ":")
	var off int64
	for j, unit := range []int64{3600, 60, 1} {
		if j >= len(offParts) {
			break
		}
		x, err := strconv.ParseInt(offParts[j], 10, 64)
		if err != nil || len(offParts) > 3 {
			return nil, bad
		}
		off += x * unit
	}
	if s[i] == '-' {
		off = -off
	}
	day := secondsPerDay * microsPerSecond
	utc := ((local-off*microsPerSecond)%day + day) % day
	sec, frac := utc/microsPerSecond, utc%microsPerSecond
	out := fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	if frac != 0 {
		out += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
	}
	return out + "Z", nil
}

// daysPerMonthAvg is Debezium's MicroDuration.DAYS_PER_MONTH_AVG.
const daysPerMonthAvg = 365.25 / 12.0

// intervalMicros converts an ISO 8601 interval as PostgreSQL writes it with
// IntervalStyle=iso_8601 ("P1Y2M3DT4H5M6.5S", "P-1Y-2M", "PT0S") to
// io.debezium.time.MicroDuration, computed like Debezium: a month is
// 365.25/12 days, in double precision, truncated to whole microseconds.
func intervalMicros(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errType("an interval string", v)
	}
	bad := fmt.Errorf("interval value of %d bytes is not ISO 8601 (IntervalStyle=iso_8601)", len(s))
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return nil, bad
	}
	var years, months, days, hours, minutes, seconds float64
	inTime := false
	for rest := s[1:]; rest != ""; {
		if rest[0] == 'T' {
			inTime = true
			rest = rest[1:]
			continue
		}
		j := strings.IndexAny(rest, "YMWDHS")
		if j <= 0 {
			return nil, bad
		}
		x, err := strconv.ParseFloat(rest[:j], 64)
		if err != nil {
			return nil, bad
		}
		switch unit := rest[j]; {
		case unit == 'Y' && !inTime:
			years = x
		case unit == 'M' && !inTime:
			months = x
		case unit == 'W' && !inTime:
			days += 7 * x
		case unit == 'D' && !inTime:
			days += x
		case unit == 'H' && inTime:
			hours = x
		case unit == 'M' && inTime:
			minutes = x
		case unit == 'S' && inTime:
			seconds = x
		default:
			return nil, bad
		}
		rest = rest[j+1:]
	}
	numberOfDays := (years*12+months)*daysPerMonthAvg + days
	numberOfSeconds := ((numberOfDays*24+hours)*60+minutes)*60 + seconds
	us := numberOfSeconds * 1e6
	if math.IsNaN(us) || math.Abs(us) >= math.MaxInt64 {
		return nil, bad
	}
	return int64(us), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
