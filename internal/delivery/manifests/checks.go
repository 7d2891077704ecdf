package manifests

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	trustv1alpha2 "github.com/cert-manager/trust-manager/pkg/apis/trustmanager/v1alpha2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Policy says what an overlay must satisfy.
type Policy struct {
	// Production adds the production checks: images by digest, several
	// replicas and a PodDisruptionBudget per Deployment, default-deny
	// NetworkPolicies in every namespace.
	Production bool
	// External are the Secrets that exist without being rendered.
	External []ExternalSecret
}

// PolicyFor returns the policy of the dev or the prod overlay.
func PolicyFor(production bool) Policy {
	return Policy{Production: production, External: ExternalFor(production)}
}

// keyUsages are the values cert-manager's Certificate usages accept (its
// CRD's enum; the Go type is a plain string).
var keyUsages = []cmv1.KeyUsage{
	cmv1.UsageSigning, cmv1.UsageDigitalSignature, cmv1.UsageContentCommitment, cmv1.UsageKeyEncipherment,
	cmv1.UsageKeyAgreement, cmv1.UsageDataEncipherment, cmv1.UsageCertSign, cmv1.UsageCRLSign,
	cmv1.UsageEncipherOnly, cmv1.UsageDecipherOnly, cmv1.UsageAny, cmv1.UsageServerAuth, cmv1.UsageClientAuth,
	cmv1.UsageCodeSigning, cmv1.UsageEmailProtection, cmv1.UsageSMIME, cmv1.UsageIPsecEndSystem,
	cmv1.UsageIPsecTunnel, cmv1.UsageIPsecUser, cmv1.UsageTimestamping, cmv1.UsageOCSPSigning,
	cmv1.UsageMicrosoftSGC, cmv1.UsageNetscapeSGC,
}

// ClusterResourceNamespace is where cert-manager's ClusterIssuers read their
// CA Secrets and trust-manager reads its sources (its trust namespace).
const ClusterResourceNamespace = "cert-manager"

// Check cross-checks a decoded overlay and returns every problem found.
func Check(s *Set, p Policy) error {
	c := checker{s: s, p: p, pods: s.pods()}
	c.index()
	c.references()
	c.issuers()
	c.services()
	c.ingresses()
	c.networkPolicies()
	c.databases()
	c.monitoring()
	c.posture()
	if p.Production {
		c.production()
	}
	return errors.Join(c.errs...)
}

type checker struct {
	s    *Set
	p    Policy
	pods []pod
	errs []error
	// produced maps "Secret/ns/name" and "ConfigMap/ns/name" to their keys.
	produced map[string][]string
	// nsLabels are the labels of every namespace, with the label the API
	// server adds (kubernetes.io/metadata.name).
	nsLabels map[string]map[string]string
	used     map[string]bool // external Secrets that something references
}

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func (c *checker) index() {
	c.produced = map[string][]string{}
	c.used = map[string]bool{}
	c.nsLabels = map[string]map[string]string{}
	for _, ns := range knownNamespaces {
		c.nsLabels[ns] = map[string]string{corev1.LabelMetadataName: ns}
	}
	for _, ns := range c.s.Namespaces {
		l := map[string]string{corev1.LabelMetadataName: ns.Name}
		for k, v := range ns.Labels {
			l[k] = v
		}
		c.nsLabels[ns.Name] = l
	}
	add := func(kind, ns, name string, keys []string) {
		id := kind + "/" + ns + "/" + name
		if _, dup := c.produced[id]; dup {
			c.fail("%s is produced twice", id)
		}
		c.produced[id] = keys
	}
	for _, crt := range c.s.Certificates {
		add("Secret", crt.Namespace, crt.Spec.SecretName, []string{"tls.crt", "tls.key", "ca.crt"})
	}
	for _, sec := range c.s.Secrets {
		keys := slices.Collect(mapKeys(sec.Data))
		keys = append(keys, slices.Collect(mapKeys(sec.StringData))...)
		add("Secret", sec.Namespace, sec.Name, keys)
	}
	for _, cm := range c.s.ConfigMaps {
		keys := slices.Collect(mapKeys(cm.Data))
		keys = append(keys, slices.Collect(mapKeys(cm.BinaryData))...)
		add("ConfigMap", cm.Namespace, cm.Name, keys)
	}
	for _, b := range c.s.ClusterBundles {
		t := b.Spec.Target
		if t.NamespaceSelector == nil {
			c.fail("ClusterBundle/%s: target.namespaceSelector is required", b.Name)
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			c.fail("ClusterBundle/%s: %v", b.Name, err)
			continue
		}
		matched := 0
		for _, ns := range c.s.Namespaces {
			if !sel.Matches(labels.Set(c.nsLabels[ns.Name])) {
				continue
			}
			matched++
			if t.ConfigMap != nil {
				add("ConfigMap", ns.Name, b.Name, targetKeys(t.ConfigMap.Data))
			}
			if t.Secret != nil {
				add("Secret", ns.Name, b.Name, targetKeys(t.Secret.Data))
			}
		}
		if matched == 0 {
			c.fail("ClusterBundle/%s: its namespaceSelector matches no namespace", b.Name)
		}
	}
	for _, e := range c.p.External {
		add("Secret", e.Namespace, e.Name, e.Keys)
	}
}

