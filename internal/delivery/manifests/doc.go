// Package manifests renders the kustomize overlays under k8s/ and checks
// them offline, the way a cluster would judge them and then some.
//
// Render runs kustomize's Go API (sigs.k8s.io/kustomize/api/krusty) on an
// overlay. Decode strictly decodes every rendered object into its upstream
// Go type — k8s.io/api, cert-manager, trust-manager, CloudNativePG — and
// fails on an unknown kind or an unknown field, so a typo or a field the
// pinned operator version does not know is caught here rather than by the
// API server. Check then cross-checks the whole set:
//
//   - every Secret and ConfigMap a pod mounts or reads is produced by a
//     Certificate, a trust-manager ClusterBundle or a manifest, or is one of
//     the Secrets an operator creates by hand (External); every file path a
//     container is given under a mount is a key of that object;
//   - every issuerRef names an issuer that exists, every usage is one
//     cert-manager knows;
//   - every PostgreSQL URL a container gets would connect as dbconn and
//     PostgreSQL require: verify-full to a name in the server's certificate,
//     a client certificate whose CN is the role from the CA PostgreSQL
//     trusts, that CA's bundle as sslrootcert, a managed LOGIN role without
//     a password, and a `hostssl <db> <role> ... cert` pg_hba line;
//   - every Service selects pods, and its target ports exist on them;
//   - every Ingress backend exists and the public routes equal WebRoutes;
//   - every NetworkPolicy selects pods, allows only ports those pods (or the
//     destination pods) listen on, and every allowed egress has a matching
//     ingress allow on the other side;
//   - for production: images by digest, the security posture on every
//     container, probes, several replicas and a PodDisruptionBudget for each
//     Deployment.
//
// Stages orders objects for applying: namespaces, then configuration and
// certificates, then the database, then the migration Jobs, which must
// complete before the Deployments roll out. Pin pins images to digests and
// names each Job after its pod template, so every release runs its own.
package manifests
