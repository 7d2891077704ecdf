package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/shared/gomodule"
)

// kwok stands in for the kubelets of fake nodes: it marks them Ready and
// keeps their leases, marks pods scheduled onto them Running and Ready,
// completes the pods of Jobs and finishes deleting pods. Which of these it
// does is the Stage objects below, kwok's own "fast" set from its module.
var kwokStages = []string{
	"kustomize/stage/node/fast",
	"kustomize/stage/node/heartbeat-with-lease",
	"kustomize/stage/pod/fast",
}

var clusterRole = regexp.MustCompile(`(?m)^kind: ClusterRole$`)

// kwokUser is kwok's client certificate's user.
const kwokUser = "kwok"

// fakeNodeAnnotation marks the nodes kwok manages (and only those).
const fakeNodeAnnotation = "kwok.x-k8s.io/node=fake"

// kwokBinding gives kwokUser the ClusterRole kwok's module defines.
const kwokBinding = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kwok-controller
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kwok-controller
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: ` + kwokUser + "\n"

// kwokFiles returns kwok's stages (one YAML stream) and its ClusterRole.
func kwokFiles(ctx context.Context) (stages, role []byte, err error) {
	dir, err := gomodule.Dir(ctx, "sigs.k8s.io/kwok", KwokVersion)
	if err != nil {
		return nil, nil, fmt.Errorf("kwok's stages: %w", err)
	}
	var all [][]byte
	for _, d := range kwokStages {
		docs, _, err := yamlFiles(filepath.Join(dir, d))
		if err != nil {
			return nil, nil, fmt.Errorf("kwok's stages: %w", err)
		}
		all = append(all, docs...)
	}
	docs, _, err := yamlFiles(filepath.Join(dir, "kustomize/rbac"))
	if err != nil {
		return nil, nil, fmt.Errorf("kwok's role: %w", err)
	}
	for _, d := range docs {
		// Top level only: the binding's roleRef names the kind too.
		if clusterRole.Match(d) {
			role = d
		}
	}
	if role == nil {
		return nil, nil, fmt.Errorf("kwok's role: no ClusterRole in %s", filepath.Join(dir, "kustomize/rbac"))
	}
	return joinYAML(all), role, nil
}

// fakeNodes are n nodes for kwok, each in a zone of its own (so that
// topology spread and anti-affinity rules can be met), with room for a
// few hundred pods.
func fakeNodes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Node
metadata:
  name: fake-node-%[1]d
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    %[2]s: %[3]s
  labels:
    kubernetes.io/hostname: fake-node-%[1]d
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/worker: ""
    topology.kubernetes.io/zone: zone-%[1]d
    type: kwok
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110", ephemeral-storage: 200Gi}
  capacity: {cpu: "32", memory: 128Gi, pods: "110", ephemeral-storage: 200Gi}
`, i, strings.Split(fakeNodeAnnotation, "=")[0], strings.Split(fakeNodeAnnotation, "=")[1])
	}
	return b.String()
}

func joinYAML(docs [][]byte) []byte {
	var b bytes.Buffer
	for _, d := range docs {
		b.WriteString("---\n")
		b.Write(bytes.TrimSpace(d))
		b.WriteString("\n")
	}
	return b.Bytes()
}