// need records a reference to a Secret or ConfigMap (and one of its keys,
// when key is not empty).
func (c *checker) need(from, kind, ns, name, key string) {
	id := kind + "/" + ns + "/" + name
	keys, ok := c.produced[id]
	if !ok {
		c.fail("%s: needs %s, which no Certificate, ClusterBundle or manifest produces and which is not an external Secret", from, id)
		return
	}
	c.used[id] = true
	if key != "" && !slices.Contains(keys, key) {
		c.fail("%s: needs key %q of %s, which has %v", from, key, id, keys)
	}
}

// A path inside a mounted volume, in an environment value or an argument.
var mountedPath = regexp.MustCompile(`/etc/(?:groundwork|config)/[A-Za-z0-9._/-]+`)

// references checks that every Secret and ConfigMap something needs is
// produced, with the keys it needs, and that every external Secret is
// needed by something. The last check comes last: it reads what the others
// recorded.
func (c *checker) references() {
	sas := map[string]*corev1.ServiceAccount{}
	for _, sa := range c.s.ServiceAccounts {
		sas[sa.Namespace+"/"+sa.Name] = sa
	}
	for _, p := range c.pods {
		if p.spec != nil {
			c.podReferences(p, sas)
		}
	}
	for _, ing := range c.s.Ingresses {
		for _, t := range ing.Spec.TLS {
			c.need("Ingress/"+ing.Namespace+"/"+ing.Name, "Secret", ing.Namespace, t.SecretName, "tls.crt")
		}
	}
	c.pgClusterReferences()
	for _, ci := range c.s.ClusterIssuers {
		if ci.Spec.CA != nil {
			c.need("ClusterIssuer/"+ci.Name, "Secret", ClusterResourceNamespace, ci.Spec.CA.SecretName, "tls.key")
		}
	}
	for _, b := range c.s.ClusterBundles {
		for _, src := range b.Spec.SourceRefs {
			if src.Name == "" {
				c.fail("ClusterBundle/%s: a source by selector is not checked; name it", b.Name)
				continue
			}
			c.need("ClusterBundle/"+b.Name, src.Kind, ClusterResourceNamespace, src.Name, src.Key)
		}
	}
	for _, e := range c.p.External {
		if id := "Secret/" + e.Namespace + "/" + e.Name; !c.used[id] {
			c.fail("external Secret %s is listed but nothing uses it", id)
		}
	}
}

// podReferences checks what pod p needs: its ServiceAccount's and its own
// image pull Secrets, its volumes' sources, and each container's.
// sas are the ServiceAccounts by "namespace/name".
func (c *checker) podReferences(p pod, sas map[string]*corev1.ServiceAccount) {
	spec := p.spec
	if n := spec.ServiceAccountName; n != "" && n != "default" {
		sa, ok := sas[p.namespace+"/"+n]
		if !ok {
			c.fail("%s: ServiceAccount %s does not exist", p.owner, n)
		} else {
			for _, ps := range sa.ImagePullSecrets {
				c.need(p.owner+" (ServiceAccount "+n+")", "Secret", p.namespace, ps.Name, "")
			}
		}
	}
	for _, ps := range spec.ImagePullSecrets {
		c.need(p.owner, "Secret", p.namespace, ps.Name, "")
	}
	volumes := c.volumeReferences(p)
	for _, ct := range allContainers(spec) {
		c.containerReferences(p, ct, volumes)
	}
}

