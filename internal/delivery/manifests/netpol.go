package manifests

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func selector(ls *metav1.LabelSelector) labels.Selector {
	if ls == nil {
		return labels.Everything()
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

// peerPods returns the pods a NetworkPolicy peer (in a policy of namespace
// ns) matches; ipBlock peers match none.
func (c *checker) peerPods(ns string, peer networkingv1.NetworkPolicyPeer, universe []pod) []pod {
	if peer.IPBlock != nil {
		return nil
	}
	podSel := selector(peer.PodSelector)
	var out []pod
	for _, p := range universe {
		if peer.NamespaceSelector == nil {
			if p.namespace != ns {
				continue
			}
		} else if !selector(peer.NamespaceSelector).Matches(labels.Set(c.nsLabels[p.namespace])) {
			continue
		}
		if podSel.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out
}

func anyHas(pods []pod, port *intstr.IntOrString, proto *corev1.Protocol) bool {
	var pr corev1.Protocol
	if proto != nil {
		pr = *proto
	}
	for _, p := range pods {
		if p.has(*port, pr) {
			return true
		}
	}
	return false
}

func (c *checker) selected(np *networkingv1.NetworkPolicy, universe []pod) []pod {
	sel := selector(&np.Spec.PodSelector)
	var out []pod
	for _, p := range universe {
		if p.namespace == np.Namespace && sel.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out
}

func hasType(np *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	for _, pt := range np.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

// allows reports whether the policies of pod self's namespace let traffic
// between self and other on port pass in direction t (Ingress: other ->
// self). A pod no policy of that type selects is not isolated.
func (c *checker) allows(self, other pod, port intstr.IntOrString, proto corev1.Protocol, t networkingv1.PolicyType, universe []pod) bool {
	isolated := false
	for _, np := range c.s.NetworkPolicies {
		if np.Namespace != self.namespace || !hasType(np, t) || !selector(&np.Spec.PodSelector).Matches(labels.Set(self.labels)) {
			continue
		}
		isolated = true
		type rule struct {
			peers []networkingv1.NetworkPolicyPeer
			ports []networkingv1.NetworkPolicyPort
		}
		var rules []rule
		if t == networkingv1.PolicyTypeIngress {
			for _, r := range np.Spec.Ingress {
				rules = append(rules, rule{r.From, r.Ports})
			}
		} else {
			for _, r := range np.Spec.Egress {
				rules = append(rules, rule{r.To, r.Ports})
			}
		}
		for _, r := range rules {
			if !c.peerMatches(np.Namespace, r.peers, other, universe) {
				continue
			}
			if len(r.ports) == 0 {
				return true
			}
			for _, p := range r.ports {
				pr := corev1.ProtocolTCP
				if p.Protocol != nil {
					pr = *p.Protocol
				}
				if p.Port == nil || (pr == proto && samePort(*p.Port, port, other, self, t)) {
					return true
				}
			}
		}
	}
	return !isolated
}

// samePort compares a policy's port with the port traffic goes to; a named
// port is resolved on the pod that listens (self for ingress, other for
// egress).
func samePort(policyPort, port intstr.IntOrString, other, self pod, t networkingv1.PolicyType) bool {
	listener := other
	if t == networkingv1.PolicyTypeIngress {
		listener = self
	}
	resolve := func(p intstr.IntOrString) int32 {
		if p.Type == intstr.Int {
			return p.IntVal
		}
		for _, pp := range listener.ports {
			if pp.name == p.StrVal {
				return pp.number
			}
		}
		return -1
	}
	return resolve(policyPort) == resolve(port)
}

func (c *checker) peerMatches(ns string, peers []networkingv1.NetworkPolicyPeer, other pod, universe []pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		for _, p := range c.peerPods(ns, peer, universe) {
			if p.owner == other.owner && p.namespace == other.namespace {
				return true
			}
		}
	}
	return false
}

func (c *checker) networkPolicies() {
	universe := append(append([]pod(nil), c.pods...), knownPods...)
	denyAll := map[string]bool{}
	for _, np := range c.s.NetworkPolicies {
		id := "NetworkPolicy/" + np.Namespace + "/" + np.Name
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) == 0 &&
			hasType(np, networkingv1.PolicyTypeIngress) && hasType(np, networkingv1.PolicyTypeEgress) &&
			len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 {
			denyAll[np.Namespace] = true
			continue
		}
		selected := c.selected(np, universe)
		if len(selected) == 0 {
			c.fail("%s: selects no pod", id)
			continue
		}
		for _, r := range np.Spec.Ingress {
			for _, peer := range r.From {
				if peer.IPBlock == nil && len(c.peerPods(np.Namespace, peer, universe)) == 0 {
					c.fail("%s: an ingress peer matches no pod", id)
				}
			}
			for _, p := range r.Ports {
				if p.Port == nil {
					continue
				}
				if !anyHas(selected, p.Port, p.Protocol) {
					c.fail("%s: allows ingress on port %s, which none of its pods listens on", id, p.Port.String())
				}
				// The other side must be allowed to send it.
				for _, peer := range r.From {
					for _, src := range c.peerPods(np.Namespace, peer, universe) {
						for _, dst := range selected {
							if dst.has(*p.Port, protoOf(p.Protocol)) && !c.allows(src, dst, *p.Port, protoOf(p.Protocol), networkingv1.PolicyTypeEgress, universe) {
								c.fail("%s: allows %s -> %s on %s, but no egress policy of %s lets it out", id, src.owner, dst.owner, p.Port.String(), src.owner)
							}
						}
					}
				}
			}
		}
		for _, r := range np.Spec.Egress {
			for _, peer := range r.To {
				dsts := c.peerPods(np.Namespace, peer, universe)
				if peer.IPBlock != nil {
					continue
				}
				if len(dsts) == 0 {
					c.fail("%s: an egress peer matches no pod", id)
					continue
				}
				for _, p := range r.Ports {
					if p.Port == nil {
						continue
					}
					if !anyHas(dsts, p.Port, p.Protocol) {
						c.fail("%s: allows egress to port %s, which none of the destination pods listens on", id, p.Port.String())
						continue
					}
					for _, src := range selected {
						for _, dst := range dsts {
							if dst.has(*p.Port, protoOf(p.Protocol)) && !c.allows(dst, src, *p.Port, protoOf(p.Protocol), networkingv1.PolicyTypeIngress, universe) {
								c.fail("%s: allows %s -> %s on %s, but no ingress policy of %s lets it in", id, src.owner, dst.owner, p.Port.String(), dst.owner)
							}
						}
					}
				}
			}
		}
	}
	if c.p.Production {
		for _, ns := range c.s.Namespaces {
			if !denyAll[ns.Name] {
				c.fail("namespace %s has no default-deny NetworkPolicy", ns.Name)
			}
		}
	}
}

func protoOf(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP
	}
	return *p
}
