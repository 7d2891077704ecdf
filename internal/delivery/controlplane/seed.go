package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/shared/usercache"
)

// Seed returns etcd data in which the CRDs and the operators' namespaces
// are installed, made once per machine for each Kubernetes version and CRD
// set (user cache). A control plane started from a copy of it (Config.Seed)
// serves the CRDs as soon as it is ready: installing 36 CRDs takes 10 to
// 20 s of two busy cores, and each test package starts a control plane.
func Seed(ctx context.Context, root string, bins Binaries, out io.Writer) (string, error) {
	crds, _, err := CRDs(ctx, root)
	if err != nil {
		return "", err
	}
	namespaces, err := OperatorNamespaces(root)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n", Version, len(crds))
	h.Write(crds)
	h.Write(namespaces)
	key := hex.EncodeToString(h.Sum(nil))[:16]
	entry, err := usercache.Fill(ctx, "kube-seed", key, func(ctx context.Context, dir string) error {
		fmt.Fprintln(out, "control plane: installing the CRDs once into a seed for later control planes")
		ports, err := FreePorts(ctx)
		if err != nil {
			return err
		}
		build := filepath.Join(dir, "build")
		cp, err := Start(ctx, Config{Dir: build, Ports: ports, FastStorage: true}, Binaries{Etcd: bins.Etcd, APIServer: bins.APIServer})
		if err != nil {
			return err
		}
		err = InstallCRDs(ctx, cp.Kubectl(), crds, namespaces)
		cp.Stop() // etcd last: all it was told is written when it exits
		if err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(build, "etcd"), filepath.Join(dir, "etcd")); err != nil {
			return err
		}
		return os.RemoveAll(build)
	})
	if err != nil {
		return "", fmt.Errorf("the control plane seed: %w", err)
	}
	return filepath.Join(entry, "etcd"), nil
}

// copyTree copies the directory src to dst (which must not exist), dst
// private to this user as etcd wants its data directory.
func copyTree(src, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		return root.Chmod(path, mode)
	})
}
