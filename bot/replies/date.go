package replies

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// untilWord introduces the end of an absence or exemption.
var untilWord = regexp.MustCompile(`(?i)\b(?:until|till|til|through|thru)\s+(?:the\s+)?`)

// Date forms accepted after untilWord. Numeric day/month orders other than
// ISO (03/04/2027) are ambiguous across locales and left unread.
var (
	isoDate       = regexp.MustCompile(`^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b`)
	monthDayYear  = regexp.MustCompile(`(?i)^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`)
	dayMonthYear  = regexp.MustCompile(`(?i)^(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+(\d{4})\b`)
	englishMonths = [...]string{"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december"}
)

// findUntil returns the first date in s that follows "until" (or "till",
// "through"), or the zero time.
func findUntil(s string) time.Time {
	for _, loc := range untilWord.FindAllStringIndex(s, -1) {
		if t, ok := parseDate(s[loc[1]:]); ok {
			return t
		}
	}
	return time.Time{}
}

// parseDate reads a date at the start of s: "2027-03-15", "March 15, 2027",
// "Mar 15th 2027", "15 March 2027". It rejects dates that do not exist.
func parseDate(s string) (time.Time, bool) {
	var y, m, d int
	if g := isoDate.FindStringSubmatch(s); g != nil {
		y, m, d = atoi(g[1]), atoi(g[2]), atoi(g[3])
	} else if g := monthDayYear.FindStringSubmatch(s); g != nil {
		y, m, d = atoi(g[3]), month(g[1]), atoi(g[2])
	} else if g := dayMonthYear.FindStringSubmatch(s); g != nil {
		y, m, d = atoi(g[3]), month(g[2]), atoi(g[1])
	} else {
		return time.Time{}, false
	}
	if m < 1 || m > 12 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || t.Month() != time.Month(m) || t.Day() != d {
		return time.Time{}, false // 2027-02-30 would otherwise become March 2
	}
	return t, true
}

// month returns 1-12 for an English month name or an abbreviation of at
// least three letters ("sept", "Mar"), 0 otherwise.
func month(name string) int {
	name = strings.ToLower(name)
	if len(name) < 3 {
		return 0
	}
	for i, full := range englishMonths {
		if strings.HasPrefix(full, name) {
			return i + 1
		}
	}
	return 0
}

// atoi converts a captured digit run.
func atoi(s string) int {
	n, _ := strconv.Atoi(s) // the patterns only capture short digit runs
	return n
}
