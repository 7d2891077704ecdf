//go:build mage

// The project's entry points. Each target is a thin call into a tested
// package under internal/; `go tool mage -l` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"

	"github.com/groundwork-dev/groundwork/internal/bench/apibench"
	"github.com/groundwork-dev/groundwork/internal/bench/devbench"
	"github.com/groundwork-dev/groundwork/internal/ci"
	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane"
	"github.com/groundwork-dev/groundwork/internal/delivery/gitops"
	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kindcluster"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/prod"
	"github.com/groundwork-dev/groundwork/internal/dev/devstack"
	"github.com/groundwork-dev/groundwork/internal/dev/webe2e"
	"github.com/groundwork-dev/groundwork/internal/infra/ansible"
	"github.com/groundwork-dev/groundwork/internal/infra/inventory"
	"github.com/groundwork-dev/groundwork/internal/infra/terraform"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
	"github.com/groundwork-dev/groundwork/internal/toolchain/webbuild"
	"github.com/groundwork-dev/groundwork/queue/queuebench"
)

// Dev runs the local stack under .dev/.
type Dev mg.Namespace

// DB works with the local stack's database.
type DB mg.Namespace

// Bench runs the performance harnesses.
type Bench mg.Namespace

// Kind runs the local Kubernetes cluster (Kind) with the dev overlay.
type Kind mg.Namespace

// Deploy deploys to a real cluster.
type Deploy mg.Namespace

// Kube runs a local Kubernetes control plane (no Docker, no containers) to try manifests against.
type Kube mg.Namespace

func stack() (*devstack.Stack, error) {
	cfg, err := devstack.ConfigFromEnv(".", os.Getenv)
	if err != nil {
		return nil, err
	}
	return devstack.New(cfg, os.Stdout, sysdeps.New(os.Stdout)), nil
}

func projectChecks() ci.Checks {
	root, _ := os.Getwd()
	return ci.Checks{Root: root, Out: os.Stdout, Deps: sysdeps.New(os.Stdout)}
}

// Up starts the whole local stack in the background, healthy, and prints where each part is; idempotent.
func (Dev) Up(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Up(ctx)
}

// Down stops the local stack and keeps its data.
func (Dev) Down(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Down(ctx)
}

// Reset stops the local stack and deletes .dev/ (data, certificates, logs).
func (Dev) Reset(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Reset(ctx)
}

// Status prints one line per component: state, address, health.
func (Dev) Status(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Status(ctx)
}

// Env prints shell export lines with each role's database URL: eval "$(go tool mage dev:env)".
func (Dev) Env() error {
	s, err := stack()
	if err != nil {
		return err
	}
	s.Env()
	return nil
}

// Logs follows every component's log until interrupted.
func (Dev) Logs(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Logs(ctx)
}

// Shell opens psql on the app database as the schema owner, with its certificate.
func (DB) Shell(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Shell(ctx, os.Stdin, os.Stdout, os.Stderr)
}

// Migrate applies pending migrations (River's and the app's) to the local database.
func (DB) Migrate(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Migrate(ctx)
}

// Test runs every module's tests against real PostgreSQL.
func Test(ctx context.Context) error { return projectChecks().Test(ctx, false) }

// Lint runs gofmt, go vet and golangci-lint over every module.
func Lint(ctx context.Context) error { return projectChecks().Lint(ctx) }

// Generate runs all code generation.
func Generate(ctx context.Context) error { return projectChecks().Generate(ctx) }

// CI runs everything CI checks: lint, generated code is current, tests.
func CI(ctx context.Context) error { return projectChecks().CI(ctx) }

// DevUp measures dev:up from nothing and warm, and migrator up on an empty database, against baselines.
func (Bench) DevUp(ctx context.Context) error {
	return devbench.Run(ctx, os.Stdout)
}

// API loads CreateAccount and GetAccount on a private full stack and on a bare grpc-go + pgx baseline, and prints req/s, p50/p99 and the ratio (APIBENCH_CONCURRENCY, APIBENCH_ROUNDS change the load).
func (Bench) API(ctx context.Context) error {
	p, err := apibench.PlanFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	return apibench.RunPlan(ctx, os.Stdout, p)
}

