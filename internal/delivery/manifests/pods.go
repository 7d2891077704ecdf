package manifests

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// pod is a set of pods as far as the checks care: where they run, their
// labels and the ports they listen on. Deployments and Jobs give one each;
// a CloudNativePG Cluster and the operators' pods outside the manifests are
// described by hand (knownPods).
type pod struct {
	owner     string // the object that makes the pods, for messages
	namespace string
	labels    map[string]string
	ports     []podPort
	spec      *corev1.PodSpec // nil for pods the manifests do not define
	kind      string          // Deployment, Job, or "" for the others
}

type podPort struct {
	name     string
	number   int32
	protocol corev1.Protocol
}

// CloudNativePG's instance pods: PostgreSQL and the instance manager's
// status endpoint (the operator polls it) and metrics.
func cnpgPorts() []podPort {
	return []podPort{
		{name: "postgresql", number: 5432, protocol: corev1.ProtocolTCP},
		{name: "status", number: 8000, protocol: corev1.ProtocolTCP},
		{name: "metrics", number: 9187, protocol: corev1.ProtocolTCP},
	}
}

// knownPods are pods the NetworkPolicies talk about that the operators, not
// these manifests, run.
var knownPods = []pod{
	{owner: "kube-dns", namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"},
		ports: []podPort{{name: "dns", number: 53, protocol: corev1.ProtocolUDP}, {name: "dns-tcp", number: 53, protocol: corev1.ProtocolTCP}}},
	{owner: "ingress-nginx controller", namespace: "ingress-nginx",
		labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
		// 10254: metrics, a port its manifest does not name.
		ports: []podPort{{name: "http", number: 80, protocol: corev1.ProtocolTCP}, {name: "https", number: 443, protocol: corev1.ProtocolTCP},
			{number: 10254, protocol: corev1.ProtocolTCP}}},
	{owner: "CloudNativePG operator", namespace: "cnpg-system",
		labels: map[string]string{"app.kubernetes.io/name": "cloudnative-pg"}},
	// kube-prometheus-stack's Prometheus (Helm release monitoring).
	{owner: "Prometheus", namespace: MonitoringNamespace,
		labels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
}

// knownNamespaces are the operators' namespaces; the manifests' own come
// from the Namespace objects.
var knownNamespaces = []string{"kube-system", "ingress-nginx", "cnpg-system", "cert-manager", "kube-public", MonitoringNamespace}

func (s *Set) pods() []pod {
	var out []pod
	for _, d := range s.Deployments {
		out = append(out, templatePod("Deployment/"+d.Namespace+"/"+d.Name, "Deployment", d.Namespace, &d.Spec.Template))
	}
	for _, j := range s.Jobs {
		out = append(out, templatePod("Job/"+j.Namespace+"/"+j.Name, "Job", j.Namespace, &j.Spec.Template))
	}
	for _, c := range s.PGClusters {
		out = append(out, pod{owner: "Cluster/" + c.Namespace + "/" + c.Name, namespace: c.Namespace,
			labels: map[string]string{"cnpg.io/cluster": c.Name, "cnpg.io/podRole": "instance"}, ports: cnpgPorts()})
	}
	return out
}

func templatePod(owner, kind, ns string, t *corev1.PodTemplateSpec) pod {
	p := pod{owner: owner, kind: kind, namespace: ns, labels: maps.Clone(t.Labels), spec: &t.Spec}
	for _, c := range t.Spec.Containers {
		for _, cp := range c.Ports {
			proto := cp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			p.ports = append(p.ports, podPort{name: cp.Name, number: cp.ContainerPort, protocol: proto})
		}
	}
	return p
}

// has reports whether the pod listens on port (a number or a port name)
// with protocol (TCP when empty).
func (p pod) has(port intstr.IntOrString, protocol corev1.Protocol) bool {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	for _, pp := range p.ports {
		if pp.protocol != protocol {
			continue
		}
		if port.Type == intstr.String && pp.name == port.StrVal {
			return true
		}
		if port.Type == intstr.Int && pp.number == port.IntVal {
			return true
		}
	}
	return false
}

// allContainers returns the init and regular containers of a pod spec.
func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}
