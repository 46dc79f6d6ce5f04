package bot

import (
	"encoding/hex"
	"strings"
)

// The last line of every text the bot writes is a marker naming the
// campaign and the op key, so that after a crash the bot can find its own
// earlier writes in Phabricator and never write them twice.
//
// Remarkup has no comment syntax, so the marker is an anchor,
// {anchor #auditbot-HEX}, HEX being "CAMPAIGN/KEY" in lower-case hex. Of
// all Remarkup rules it is the one that renders nothing: an empty <a
// name> on the web, and nothing at all in text or HTML mail
// (PhutilRemarkupAnchorRule). Anchor names may hold only lower-case
// letters, digits and single dashes, hence the hex; an invalid name would
// be shown as typed. The raw text keeps the line exactly, which is where
// the bot looks for it, and only in versions the bot wrote itself.
//
// Up to issue 9 the marker was a visible line, "auditbot-marker:
// CAMPAIGN/KEY" (legacyMarkerPrefix); it is still recognised, for tasks
// and comments written before.
const (
	markerAnchorPrefix = "{anchor #auditbot-"
	legacyMarkerPrefix = "auditbot-marker:"
)

// marker is the line appended to a text written for op key.
func marker(campaign string, key OpKey) string {
	return markerAnchorPrefix + hex.EncodeToString([]byte(campaign+"/"+string(key))) + "}"
}

// Marker is the marker line the bot ends a text written for op key with,
// for tests and tools outside this package that look for the bot's writes.
func Marker(campaign, key string) string { return marker(campaign, OpKey(key)) }

// parseMarker returns the op key of line if it is a marker line of
// campaign, in either form.
func parseMarker(line, campaign string) (OpKey, bool) {
	key, ok := MarkerKey(line, campaign)
	return OpKey(key), ok
}

// MarkerKey returns the op key of a marker line of campaign, in either
// form; ok is false when line is no marker of campaign.
func MarkerKey(line, campaign string) (key string, ok bool) {
	line = strings.TrimSpace(line)
	var full string
	if h, found := strings.CutPrefix(line, markerAnchorPrefix); found {
		h, found = strings.CutSuffix(h, "}")
		raw, err := hex.DecodeString(h)
		if !found || err != nil {
			return "", false
		}
		full = string(raw)
	} else if rest, found := strings.CutPrefix(line, legacyMarkerPrefix); found {
		full = strings.TrimSpace(rest)
	} else {
		return "", false
	}
	return strings.CutPrefix(full, campaign+"/")
}

// withMarker appends the marker line to a rendered text.
func withMarker(text, campaign string, key OpKey) string {
	return strings.TrimRight(text, "\n") + "\n\n" + marker(campaign, key)
}

// hasMarker reports whether text carries the marker for key.
func hasMarker(text, campaign string, key OpKey) bool {
	for line := range strings.Lines(text) {
		if k, ok := parseMarker(line, campaign); ok && k == key {
			return true
		}
	}
	return false
}
