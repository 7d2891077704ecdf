package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the time of every file and every image: fixed, so images are
// reproducible.
var Epoch = time.Unix(0, 0).UTC()

// File is one entry of a layer.
type File struct {
	Path string // absolute path in the image
	Mode int64  // permission bits (and fs.ModeDir for a directory)
	UID  int
	GID  int
	Data []byte // contents of a regular file
	Dir  bool
}

// Layer builds a reproducible layer from files: sorted by path, parent
// directories added (root-owned, 0755) where missing, every time Epoch.
func Layer(files []File) (v1.Layer, error) {
	byPath := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			continue
		}
		f.Path = p
		if old, dup := byPath[p]; dup && (!old.Dir || !f.Dir) {
			return nil, fmt.Errorf("layer: %s twice", p)
		}
		byPath[p] = f
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = File{Path: d, Dir: true, Mode: 0o755}
			}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := byPath[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    f.Mode &^ int64(fs.ModeDir),
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: Epoch,
			Format:  tar.FormatPAX,
		}
		if f.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", p, err)
		}
		if !f.Dir {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, fmt.Errorf("layer: %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// DirFiles returns the regular files under dir as Files under target: owned
// by root, mode 0644 (directories 0755) whatever they are on disk, so the
// layer does not depend on the checkout's umask.
func DirFiles(dir, target string) ([]File, error) {
	var out []File
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	defer root.Close()
	fsys := root.FS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := path.Join(target, p)
		switch {
		case d.IsDir():
			out = append(out, File{Path: dst, Dir: true, Mode: 0o755})
		case d.Type().IsRegular():
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			out = append(out, File{Path: dst, Mode: 0o644, Data: b})
		default:
			return fmt.Errorf("%s: only regular files and directories go into an image", filepath.Join(dir, p))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return out, nil
}
