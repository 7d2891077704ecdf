//go:build mage

// The Kubernetes targets: images without Docker, the Kind cluster, and the
// production deploy. Each is a thin call into internal/images,
// internal/kindcluster or internal/deploy (docs/kubernetes.md).

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"

	"github.com/groundwork-dev/groundwork/internal/deploy"
	"github.com/groundwork-dev/groundwork/internal/devstack"
	"github.com/groundwork-dev/groundwork/internal/images"
	"github.com/groundwork-dev/groundwork/internal/kindcluster"
)

// Kind runs the local Kubernetes cluster (Kind) with the dev overlay.
type Kind mg.Namespace

// Deploy deploys to a real cluster.
type Deploy mg.Namespace

// buildWebapp builds webapp/dist when its sources changed (npm), as dev:up does.
func buildWebapp(ctx context.Context) error {
	cfg, err := devstack.ConfigFromEnv(".", os.Getenv)
	if err != nil {
		return err
	}
	_, err = devstack.EnsureWebapp(ctx, cfg, func(format string, a ...any) { fmt.Printf(format+"\n", a...) })
	return err
}

func project(platforms []images.Platform) (images.Project, error) {
	root, err := os.Getwd()
	if err != nil {
		return images.Project{}, err
	}
	return images.Project{Root: root, Platforms: platforms, Build: images.GoBuild(os.Stdout), Log: os.Stdout}, nil
}

// Images builds the OCI images (server, migrator, kratos for linux/amd64 and linux/arm64; webapp on nginx-unprivileged) into .cache/images without Docker.
func Images(ctx context.Context) error {
	if err := buildWebapp(ctx); err != nil {
		// The Go images do not need it; the webapp image reports it.
		fmt.Println("webapp: not built:", err)
	}
	p, err := project(images.Platforms)
	if err != nil {
		return err
	}
	return p.Save(ctx, filepath.Join(p.Root, ".cache", "images"))
}

func kindCluster() (*kindcluster.Cluster, error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return &kindcluster.Cluster{Config: kindcluster.DefaultConfig(root), Host: kindcluster.RealHost(), Out: os.Stdout}, nil
}

// Up creates the Kind cluster with its local registry, installs the operators, builds and pushes the images and applies the dev overlay, waiting until all is ready.
func (Kind) Up(ctx context.Context) error {
	if err := buildWebapp(ctx); err != nil {
		return err
	}
	c, err := kindCluster()
	if err != nil {
		return err
	}
	return c.Up(ctx)
}

// Down deletes the Kind cluster and stops the local registry (its images stay).
func (Kind) Down(ctx context.Context) error {
	c, err := kindCluster()
	if err != nil {
		return err
	}
	return c.Down(ctx)
}

// Reset deletes the Kind cluster, stops the local registry and deletes its storage.
func (Kind) Reset(ctx context.Context) error {
	c, err := kindCluster()
	if err != nil {
		return err
	}
	return c.Reset(ctx)
}

// Deploy rebuilds one component (server, migrator, kratos, webapp), pushes it, applies its objects and waits for the rollout; prints the time taken.
func (Kind) Deploy(ctx context.Context, component string) error {
	if component == "webapp" {
		if err := buildWebapp(ctx); err != nil {
			return err
		}
	}
	c, err := kindCluster()
	if err != nil {
		return err
	}
	return c.Deploy(ctx, component)
}

func prod(ctx context.Context, dryRun bool) error {
	reg, envDry, err := deploy.ProdConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if err := buildWebapp(ctx); err != nil {
		return err
	}
	p, err := project(images.Platforms)
	if err != nil {
		return err
	}
	return deploy.Prod{Root: p.Root, Registry: reg, Build: p.Image, Kube: deploy.Kubectl{Log: os.Stdout},
		DryRun: dryRun || envDry, Out: os.Stdout}.Run(ctx)
}

// Prod builds and pushes the images to $PROD_REGISTRY (TLS), renders the prod overlay pinned to their digests and server-side applies it to the current kube context (never kind-*); DRY_RUN=1 only shows the diff.
func (Deploy) Prod(ctx context.Context) error { return prod(ctx, false) }

// DryRun is deploy:prod that builds without pushing and prints the server-side diff; nothing is pushed or applied.
func (Deploy) DryRun(ctx context.Context) error { return prod(ctx, true) }
