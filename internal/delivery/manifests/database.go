package manifests

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	corev1 "k8s.io/api/core/v1"
)

// A PostgreSQL URL in an environment value.
var postgresURL = regexp.MustCompile(`postgres(?:ql)?://[^\s"']+`)

// databases checks every PostgreSQL URL a container is given against the
// cluster it names, the way internal/shared/dbconn and PostgreSQL would: sslmode
// verify-full; the host is a name in the server's certificate; the client
// certificate's CN is the URL's role, issued by the CA PostgreSQL trusts;
// sslrootcert is that CA's bundle; the role is a managed LOGIN role without
// a password; a `hostssl <db> <role> ... cert` line lets it in.
func (c *checker) databases() {
	certs := map[string]*cmv1.Certificate{} // ns/secretName
	for _, crt := range c.s.Certificates {
		certs[crt.Namespace+"/"+crt.Spec.SecretName] = crt
	}
	bundles := map[string]string{} // bundle (ConfigMap) name -> source Secret
	for _, b := range c.s.ClusterBundles {
		for _, src := range b.Spec.SourceRefs {
			bundles[b.Name] = src.Name
		}
	}
	for _, p := range c.pods {
		if p.spec == nil {
			continue
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range p.spec.Volumes {
			volumes[v.Name] = v
		}
		for _, ct := range allContainers(p.spec) {
			for _, text := range c.envTexts(p.namespace, ct) {
				for _, raw := range postgresURL.FindAllString(text, -1) {
					c.database(p.owner+" container "+ct.Name, p.namespace, ct, volumes, raw, certs, bundles)
				}
			}
		}
	}
}

// envTexts returns a container's environment values, those of the
// ConfigMaps it takes its environment from included.
func (c *checker) envTexts(ns string, ct *corev1.Container) []string {
	var out []string
	for _, e := range ct.Env {
		out = append(out, e.Value)
	}
	for _, ef := range ct.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		for _, cm := range c.s.ConfigMaps {
			if cm.Namespace == ns && cm.Name == ef.ConfigMapRef.Name {
				for _, k := range slices.Sorted(mapKeys(cm.Data)) {
					out = append(out, cm.Data[k])
				}
			}
		}
	}
	return out
}

// mountSource returns the Secret or ConfigMap mounted where path is.
func mountSource(ct *corev1.Container, volumes map[string]corev1.Volume, path string) (kind, name string) {
	for _, m := range ct.VolumeMounts {
		if !strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			continue
		}
		v := volumes[m.Name]
		switch {
		case v.Secret != nil:
			return "Secret", v.Secret.SecretName
		case v.ConfigMap != nil:
			return "ConfigMap", v.ConfigMap.Name
		}
	}
	return "", ""
}