// volumeReferences checks the Secrets and ConfigMaps p's volumes are made
// of, and returns the volumes by name.
func (c *checker) volumeReferences(p pod) map[string]corev1.Volume {
	volumes := map[string]corev1.Volume{}
	for _, v := range p.spec.Volumes {
		volumes[v.Name] = v
		from := p.owner + " volume " + v.Name
		switch {
		case v.Secret != nil:
			c.need(from, "Secret", p.namespace, v.Secret.SecretName, "")
		case v.ConfigMap != nil:
			c.need(from, "ConfigMap", p.namespace, v.ConfigMap.Name, "")
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					c.need(from, "Secret", p.namespace, src.Secret.Name, "")
				}
				if src.ConfigMap != nil {
					c.need(from, "ConfigMap", p.namespace, src.ConfigMap.Name, "")
				}
			}
		}
	}
	return volumes
}

// containerReferences checks what container ct of pod p needs: the
// Secrets and ConfigMaps (and keys) of its environment, the files under a
// mounted volume that its arguments, command and environment name
// (mountedPath), and the volumes it mounts.
func (c *checker) containerReferences(p pod, ct *corev1.Container, volumes map[string]corev1.Volume) {
	from := p.owner + " container " + ct.Name
	for _, ef := range ct.EnvFrom {
		if ef.SecretRef != nil {
			c.need(from, "Secret", p.namespace, ef.SecretRef.Name, "")
		}
		if ef.ConfigMapRef != nil {
			c.need(from, "ConfigMap", p.namespace, ef.ConfigMapRef.Name, "")
		}
	}
	for _, e := range ct.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			c.need(from+" env "+e.Name, "Secret", p.namespace, r.Name, r.Key)
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			c.need(from+" env "+e.Name, "ConfigMap", p.namespace, r.Name, r.Key)
		}
	}
	for _, t := range c.containerTexts(p.namespace, ct) {
		for _, path := range mountedPath.FindAllString(t, -1) {
			c.mountedFile(from, p.namespace, ct, volumes, path)
		}
	}
	for _, m := range ct.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			c.fail("%s: mounts volume %s, which the pod does not have", from, m.Name)
		}
	}
}

// containerTexts are the texts of container ct, in namespace ns, that may
// name a mounted file: its arguments, its command, its environment's
// values, and the values of the ConfigMaps the manifests render that its
// environment comes from (Kratos's DSN).
func (c *checker) containerTexts(ns string, ct *corev1.Container) []string {
	texts := slices.Clone(ct.Args)
	texts = append(texts, ct.Command...)
	return append(texts, c.envTexts(ns, ct)...)
}

// pgClusterReferences checks the cert-manager Secrets each PostgreSQL
// Cluster serves and verifies certificates from: all four must be set.
func (c *checker) pgClusterReferences() {
	for _, cl := range c.s.PGClusters {
		from := "Cluster/" + cl.Namespace + "/" + cl.Name
		cert := cl.Spec.Certificates
		if cert == nil {
			c.fail("%s: spec.certificates is required: PostgreSQL serves and verifies certificates from cert-manager", from)
			continue
		}
		for _, r := range []struct{ name, key string }{
			{cert.ServerTLSSecret, "tls.key"}, {cert.ServerCASecret, "ca.crt"},
			{cert.ClientCASecret, "ca.crt"}, {cert.ReplicationTLSSecret, "tls.key"},
		} {
			if r.name == "" {
				c.fail("%s: every spec.certificates Secret must be set (no operator-generated CA)", from)
				continue
			}
			c.need(from, "Secret", cl.Namespace, r.name, r.key)
		}
	}
}

// mountedFile checks that path is inside a volume mount of the container
// and names a key of the mounted Secret or ConfigMap.
func (c *checker) mountedFile(from, ns string, ct *corev1.Container, volumes map[string]corev1.Volume, path string) {
	for _, m := range ct.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if !strings.HasPrefix(path, dir) {
			continue
		}
		file := strings.TrimPrefix(path, dir)
		v := volumes[m.Name]
		switch {
		case v.Secret != nil:
			c.need(from+" file "+path, "Secret", ns, v.Secret.SecretName, file)
		case v.ConfigMap != nil:
			c.need(from+" file "+path, "ConfigMap", ns, v.ConfigMap.Name, file)
		}
		return
	}
	c.fail("%s: uses %s, but no volume is mounted there", from, path)
}