// Queue runs the same job workloads through pgqueue and through River directly on a private PostgreSQL, and prints jobs/s, latency and the ratios.
func (Bench) Queue(ctx context.Context) error {
	return queuebench.Run(ctx, os.Stdout)
}

// --- the webapp: the browser journey and the hot-reload stack ---

// E2e runs the webapp's end-to-end journey in real Chromium on a private stack (screenshots in .dev/e2e/).
func E2e(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	_, err = webe2e.Run(ctx, webe2e.Options{Root: root, Out: os.Stdout, Deps: sysdeps.New(os.Stdout)})
	return err
}

// Watch starts the local stack with the webapp served by Vite's dev server (hot reload) behind the same origin; dev:up switches back to webapp/dist.
func (Dev) Watch(ctx context.Context) error {
	cfg, err := devstack.ConfigFromEnv(".", os.Getenv)
	if err != nil {
		return err
	}
	cfg.WebWatch = true
	return devstack.New(cfg, os.Stdout, sysdeps.New(os.Stdout)).Up(ctx)
}

// --- Kubernetes: images without Docker, the Kind cluster, the production deploy (docs/kubernetes.md) ---

// buildWebapp brings webapp/dist up to date (npm, only when its sources
// changed), as dev:up does; the images targets build it before the webapp
// image and only then (images.Project.PrepareWebapp).
func buildWebapp(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	_, err = webbuild.Ensure(ctx, root, func(format string, a ...any) { fmt.Printf(format, a...) })
	return err
}

func project(ctx context.Context, platforms []images.Platform) (images.Project, error) {
	root, err := os.Getwd()
	if err != nil {
		return images.Project{}, err
	}
	return images.Project{Root: root, Platforms: platforms, Build: images.GoBuild(os.Stdout), PrepareWebapp: buildWebapp, Log: os.Stdout,
		Revision: images.GitRevision(ctx, root)}, nil
}

// Images builds and pushes the OCI images without Docker.
type Images mg.Namespace

// Build builds the OCI images (server, migrator, kratos for linux/amd64 and linux/arm64; webapp on nginx-unprivileged) into .cache/images without Docker.
func (Images) Build(ctx context.Context) error {
	p, err := project(ctx, images.Platforms)
	if err != nil {
		return err
	}
	return p.Save(ctx, filepath.Join(p.Root, ".cache", "images"))
}

// Push builds the images and pushes them by digest to $IMAGES_REGISTRY (TLS; REGISTRY_USERNAME/REGISTRY_PASSWORD or docker's config), and records the digests in .cache/images/pushed.json ($PUSHED_IMAGES) for gitops:publish and deploy:prod.
func (Images) Push(ctx context.Context) error {
	reg, err := images.RegistryFromEnv(os.Getenv, "IMAGES_REGISTRY")
	if err != nil {
		return err
	}
	p, err := project(ctx, images.Platforms)
	if err != nil {
		return err
	}
	if p.Revision == "" {
		return errors.New("images:push records the source commit: run it in a git checkout")
	}
	rec, err := images.PushAll(ctx, reg, p.Image, p.Revision, os.Stdout)
	if err != nil {
		return err
	}
	path := pushedImagesPath(p.Root)
	if err := rec.Write(path); err != nil {
		return err
	}
	fmt.Printf("images: %d pushed from %s, recorded in %s\n", len(rec.Images), rec.Source, path)
	return nil
}

// pushedImagesPath is where images:push records its digests: $PUSHED_IMAGES or .cache/images/pushed.json.
func pushedImagesPath(root string) string {
	if p := os.Getenv("PUSHED_IMAGES"); p != "" {
		return p
	}
	return filepath.Join(root, images.PushedFile)
}

func kindCluster() (*kindcluster.Cluster, error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return &kindcluster.Cluster{Config: kindcluster.DefaultConfig(root), Host: kindcluster.RealHost(), PrepareWebapp: buildWebapp, Out: os.Stdout}, nil
}

