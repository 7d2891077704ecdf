package images

import (
	"bytes"
	"encoding/pem"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// NonRoot is the user every Go image runs as (distroless's nonroot).
const (
	NonRoot    = 65532
	NonRootStr = "65532:65532"
)

// NginxBase is the webapp's base image, nginx-unprivileged (runs as uid
// 101, listens on 8080, keeps its temporary files under /tmp), pinned by
// the digest of its multi-platform index. The one place it is named.
// To update: `crane digest nginxinc/nginx-unprivileged:<tag>`.
const NginxBase = "docker.io/nginxinc/nginx-unprivileged:1.29-alpine@sha256:0c79d56aee561a1d81c63f00eee5fb5fe29279560cdc55e91425133104c7fbe6"

// NginxUser is the uid:gid NginxBase runs as.
const NginxUser = "101:101"

// CABundle returns the Mozilla root certificates (from the pinned
// golang.org/x/crypto/x509roots/fallback module) as PEM. Roots with
// constraints PEM cannot carry (a distrust date) are left out.
func CABundle() []byte {
	var buf bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return buf.Bytes()
}

// BaseFiles are the files of the Go images' base layer: users, /tmp, CA
// certificates — what a static Go program needs from an OS.
func BaseFiles() []File {
	return []File{
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: CABundle()},
		{Path: "/home/nonroot", Dir: true, Mode: 0o700, UID: NonRoot, GID: NonRoot},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
	}
}

// BaseLayer is the Go images' base layer.
func BaseLayer() (v1.Layer, error) { return Layer(BaseFiles()) }
