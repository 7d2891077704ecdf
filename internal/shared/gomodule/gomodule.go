// Package gomodule finds the files of a Go module at an exact version.
package gomodule

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Dir returns where a pinned Go module's files are: its directory in the
// module cache, downloaded from the Go module proxy the first time on a
// machine. The control plane takes the operators' CRDs and kwok's stages,
// and the monitoring tests the exporters' metric names, from the very
// modules whose versions are pinned, not from copies.
func Dir(ctx context.Context, module, version string) (string, error) {
	// Outside any module and workspace, so that only the named version counts.
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("download %s@%s (go mod download): %w: %s", module, version, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("download %s@%s: no directory in go mod download's answer", module, version)
	}
	return info.Dir, nil
}
