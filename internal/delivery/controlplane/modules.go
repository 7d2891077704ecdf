package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// moduleDir returns where a pinned Go module's files are: its directory in
// the module cache, downloaded from the Go module proxy the first time on
// a machine. The control plane takes the operators' CRDs and kwok's stages
// from the very modules whose versions are pinned, not from copies.
func moduleDir(ctx context.Context, module, version string) (string, error) {
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

// yamlFiles reads the YAML files of dir (not its subdirectories) in name
// order, leaving out kustomization.yaml.
func yamlFiles(dir string) ([][]byte, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var docs [][]byte
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !slices.Contains([]string{".yaml", ".yml"}, filepath.Ext(n)) || n == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, b)
		names = append(names, n)
	}
	if len(docs) == 0 {
		return nil, nil, fmt.Errorf("no YAML files in %s", dir)
	}
	return docs, names, nil
}
