package manifests

import (
	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	batchv1 "k8s.io/api/batch/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

type (
	cmCertificate = cmv1.Certificate
	networkPolicy = networkingv1.NetworkPolicy
	batchJob      = batchv1.Job
)
