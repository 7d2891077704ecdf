// Package controlplane runs a real Kubernetes control plane as plain
// processes, without Docker or a VM: etcd and kube-apiserver, and for
// workloads kube-controller-manager, kube-scheduler and kwok (fake nodes
// whose pods become Running and Ready, and whose Job pods complete, with
// no container behind them). The manifests, deploy:prod and kind:deploy
// are tested against it: admission, the operators' CRD schemas (OpenAPI
// and CEL), server-side apply, stage order and rollout waits are the API
// server's own.
//
// The binaries are built from the Go module proxy (tools/kubernetes,
// tools/kwok) once per machine and version into the user's cache
// (internal/shared/toolbuild). The CRDs come from the operators' own Go
// modules at the versions in k8s/operators/versions.yaml.
//
// Everything listens on 127.0.0.1 and authenticates with certificates of
// its own CA (no token or password file): the admin kubeconfig's user is
// in system:masters, the controller manager and scheduler use their
// built-in roles, kwok the ClusterRole its project defines, and etcd
// accepts only the API server's client certificate.
//
// Two ways to run it: Start, for tests — free ports, a temporary
// directory, children that die with the test process; and Local, for
// people (`go tool mage kube:up`, kube:down, kube:status) — fixed ports,
// state in .dev/kube, detached processes like the dev stack's.
package controlplane
