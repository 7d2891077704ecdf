package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

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
