package manifests

import (
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// posture checks every container of every Deployment and Job: non-root,
// read-only root filesystem, no privilege escalation, all capabilities
// dropped, seccomp RuntimeDefault, requests and limits; Deployments also
// have startup, readiness and liveness probes on ports they listen on.
func (c *checker) posture() {
	for _, p := range c.pods {
		if p.spec == nil {
			continue
		}
		psc := p.spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, ct := range allContainers(p.spec) {
			id := p.owner + " container " + ct.Name
			sc := ct.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
				c.fail("%s: runAsNonRoot is not set", id)
			}
			if uid := firstNonNil(sc.RunAsUser, psc.RunAsUser); uid == nil || *uid == 0 {
				c.fail("%s: runAsUser must be a non-zero uid (images name users, the kubelet cannot check a name)", id)
			}
			if !isTrue(sc.ReadOnlyRootFilesystem) {
				c.fail("%s: readOnlyRootFilesystem is not true", id)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				c.fail("%s: allowPrivilegeEscalation is not false", id)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				c.fail("%s: capabilities must drop ALL and add none", id)
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				c.fail("%s: seccompProfile is not RuntimeDefault", id)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := ct.Resources.Requests[r]; !ok {
					c.fail("%s: no %s request", id, r)
				}
				if _, ok := ct.Resources.Limits[r]; !ok {
					c.fail("%s: no %s limit", id, r)
				}
			}
			if p.kind != "Deployment" {
				continue
			}
			probes := map[string]*corev1.Probe{"startup": ct.StartupProbe, "readiness": ct.ReadinessProbe, "liveness": ct.LivenessProbe}
			for _, name := range []string{"startup", "readiness", "liveness"} {
				pr := probes[name]
				if pr == nil {
					c.fail("%s: no %s probe", id, name)
					continue
				}
				switch {
				case pr.HTTPGet != nil:
					if !p.has(pr.HTTPGet.Port, "") {
						c.fail("%s: %s probe port %s is not a port it listens on", id, name, pr.HTTPGet.Port.String())
					}
				case pr.TCPSocket != nil:
					if !p.has(pr.TCPSocket.Port, "") {
						c.fail("%s: %s probe port %s is not a port it listens on", id, name, pr.TCPSocket.Port.String())
					}
				}
			}
		}
	}
	for _, ns := range c.s.Namespaces {
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			c.fail("Namespace/%s: pod-security.kubernetes.io/enforce is not restricted", ns.Name)
		}
	}
}

// A pullable reference by digest: registry host, repository, sha256 digest.
var digestRef = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$`)

func (c *checker) production() {
	for _, p := range c.pods {
		if p.spec == nil {
			continue
		}
		for _, ct := range allContainers(p.spec) {
			if !digestRef.MatchString(ct.Image) {
				c.fail("%s container %s: image %s is not pinned by digest in a registry", p.owner, ct.Name, ct.Image)
			} else if host := strings.SplitN(ct.Image, "/", 2)[0]; strings.HasPrefix(host, "localhost") || strings.HasPrefix(host, "127.") {
				c.fail("%s container %s: image %s is in a local registry", p.owner, ct.Name, ct.Image)
			}
		}
	}
	for _, d := range c.s.Deployments {
		id := "Deployment/" + d.Namespace + "/" + d.Name
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			c.fail("%s: fewer than 2 replicas", id)
		}
		covered := false
		for _, pdb := range c.s.PDBs {
			if pdb.Namespace == d.Namespace && pdb.Spec.Selector != nil &&
				selector(pdb.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				covered = true
			}
		}
		if !covered {
			c.fail("%s: no PodDisruptionBudget selects its pods", id)
		}
	}
	for _, cl := range c.s.PGClusters {
		if cl.Spec.Instances < 2 {
			c.fail("Cluster/%s/%s: a single PostgreSQL instance", cl.Namespace, cl.Name)
		}
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstNonNil[T any](vs ...*T) *T {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}