func (c *checker) database(from, ns string, ct *corev1.Container, volumes map[string]corev1.Volume,
	raw string, certs map[string]*cmv1.Certificate, bundles map[string]string) {
	u, err := url.Parse(raw)
	if err != nil {
		c.fail("%s: database URL: %v", from, err)
		return
	}
	from += " database URL " + u.Redacted()
	role, db := u.User.Username(), strings.TrimPrefix(u.Path, "/")
	if _, hasPassword := u.User.Password(); hasPassword {
		c.fail("%s: has a password; roles log in with certificates only", from)
	}
	q := u.Query()
	if q.Get("sslmode") != "verify-full" {
		c.fail("%s: sslmode is %q, must be verify-full", from, q.Get("sslmode"))
	}
	// The cluster it names: <cluster>-rw.<namespace>.svc...
	host := u.Hostname()
	var cluster *cnpgv1.Cluster
	for _, cl := range c.s.PGClusters {
		for _, svc := range []string{"-rw", "-ro", "-r"} {
			if strings.HasPrefix(host, cl.Name+svc+"."+cl.Namespace+".") || host == cl.Name+svc+"."+cl.Namespace {
				cluster = cl
			}
		}
	}
	if cluster == nil {
		c.fail("%s: host %s is no Service of a PostgreSQL Cluster here", from, host)
		return
	}
	var serverCert *cmv1.Certificate
	if cluster.Spec.Certificates != nil {
		serverCert = certs[cluster.Namespace+"/"+cluster.Spec.Certificates.ServerTLSSecret]
	}
	if serverCert == nil {
		c.fail("%s: the Cluster's server certificate is not a Certificate here", from)
		return
	}
	if !slices.Contains(serverCert.Spec.DNSNames, host) {
		c.fail("%s: host %s is not in %s's dnsNames (verify-full would fail)", from, host, serverCert.Name)
	}
	ca := serverCert.Spec.IssuerRef.Name
	// The client certificate: CN = role, from the CA PostgreSQL trusts.
	if kind, name := mountSource(ct, volumes, q.Get("sslcert")); kind != "Secret" {
		c.fail("%s: sslcert %s is not in a mounted Secret", from, q.Get("sslcert"))
	} else if crt := certs[ns+"/"+name]; crt == nil {
		c.fail("%s: sslcert's Secret %s is not made by a Certificate", from, name)
	} else {
		if crt.Spec.CommonName != role {
			c.fail("%s: the client certificate %s has CN %q, the role is %q", from, name, crt.Spec.CommonName, role)
		}
		if crt.Spec.IssuerRef.Name != ca {
			c.fail("%s: the client certificate %s is issued by %s, PostgreSQL trusts %s", from, name, crt.Spec.IssuerRef.Name, ca)
		}
		if !slices.Contains(crt.Spec.Usages, cmv1.UsageClientAuth) {
			c.fail("%s: the client certificate %s is not for client auth", from, name)
		}
	}
	if kind, name := mountSource(ct, volumes, q.Get("sslkey")); kind != "Secret" || !strings.HasPrefix(q.Get("sslkey"), strings.TrimSuffix(q.Get("sslcert"), "tls.crt")) {
		c.fail("%s: sslkey %s is not the key beside sslcert (%s %s)", from, q.Get("sslkey"), kind, name)
	}
	if kind, name := mountSource(ct, volumes, q.Get("sslrootcert")); kind != "ConfigMap" || bundles[name] != ca {
		c.fail("%s: sslrootcert %s is not the bundle of %s, the CA of the server's certificate", from, q.Get("sslrootcert"), ca)
	}
	// The role and pg_hba.
	found := false
	for _, r := range managedRoles(cluster) {
		if r.Name == role {
			found = true
			if !r.Login || !r.DisablePassword || r.PasswordSecret != nil || r.Superuser {
				c.fail("%s: role %s must be a managed LOGIN role without a password (disablePassword), not superuser", from, role)
			}
		}
	}
	if !found {
		c.fail("%s: role %s is not a managed role of Cluster %s", from, role, cluster.Name)
	}
	if !hbaAllows(cluster.Spec.PostgresConfiguration.PgHBA, db, role) {
		c.fail("%s: no `hostssl %s %s <addr> cert` line in Cluster %s's pg_hba before a reject", from, db, role, cluster.Name)
	}
}

func managedRoles(cl *cnpgv1.Cluster) []cnpgv1.RoleConfiguration {
	if cl.Spec.Managed == nil {
		return nil
	}
	return cl.Spec.Managed.Roles
}

// hbaAllows reports whether the first pg_hba line that matches a TCP
// connection to db as role is `hostssl db role <addr> cert`.
func hbaAllows(lines []string, db, role string) bool {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 5 || (f[0] != "host" && f[0] != "hostssl") {
			continue
		}
		if (f[1] != db && f[1] != "all") || (f[2] != role && f[2] != "all") {
			continue
		}
		return f[0] == "hostssl" && f[1] == db && f[2] == role && f[4] == "cert"
	}
	return false
}