// Up creates the Kind cluster with its local registry, installs the operators, builds and pushes the images and applies the dev overlay, waiting until all is ready.
func (Kind) Up(ctx context.Context) error {
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

func localControlPlane() (controlplane.Local, error) {
	root, err := os.Getwd()
	return controlplane.Local{Root: root, Out: os.Stdout}, err
}

// Up starts a local Kubernetes control plane in the background (etcd, kube-apiserver, controller manager, scheduler, kwok's fake nodes) with the operators' CRDs and prints its kubeconfig; idempotent.
func (Kube) Up(ctx context.Context) error {
	l, err := localControlPlane()
	if err != nil {
		return err
	}
	return l.Up(ctx)
}

// Down stops the local control plane; its state stays in .dev/kube.
func (Kube) Down(ctx context.Context) error {
	l, err := localControlPlane()
	if err != nil {
		return err
	}
	return l.Down(ctx)
}

// Apply applies a kustomization directory such as k8s/overlays/prod to the local control plane, stage by stage, namespaces first, without waiting: the API server verdict on it.
func (Kube) Apply(ctx context.Context, dir string) error {
	l, err := localControlPlane()
	if err != nil {
		return err
	}
	return l.Apply(ctx, dir)
}

// Status shows the local control plane's processes and whether its API server answers.
func (Kube) Status(ctx context.Context) error {
	l, err := localControlPlane()
	if err != nil {
		return err
	}
	return l.Status(ctx)
}

// Deploy rebuilds one component (server, migrator, kratos, webapp), pushes it, applies its objects and waits for the rollout; prints the time taken.
func (Kind) Deploy(ctx context.Context, component string) error {
	c, err := kindCluster()
	if err != nil {
		return err
	}
	return c.Deploy(ctx, component)
}

func deployProd(ctx context.Context, dryRun bool) error {
	reg, envDry, err := prod.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	p, err := project(ctx, images.Platforms)
	if err != nil {
		return err
	}
	d := prod.Deploy{Root: p.Root, Registry: reg, Build: p.Image, Kube: kube.Kubectl{Log: os.Stdout},
		DryRun: dryRun || envDry, Source: p.Revision, Out: os.Stdout}
	// After images:push (the publish workflow), deploy exactly its digests.
	if path := os.Getenv("PUSHED_IMAGES"); path != "" {
		rec, err := images.ReadPushed(path)
		if err != nil {
			return err
		}
		d.Pushed = &rec
	}
	return d.Run(ctx)
}

// Prod builds and pushes the images to $PROD_REGISTRY (TLS; or takes those images:push recorded in $PUSHED_IMAGES), renders the prod overlay pinned to their digests and server-side applies it to the current kube context (never kind-*); DRY_RUN=1 only shows the diff.
func (Deploy) Prod(ctx context.Context) error { return deployProd(ctx, false) }

// DryRun is deploy:prod that builds without pushing and prints the server-side diff; nothing is pushed or applied.
func (Deploy) DryRun(ctx context.Context) error { return deployProd(ctx, true) }

// --- GitOps: the pull path ---

// Gitops publishes releases to the manifest repository Flux reads.
type Gitops mg.Namespace

// Publish renders the prod and dev overlays pinned to the digests images:push recorded ($PUSHED_IMAGES or .cache/images/pushed.json) and commits them to $MANIFEST_REPO_URL ($MANIFEST_REPO_TOKEN, $MANIFEST_REPO_BRANCH): stages under deploy/<cluster>, their Flux Kustomizations in clusters/<cluster>/groundwork.yaml; no change, no commit; an older source commit is refused.
func (Gitops) Publish(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	pub, err := gitops.PublisherFromEnv(os.Getenv, root)
	if err != nil {
		return err
	}
	pub.Out = os.Stdout
	path := pushedImagesPath(root)
	_, err = pub.Publish(ctx, func(context.Context) (gitops.Release, error) {
		pushed, err := images.ReadPushed(path)
		if err != nil {
			return gitops.Release{}, err
		}
		return gitops.Render(root, pushed, gitops.Envs...)
	})
	return err
}

// --- Infrastructure: Terraform on OpenStack (docs/infrastructure.md) ---

// Infra runs the Terraform environment $INFRA_ENV (default prod) through terraform-exec.
type Infra mg.Namespace

func infraProject(ctx context.Context) (terraform.Project, terraform.Settings, error) {
	root, err := os.Getwd()
	if err != nil {
		return terraform.Project{}, terraform.Settings{}, err
	}
	s, err := terraform.SettingsFromEnv(os.Getenv)
	if err != nil {
		return terraform.Project{}, s, err
	}
	p, err := terraform.Open(ctx, root, s, os.Stdout, os.Stdin)
	return p, s, err
}

// Init runs terraform init in terraform/envs/$INFRA_ENV with its backend.hcl (INFRA_OFFLINE=1: the provider from the local build).
func (Infra) Init(ctx context.Context) error {
	p, s, err := infraProject(ctx)
	if err != nil {
		return err
	}
	return p.Init(ctx, s.Env)
}

// Plan shows what infra:apply would change in $INFRA_ENV (needs its terraform.tfvars and OpenStack credentials).
func (Infra) Plan(ctx context.Context) error {
	p, s, err := infraProject(ctx)
	if err != nil {
		return err
	}
	_, err = p.Plan(ctx, s.Env, false)
	return err
}

// Apply plans $INFRA_ENV, asks (FORCE=1 does not) and applies exactly that plan.
func (Infra) Apply(ctx context.Context) error {
	p, s, err := infraProject(ctx)
	if err != nil {
		return err
	}
	return p.Apply(ctx, s.Env, s.Force)
}

// Destroy plans the destruction of every resource of $INFRA_ENV, asks for its name (FORCE=1 does not) and applies that plan.
func (Infra) Destroy(ctx context.Context) error {
	p, s, err := infraProject(ctx)
	if err != nil {
		return err
	}
	return p.Destroy(ctx, s.Env, s.Force)
}

// Inventory writes ansible/inventory/$INFRA_ENV/hosts.yml from the environment's Terraform outputs.
func (Infra) Inventory(ctx context.Context) error {
	p, s, err := infraProject(ctx)
	if err != nil {
		return err
	}
	outs, err := p.Outputs(ctx, s.Env)
	if err != nil {
		return err
	}
	out, ok := outs["inventory"]
	if !ok {
		return fmt.Errorf("environment %s has no inventory output: run go tool mage infra:apply first", s.Env)
	}
	path, err := inventory.WriteOutput(p.Root, s.Env, out.Value)
	if err != nil {
		return err
	}
	fmt.Printf("infra: wrote %s\n", path)
	return nil
}

// Check runs the offline Terraform checks of mage ci: fmt, validate, tflint, terraform test with mocked providers.
func (Infra) Check(ctx context.Context) error { return projectChecks().Infra(ctx) }

// --- The cluster: Kubernetes with kubeadm through Ansible (docs/cluster.md) ---

// Cluster runs the playbooks under ansible/ on ansible/inventory/$INFRA_ENV/hosts.yml (default prod).
type Cluster mg.Namespace

// Ansible checks the playbooks and roles.
type Ansible mg.Namespace

func clusterProject() (ansible.Project, terraform.Settings, error) {
	root, err := os.Getwd()
	if err != nil {
		return ansible.Project{}, terraform.Settings{}, err
	}
	s, err := terraform.SettingsFromEnv(os.Getenv)
	return ansible.Project{Root: root, Out: os.Stdout, In: os.Stdin, Deps: sysdeps.New(os.Stdout)}, s, err
}

// Install runs site.yml: prepares the machines, kubeadm init on the first control plane, joins the rest, installs Calico, writes .cache/kubeconfig/<cluster>.conf; a re-run changes nothing.
func (Cluster) Install(ctx context.Context) error {
	p, s, err := clusterProject()
	if err != nil {
		return err
	}
	return p.Install(ctx, s.Env)
}

// Upgrade runs upgrade.yml: one machine at a time to the kubernetes_version of ansible/group_vars/all/main.yml.
func (Cluster) Upgrade(ctx context.Context) error {
	p, s, err := clusterProject()
	if err != nil {
		return err
	}
	return p.Upgrade(ctx, s.Env)
}

// Reset runs reset.yml: kubeadm reset on every machine after typing the cluster's name (FORCE=1 does not ask).
func (Cluster) Reset(ctx context.Context) error {
	p, s, err := clusterProject()
	if err != nil {
		return err
	}
	return p.Reset(ctx, s.Env, s.Force)
}

// Check runs ansible-lint (production profile), the playbooks' syntax checks and ansible-inventory on the inventories, as mage ci does.
func (Ansible) Check(ctx context.Context) error { return projectChecks().Ansible(ctx) }