func (c *checker) issuers() {
	cluster := map[string]bool{}
	for _, ci := range c.s.ClusterIssuers {
		cluster[ci.Name] = true
		if ci.Spec.CA != nil {
			ok := false
			for _, crt := range c.s.Certificates {
				if crt.Namespace == ClusterResourceNamespace && crt.Spec.SecretName == ci.Spec.CA.SecretName && crt.Spec.IsCA {
					ok = true
				}
			}
			if !ok {
				c.fail("ClusterIssuer/%s: its CA Secret %s is not made by a CA Certificate in %s", ci.Name, ci.Spec.CA.SecretName, ClusterResourceNamespace)
			}
		}
	}
	ns := map[string]bool{}
	for _, is := range c.s.Issuers {
		ns[is.Namespace+"/"+is.Name] = true
	}
	for _, crt := range c.s.Certificates {
		ref := crt.Spec.IssuerRef
		id := "Certificate/" + crt.Namespace + "/" + crt.Name
		if ref.Group != "" && ref.Group != "cert-manager.io" {
			c.fail("%s: issuerRef group %s is not cert-manager's", id, ref.Group)
			continue
		}
		switch ref.Kind {
		case "ClusterIssuer":
			if !cluster[ref.Name] {
				c.fail("%s: issuerRef ClusterIssuer %s does not exist", id, ref.Name)
			}
		case "", "Issuer":
			if !ns[crt.Namespace+"/"+ref.Name] {
				c.fail("%s: issuerRef Issuer %s/%s does not exist", id, crt.Namespace, ref.Name)
			}
		default:
			c.fail("%s: issuerRef kind %s is unknown", id, ref.Kind)
		}
		for _, u := range crt.Spec.Usages {
			if !slices.Contains(keyUsages, u) {
				c.fail("%s: usage %q is not one cert-manager knows", id, u)
			}
		}
		if pk := crt.Spec.PrivateKey; pk != nil && !slices.Contains([]cmv1.PrivateKeyAlgorithm{cmv1.RSAKeyAlgorithm, cmv1.ECDSAKeyAlgorithm, cmv1.Ed25519KeyAlgorithm}, pk.Algorithm) {
			c.fail("%s: privateKey algorithm %q is not one cert-manager knows", id, pk.Algorithm)
		}
		if crt.Spec.IsCA && crt.Namespace != ClusterResourceNamespace {
			c.fail("%s: a CA Certificate belongs in %s, where its CA ClusterIssuer reads it", id, ClusterResourceNamespace)
		}
	}
}

func (c *checker) services() {
	for _, svc := range c.s.Services {
		id := "Service/" + svc.Namespace + "/" + svc.Name
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			c.externalName(id, svc)
			continue
		}
		if len(svc.Spec.Selector) == 0 {
			c.fail("%s: has no selector", id)
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var matched []pod
		for _, p := range c.pods {
			if p.namespace == svc.Namespace && p.kind == "Deployment" && sel.Matches(labels.Set(p.labels)) {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			c.fail("%s: selector %v matches no pod template", id, svc.Spec.Selector)
			continue
		}
		for _, sp := range svc.Spec.Ports {
			target := sp.TargetPort
			if target.IntVal == 0 && target.StrVal == "" {
				target.IntVal = sp.Port
			}
			for _, p := range matched {
				if !p.has(target, sp.Protocol) {
					c.fail("%s: port %s targets %s, which %s does not listen on", id, sp.Name, target.String(), p.owner)
				}
			}
		}
	}
}

// externalName checks that an ExternalName Service points at a Service of
// these manifests (<name>.<namespace>.svc.cluster.local) with its ports.
func (c *checker) externalName(id string, svc *corev1.Service) {
	name, ns, ok := strings.Cut(strings.TrimSuffix(svc.Spec.ExternalName, ".svc.cluster.local"), ".")
	if !ok || !strings.HasSuffix(svc.Spec.ExternalName, ".svc.cluster.local") {
		c.fail("%s: externalName %s is not a Service of the cluster", id, svc.Spec.ExternalName)
		return
	}
	for _, target := range c.s.Services {
		if target.Name != name || target.Namespace != ns {
			continue
		}
		for _, p := range svc.Spec.Ports {
			found := false
			for _, tp := range target.Spec.Ports {
				found = found || tp.Port == p.Port
			}
			if !found {
				c.fail("%s: Service %s/%s has no port %d", id, ns, name, p.Port)
			}
		}
		return
	}
	c.fail("%s: points at Service %s/%s, which does not exist", id, ns, name)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !yield(k) {
				return
			}
		}
	}
}

func targetKeys(ts []trustv1alpha2.TargetKeyValue) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Key)
	}
	return out
}
