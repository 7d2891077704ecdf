package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	trustv1alpha2 "github.com/cert-manager/trust-manager/pkg/apis/trustmanager/v1alpha2"
	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// Set is a rendered overlay, every object decoded into its upstream type.
type Set struct {
	Objects []Object

	Namespaces      []*corev1.Namespace
	ConfigMaps      []*corev1.ConfigMap
	Secrets         []*corev1.Secret
	ServiceAccounts []*corev1.ServiceAccount
	Services        []*corev1.Service
	Deployments     []*appsv1.Deployment
	Jobs            []*batchv1.Job
	Ingresses       []*networkingv1.Ingress
	NetworkPolicies []*networkingv1.NetworkPolicy
	PDBs            []*policyv1.PodDisruptionBudget
	Certificates    []*cmv1.Certificate
	ClusterIssuers  []*cmv1.ClusterIssuer
	Issuers         []*cmv1.Issuer
	ClusterBundles  []*trustv1alpha2.ClusterBundle
	PGClusters      []*cnpgv1.Cluster
	PGDatabases     []*cnpgv1.Database
	ServiceMonitors []*monitoringv1.ServiceMonitor
	PodMonitors     []*monitoringv1.PodMonitor
	PromRules       []*monitoringv1.PrometheusRule
}

// kinds maps apiVersion and kind to a function that decodes into the
// upstream type and files the result in the Set.
var kinds = map[string]func(s *Set, raw []byte) error{
	"v1/Namespace":      into(func(s *Set, o *corev1.Namespace) { s.Namespaces = append(s.Namespaces, o) }),
	"v1/ConfigMap":      into(func(s *Set, o *corev1.ConfigMap) { s.ConfigMaps = append(s.ConfigMaps, o) }),
	"v1/Secret":         into(func(s *Set, o *corev1.Secret) { s.Secrets = append(s.Secrets, o) }),
	"v1/ServiceAccount": into(func(s *Set, o *corev1.ServiceAccount) { s.ServiceAccounts = append(s.ServiceAccounts, o) }),
	"v1/Service":        into(func(s *Set, o *corev1.Service) { s.Services = append(s.Services, o) }),
	"apps/v1/Deployment": into(func(s *Set, o *appsv1.Deployment) {
		s.Deployments = append(s.Deployments, o)
	}),
	"batch/v1/Job": into(func(s *Set, o *batchv1.Job) { s.Jobs = append(s.Jobs, o) }),
	"networking.k8s.io/v1/Ingress": into(func(s *Set, o *networkingv1.Ingress) {
		s.Ingresses = append(s.Ingresses, o)
	}),
	"networking.k8s.io/v1/NetworkPolicy": into(func(s *Set, o *networkingv1.NetworkPolicy) {
		s.NetworkPolicies = append(s.NetworkPolicies, o)
	}),
	"policy/v1/PodDisruptionBudget": into(func(s *Set, o *policyv1.PodDisruptionBudget) {
		s.PDBs = append(s.PDBs, o)
	}),
	"cert-manager.io/v1/Certificate": into(func(s *Set, o *cmv1.Certificate) {
		s.Certificates = append(s.Certificates, o)
	}),
	"cert-manager.io/v1/ClusterIssuer": into(func(s *Set, o *cmv1.ClusterIssuer) {
		s.ClusterIssuers = append(s.ClusterIssuers, o)
	}),
	"cert-manager.io/v1/Issuer": into(func(s *Set, o *cmv1.Issuer) { s.Issuers = append(s.Issuers, o) }),
	"trust-manager.io/v1alpha2/ClusterBundle": into(func(s *Set, o *trustv1alpha2.ClusterBundle) {
		s.ClusterBundles = append(s.ClusterBundles, o)
	}),
	"postgresql.cnpg.io/v1/Cluster": into(func(s *Set, o *cnpgv1.Cluster) {
		s.PGClusters = append(s.PGClusters, o)
	}),
	"postgresql.cnpg.io/v1/Database": into(func(s *Set, o *cnpgv1.Database) {
		s.PGDatabases = append(s.PGDatabases, o)
	}),
	"monitoring.coreos.com/v1/ServiceMonitor": into(func(s *Set, o *monitoringv1.ServiceMonitor) {
		s.ServiceMonitors = append(s.ServiceMonitors, o)
	}),
	"monitoring.coreos.com/v1/PodMonitor": into(func(s *Set, o *monitoringv1.PodMonitor) {
		s.PodMonitors = append(s.PodMonitors, o)
	}),
	"monitoring.coreos.com/v1/PrometheusRule": into(func(s *Set, o *monitoringv1.PrometheusRule) {
		s.PromRules = append(s.PromRules, o)
	}),
}

func into[T any](add func(*Set, *T)) func(*Set, []byte) error {
	return func(s *Set, raw []byte) error {
		v := new(T)
		if err := DecodeStrict(raw, v); err != nil {
			return err
		}
		add(s, v)
		return nil
	}
}

// DecodeStrict decodes the JSON form of an object into v and fails on a
// field v's type does not have (anywhere in the tree) and on trailing data.
func DecodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the object")
	}
	return nil
}

// Decode strictly decodes every object into its upstream Go type. An
// object of a kind without a Go type here, or with a field its type does not
// have, is an error; all of them are reported.
func Decode(objs []Object) (*Set, error) {
	s := &Set{Objects: objs}
	var errs []error
	for _, o := range objs {
		decode, ok := kinds[o.APIVersion+"/"+o.Kind]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s %s has no Go type to check it against; add one to manifests.kinds", o.ID(), o.APIVersion, o.Kind))
			continue
		}
		raw, err := json.Marshal(o.Map)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.ID(), err))
			continue
		}
		if err := decode(s, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.ID(), err))
		}
	}
	return s, errors.Join(errs...)
}
