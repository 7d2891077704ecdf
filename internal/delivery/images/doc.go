// Package images builds the project's OCI images without Docker, with
// go-containerregistry, and pushes them.
//
//   - Go programs (server, migrator, kratos): static binaries
//     (CGO_ENABLED=0) for linux/amd64 and linux/arm64, each on a base layer
//     this package writes itself — /etc/passwd and /etc/group with the
//     nonroot user (65532), /tmp, and the Mozilla root certificates from
//     golang.org/x/crypto/x509roots/fallback — so nothing is pulled. The
//     result is an image index.
//   - The webapp: the built assets (webapp/dist) and the nginx
//     configuration on nginx-unprivileged, pinned by digest in NginxBase and
//     pulled once (then kept in an OCI layout under .cache/images).
//
// Images are reproducible: every timestamp is Epoch, tar entries are sorted
// with fixed owner and modes, binaries are built with -trimpath and no build
// id, so the same inputs give the same digest.
package images
