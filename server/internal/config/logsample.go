package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LogSampling is --log-sample, parsed: "FIRST/THEREAFTER" or "off" (the
// zero value). What the numbers mean is transport.LogSampling's, which the
// server converts it to.
type LogSampling struct {
	First      int
	Thereafter int
}

// DefaultLogSampling is zap's production default: at a few thousand
// requests a second a line per request costs more than it tells
// (docs/server.md), and the metrics count every request anyway.
var DefaultLogSampling = LogSampling{First: 100, Thereafter: 100}

// maxLogSample bounds both numbers: beyond it sampling means nothing.
const maxLogSample = 1_000_000

// Off reports whether every line is written.
func (s LogSampling) Off() bool { return s.First == 0 }

func (s LogSampling) String() string {
	if s.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%d", s.First, s.Thereafter)
}

// MarshalText is String, for the flag's default in the usage text.
func (s LogSampling) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "off" or "FIRST/THEREAFTER".
func (s *LogSampling) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	if text == "off" {
		*s = LogSampling{}
		return nil
	}
	first, thereafter, ok := strings.Cut(text, "/")
	if !ok {
		return errors.New(`want "off" or FIRST/THEREAFTER, e.g. 100/100`)
	}
	f, err := strconv.Atoi(first)
	if err != nil || f < 1 || f > maxLogSample {
		return fmt.Errorf("FIRST must be a whole number from 1 to %d (or the whole setting \"off\"), got %q", maxLogSample, first)
	}
	t, err := strconv.Atoi(thereafter)
	if err != nil || t < 0 || t > maxLogSample {
		return fmt.Errorf("THEREAFTER must be a whole number from 0 to %d, got %q", maxLogSample, thereafter)
	}
	*s = LogSampling{First: f, Thereafter: t}
	return nil
}
