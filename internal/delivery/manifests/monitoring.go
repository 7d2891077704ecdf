package manifests

import (
	"encoding/json"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The monitoring stack the monitors are written for: kube-prometheus-stack
// installed as the Helm release MonitoringRelease in MonitoringNamespace
// (k8s/operators/versions.yaml). Its Prometheus selects monitors and rules
// by the label release: MonitoringRelease, and its Grafana sidecar loads
// ConfigMaps labelled DashboardLabel: "1".
const (
	MonitoringNamespace = "monitoring"
	MonitoringRelease   = "monitoring"
	ReleaseLabel        = "release"
	DashboardLabel      = "grafana_dashboard"
)

// monitoring checks that every monitor finds what it scrapes, carries the
// label the Prometheus selects it by, and (where NetworkPolicies isolate
// the target) may reach it; that every rule is selected too; and that the
// dashboard ConfigMaps hold one dashboard each.
func (c *checker) monitoring() {
	prometheus := pod{owner: "Prometheus", namespace: MonitoringNamespace, labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
	universe := append(append([]pod(nil), c.pods...), knownPods...)
	for _, sm := range c.s.ServiceMonitors {
		id := "ServiceMonitor/" + sm.Namespace + "/" + sm.Name
		c.releaseLabel(id, sm.Labels)
		namespaces := monitorNamespaces(sm.Namespace, sm.Spec.NamespaceSelector)
		sel := selector(&sm.Spec.Selector)
		var svcs []*corev1.Service
		for _, svc := range c.s.Services {
			if slices.Contains(namespaces, svc.Namespace) && sel.Matches(labels.Set(svc.Labels)) {
				svcs = append(svcs, svc)
			}
		}
		if len(svcs) == 0 {
			c.fail("%s: selects no Service (its selector must match a Service's labels, not its pods')", id)
			continue
		}
		for _, ep := range sm.Spec.Endpoints {
			if ep.Port == "" {
				c.fail("%s: an endpoint without a port name (the Service's port names are stable, numbers are not)", id)
				continue
			}
			for _, svc := range svcs {
				var sp *corev1.ServicePort
				for i := range svc.Spec.Ports {
					if svc.Spec.Ports[i].Name == ep.Port {
						sp = &svc.Spec.Ports[i]
					}
				}
				if sp == nil {
					c.fail("%s: Service/%s/%s has no port named %q", id, svc.Namespace, svc.Name, ep.Port)
					continue
				}
				// The pods behind the Service must listen there and
				// Prometheus must be let in.
				for _, p := range c.podsOf(svc) {
					if !p.has(sp.TargetPort, corev1.ProtocolTCP) {
						c.fail("%s: %s does not listen on the Service's target port %s", id, p.owner, sp.TargetPort.String())
						continue
					}
					if !c.allows(p, prometheus, sp.TargetPort, corev1.ProtocolTCP, networkingv1.PolicyTypeIngress, append(universe, prometheus)) {
						c.fail("%s: the NetworkPolicies of %s keep Prometheus (namespace %s) from port %s", id, p.owner, MonitoringNamespace, sp.TargetPort.String())
					}
				}
			}
		}
	}
	for _, pm := range c.s.PodMonitors {
		id := "PodMonitor/" + pm.Namespace + "/" + pm.Name
		c.releaseLabel(id, pm.Labels)
		namespaces := monitorNamespaces(pm.Namespace, pm.Spec.NamespaceSelector)
		sel := selector(&pm.Spec.Selector)
		var pods []pod
		for _, p := range universe {
			if slices.Contains(namespaces, p.namespace) && sel.Matches(labels.Set(p.labels)) {
				pods = append(pods, p)
			}
		}
		if len(pods) == 0 {
			c.fail("%s: selects no pod in %s", id, strings.Join(namespaces, ", "))
			continue
		}
		for _, ep := range pm.Spec.PodMetricsEndpoints {
			var port intstr.IntOrString
			switch {
			case ep.Port != nil && *ep.Port != "":
				port = intstr.FromString(*ep.Port)
			case ep.PortNumber != nil:
				port = intstr.FromInt32(*ep.PortNumber)
			default:
				c.fail("%s: an endpoint without port or portNumber", id)
				continue
			}
			for _, p := range pods {
				if !p.has(port, corev1.ProtocolTCP) {
					c.fail("%s: %s has no port %s", id, p.owner, port.String())
					continue
				}
				if !c.allows(p, prometheus, port, corev1.ProtocolTCP, networkingv1.PolicyTypeIngress, append(universe, prometheus)) {
					c.fail("%s: the NetworkPolicies of %s keep Prometheus (namespace %s) from port %s", id, p.owner, MonitoringNamespace, port.String())
				}
			}
		}
	}
	for _, r := range c.s.PromRules {
		c.releaseLabel("PrometheusRule/"+r.Namespace+"/"+r.Name, r.Labels)
	}
	for _, cm := range c.s.ConfigMaps {
		if cm.Labels[DashboardLabel] == "" {
			continue
		}
		id := "ConfigMap/" + cm.Namespace + "/" + cm.Name
		if cm.Labels[DashboardLabel] != "1" {
			c.fail("%s: label %s must be \"1\" for Grafana's sidecar", id, DashboardLabel)
		}
		if len(cm.Data) != 1 {
			c.fail("%s: a dashboard ConfigMap holds one dashboard, found %d keys", id, len(cm.Data))
		}
		for k, v := range cm.Data {
			var d struct {
				UID   string `json:"uid"`
				Title string `json:"title"`
			}
			if !strings.HasSuffix(k, ".json") || json.Unmarshal([]byte(v), &d) != nil || d.UID == "" || d.Title == "" {
				c.fail("%s: %s is not a dashboard's JSON with a uid and a title", id, k)
			}
		}
	}
}

// releaseLabel checks the label kube-prometheus-stack's Prometheus
// selects monitors and rules by: without it they are silently ignored.
func (c *checker) releaseLabel(id string, ls map[string]string) {
	if ls[ReleaseLabel] != MonitoringRelease {
		c.fail("%s: label %s=%q, want %q: the Prometheus of the %s release ignores it", id, ReleaseLabel, ls[ReleaseLabel], MonitoringRelease, MonitoringRelease)
	}
}

// monitorNamespaces are the namespaces a monitor looks in: its own, or
// those its namespaceSelector names.
func monitorNamespaces(own string, ns monitoringv1.NamespaceSelector) []string {
	if len(ns.MatchNames) > 0 {
		return ns.MatchNames
	}
	return []string{own}
}

// podsOf are the pods a Service selects.
func (c *checker) podsOf(svc *corev1.Service) []pod {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []pod
	for _, p := range c.pods {
		if p.namespace == svc.Namespace && sel.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out
}
